"""A local fake of Slack's Web API for slack-sdk's real WebClient (base_url = `fake.url`).

A threaded http.server on 127.0.0.1 with an ephemeral port. It implements the methods the
runbook uses (conversations.create, conversations.invite, conversations.open, chat.postMessage,
chat.update) with Slack's rules that matter here (channel names, name_taken,
already_in_channel, channel and message lookups; a direct message to a user id lands in the
bot's DM with that user, ``D...``, opened on first use as Slack does), records every request,
and can be told to answer the next calls of a method with a rate limit (429 + Retry-After), an
error code, or an HTTP 5xx.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest

CHANNEL_NAME = re.compile(r"^[a-z0-9_-]{1,80}$")
USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
BOT_USER = "UBOT0001"


@dataclass(frozen=True)
class Request:
    """One call as the fake saw it."""

    method: str
    auth: str | None
    body: dict[str, Any]
    content_type: str
    at: float  # time.monotonic() on arrival


@dataclass(frozen=True)
class _Fault:
    status: int
    error: str
    retry_after: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Channel:
    id: str
    name: str
    members: set[str] = field(default_factory=set)
    messages: list[dict[str, Any]] = field(default_factory=list)


class FakeSlackApi:
    """The fake's state and its scripting knobs; `serve()` runs it in a daemon thread."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.channels: dict[str, Channel] = {}
        self.dms: dict[str, Channel] = {}
        """User id -> the bot's direct-message conversation with that user."""
        self.taken_names: set[str] = set()
        self.unknown_users: set[str] = set()
        self.valid_tokens: set[str] | None = None  # None: any `Bearer xox...` token
        self._faults: dict[str, deque[_Fault]] = {}
        self._lock = threading.Lock()
        self._messages = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/"
        self._thread: threading.Thread | None = None

    # -- scripting ---------------------------------------------------------------------------
    def take_names(self, *names: str) -> None:
        """Names conversations.create answers `name_taken` for (another team's channels)."""
        self.taken_names.update(names)

    def add_channel(self, name: str, channel_id: str | None = None) -> Channel:
        """A channel that exists before the test (e.g. one an earlier step opened)."""
        with self._lock:
            channel = Channel(
                id=channel_id or f"C{len(self.channels) + 1:08d}", name=name, members={BOT_USER}
            )
            self.channels[channel.id] = channel
            return channel

    def rate_limit(self, method: str, retry_after: int = 1, times: int = 1) -> None:
        """Answer the next `times` calls of `method` with 429 and `Retry-After`."""
        self._add(method, _Fault(429, "ratelimited", retry_after), times)

    def fail(self, method: str, error: str, times: int = 1, **extra: Any) -> None:
        """Answer the next `times` calls with HTTP 200 `{"ok": false, "error": error, **extra}`."""
        self._add(method, _Fault(200, error, extra=extra), times)

    def server_error(self, method: str, status: int = 500, times: int = 1) -> None:
        """Answer the next `times` calls with an HTTP 5xx and a non-JSON body, as Slack's edge
        does."""
        self._add(method, _Fault(status, ""), times)

    def _add(self, method: str, fault: _Fault, times: int) -> None:
        with self._lock:
            self._faults.setdefault(method, deque()).extend([fault] * times)

    # -- inspection --------------------------------------------------------------------------
    def calls(self, method: str) -> list[dict[str, Any]]:
        """The calls of `method` as `{"method", "auth", "body", "at"}` dicts, oldest first."""
        with self._lock:
            return [
                {"method": r.method, "auth": r.auth, "body": r.body, "at": r.at}
                for r in self.requests
                if r.method == method
            ]

    def channel_named(self, name: str) -> Channel | None:
        with self._lock:
            return next((c for c in self.channels.values() if c.name == name), None)

    def direct_messages(self, user: str) -> list[dict[str, Any]]:
        """What the bot sent ``user`` directly (``[]`` if it never opened a DM with them)."""
        with self._lock:
            dm = self.dms.get(user)
            return list(dm.messages) if dm is not None else []

    def raw_traffic(self) -> str:
        """Every recorded request as text (to check what left the process)."""
        with self._lock:
            return "\n".join(f"{r.method} {r.auth} {json.dumps(r.body)}" for r in self.requests)

    # -- lifecycle ---------------------------------------------------------------------------
    def serve(self) -> FakeSlackApi:
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- the API -----------------------------------------------------------------------------
    def answer(self, request: Request) -> tuple[int, dict[str, str], bytes]:
        """(status, headers, body) for one request; state changes under the lock."""
        with self._lock:
            self.requests.append(request)
            queue = self._faults.get(request.method)
            fault = queue.popleft() if queue else None
            if fault is not None:
                return _fault_response(fault)
            if not self._authorised(request.auth):
                error = "not_authed" if not request.auth else "invalid_auth"
                return _json(200, {"ok": False, "error": error})
            method = _METHODS.get(request.method)
            if method is None:
                return _json(200, {"ok": False, "error": "unknown_method"})
            return _json(200, method(self, request.body))

    def _authorised(self, auth: str | None) -> bool:
        if not auth or not auth.startswith("Bearer "):
            return False
        token = auth.removeprefix("Bearer ")
        return token.startswith("xox") if self.valid_tokens is None else token in self.valid_tokens

    def _next_ts(self) -> str:
        self._messages += 1
        return f"1714572187.{self._messages:06d}"

    def _conversations_create(self, body: dict[str, Any]) -> dict[str, Any]:
        name = str(body.get("name", ""))
        if not name:
            return {"ok": False, "error": "invalid_name_required"}
        if len(name) > 80:
            return {"ok": False, "error": "invalid_name_maxlength"}
        if not CHANNEL_NAME.fullmatch(name):
            return {"ok": False, "error": "invalid_name_specials"}
        if name in self.taken_names or any(c.name == name for c in self.channels.values()):
            return {"ok": False, "error": "name_taken"}
        channel = Channel(id=f"C{len(self.channels) + 1:08d}", name=name, members={BOT_USER})
        self.channels[channel.id] = channel
        return {
            "ok": True,
            "channel": {"id": channel.id, "name": name, "is_channel": True, "creator": BOT_USER},
        }

    def _conversations_invite(self, body: dict[str, Any]) -> dict[str, Any]:
        channel = self.channels.get(str(body.get("channel", "")))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        users = [u for u in str(body.get("users", "")).split(",") if u]
        if not users:
            return {"ok": False, "error": "no_user"}
        errors = []
        for user in users:
            if user == BOT_USER:
                errors.append({"user": user, "ok": False, "error": "cant_invite_self"})
            elif user in self.unknown_users or not USER_ID.fullmatch(user):
                errors.append({"user": user, "ok": False, "error": "user_not_found"})
            elif user in channel.members:
                errors.append({"user": user, "ok": False, "error": "already_in_channel"})
        force = str(body.get("force", "")).lower() in {"1", "true"}
        failed = {e["user"] for e in errors}
        if errors and (not force or failed >= set(users)):
            return {"ok": False, "error": errors[0]["error"], "errors": errors}
        channel.members.update(u for u in users if u not in failed)
        answer: dict[str, Any] = {"ok": True, "channel": {"id": channel.id, "name": channel.name}}
        if errors:
            answer["errors"] = errors
        return answer

    def _dm(self, user: str) -> Channel | None:
        """The DM with ``user``, opened if need be; ``None`` for a user Slack doesn't know."""
        if user in self.unknown_users or not USER_ID.fullmatch(user) or user == BOT_USER:
            return None
        if user not in self.dms:
            dm = Channel(id=f"D{len(self.dms) + 1:08d}", name=user, members={BOT_USER, user})
            self.dms[user] = dm
            self.channels[dm.id] = dm
        return self.dms[user]

    def _conversations_open(self, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("channel"):
            channel = self.channels.get(str(body["channel"]))
            if channel is None:
                return {"ok": False, "error": "channel_not_found"}
            return {"ok": True, "no_op": True, "already_open": True, "channel": {"id": channel.id}}
        users = [u for u in str(body.get("users", "")).split(",") if u]
        if not users:
            return {"ok": False, "error": "users_list_not_supplied"}
        if len(users) > 1:  # a multi-person DM: not something the runbook opens
            return {"ok": False, "error": "not_implemented_in_fake"}
        existed = users[0] in self.dms
        dm = self._dm(users[0])
        if dm is None:
            return {"ok": False, "error": "user_not_found"}
        answer: dict[str, Any] = {"ok": True, "channel": {"id": dm.id}}
        if existed:
            answer.update({"no_op": True, "already_open": True})
        return answer

    def _chat_post_message(self, body: dict[str, Any]) -> dict[str, Any]:
        target = str(body.get("channel", ""))
        channel = self.channels.get(target)
        if channel is None and USER_ID.fullmatch(target):
            channel = self._dm(target)  # posting to a user id: the bot's DM with them
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        blocks = body.get("blocks")
        if not body.get("text") and not blocks:
            return {"ok": False, "error": "no_text"}
        if blocks is not None and (not isinstance(blocks, list) or len(blocks) > 50):
            return {"ok": False, "error": "invalid_blocks"}
        message = {"ts": self._next_ts(), "text": body.get("text", ""), "blocks": blocks}
        channel.messages.append(message)
        return {"ok": True, "channel": channel.id, "ts": message["ts"], "message": message}

    def _chat_update(self, body: dict[str, Any]) -> dict[str, Any]:
        channel = self.channels.get(str(body.get("channel", "")))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        message = next((m for m in channel.messages if m["ts"] == body.get("ts")), None)
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        message.update({k: body[k] for k in ("text", "blocks") if k in body})
        return {"ok": True, "channel": channel.id, "ts": message["ts"], "text": message["text"]}


_METHODS = {
    "conversations.create": FakeSlackApi._conversations_create,
    "conversations.invite": FakeSlackApi._conversations_invite,
    "conversations.open": FakeSlackApi._conversations_open,
    "chat.postMessage": FakeSlackApi._chat_post_message,
    "chat.update": FakeSlackApi._chat_update,
}


def _json(status: int, payload: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json; charset=utf-8"}, json.dumps(payload).encode()


def _fault_response(fault: _Fault) -> tuple[int, dict[str, str], bytes]:
    if fault.status == 429:
        status, headers, body = _json(429, {"ok": False, "error": "ratelimited"})
        headers["Retry-After"] = str(fault.retry_after)
        return status, headers, body
    if fault.status >= 500:
        return fault.status, {"Content-Type": "text/html"}, b"<html>upstream error</html>"
    return _json(fault.status, {"ok": False, "error": fault.error, **fault.extra})


def _parse_body(raw: bytes, content_type: str) -> dict[str, Any]:
    text = raw.decode("utf-8")
    if "json" in content_type:
        value = json.loads(text or "{}")
        return value if isinstance(value, dict) else {"_": value}
    return {key: values[0] for key, values in parse_qs(text).items()}


def _handler(fake: FakeSlackApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            content_type = self.headers.get("Content-Type", "")
            request = Request(
                method=self.path.split("?", 1)[0].rsplit("/", 1)[-1],
                auth=self.headers.get("Authorization"),
                body=_parse_body(raw, content_type),
                content_type=content_type,
                at=time.monotonic(),
            )
            status, headers, body = fake.answer(request)
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def fake_slack() -> Iterator[FakeSlackApi]:
    """A running fake Slack; point SLACK_API_URL at `fake_slack.url`."""
    fake = FakeSlackApi().serve()
    yield fake
    fake.close()
