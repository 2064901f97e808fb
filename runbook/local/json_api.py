"""Answering AWS JSON-protocol operations that moto lacks, in the emulator's own code.

OpsCenter and Automation (opscenter.py, automation.py) are operations of SSM, a service moto
does implement, so they cannot get a dispatcher of their own the way AWS Health does
(health.py): a ``JsonApi`` answers its operations in front of moto and lets every other request
through. One object serves both ways a client reaches moto:

- ``middleware(app)``: a WSGI layer in front of moto's server (the emulator, any client);
- ``in_moto(response_class)``: the same operations on moto's response class, for tests that run
  moto in-process (``mock_aws``), where no HTTP server exists.

An operation is a method taking the request body (a dict) and a ``Caller`` and returning the
response body; it raises ``ApiError`` for the documented errors, whose body carries the
modelled members (``OpsItemId`` of OpsItemAlreadyExistsException, ...) as botocore parses them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import logging
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from moto.core import DEFAULT_ACCOUNT_ID

LOGGER = logging.getLogger(__name__)
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Operation = Callable[[dict[str, Any], "Caller"], dict[str, Any]]
T = TypeVar("T")

_SCOPE = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")


class ApiError(Exception):
    """A documented error of the operation: ``code`` is its ``__type``, ``fields`` the members
    its shape models besides ``Message``."""

    def __init__(self, code: str, message: str, status: int = 400, **fields: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.fields = fields

    def body(self) -> dict[str, Any]:
        return {"__type": self.code, "Message": self.message, **self.fields}


@dataclass(frozen=True)
class Caller:
    """Who called: the account moto maps the access key to, and the signing region."""

    account: str
    region: str

    @property
    def arn(self) -> str:
        """The identity moto's STS reports for its fake credentials."""
        return f"arn:aws:sts::{self.account}:user/moto"


def caller_of(environ: dict[str, Any]) -> tuple[Caller, str] | None:
    """(caller, signing service) of a SigV4-signed request, ``None`` if it is not one."""
    found = _SCOPE.search(str(environ.get("HTTP_AUTHORIZATION", "")))
    if found is None:
        return None
    from moto.iam.models import get_account_id_from

    account = str(environ.get("HTTP_X_MOTO_ACCOUNT_ID") or get_account_id_from(found.group(1)))
    return Caller(account or DEFAULT_ACCOUNT_ID, found.group(2)), found.group(3)


def epoch(when: dt.datetime | None) -> float | None:
    """A timestamp as the JSON protocol sends it (epoch seconds)."""
    if when is None:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=dt.UTC)).timestamp()


def from_epoch(value: Any) -> dt.datetime | None:
    """A request timestamp (epoch seconds, or ISO-8601 as the CLI may send it) in UTC."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return dt.datetime.fromtimestamp(float(value), tz=dt.UTC)
    parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def page(
    items: Sequence[T], body: dict[str, Any], *, default: int, most: int
) -> tuple[list[T], str | None]:
    """One page of ``items`` per ``MaxResults``/``NextToken``; the token is an offset."""
    token = body.get("NextToken")
    try:
        start = int(token) if token else 0
    except ValueError:
        raise ApiError("InvalidNextToken", "The specified token isn't valid.") from None
    size = int(body.get("MaxResults") or default)
    if size < 1 or size > most:
        raise ApiError(
            "ValidationException",
            f"1 validation error detected: Value '{size}' at 'maxResults' failed to satisfy "
            f"constraint: Member must have value between 1 and {most}",
        )
    chunk = list(items[start : start + size])
    return chunk, (str(start + size) if start + size < len(items) else None)


def drop_none(document: dict[str, Any]) -> dict[str, Any]:
    """AWS leaves out members that have no value; so does the emulator."""
    return {key: value for key, value in document.items() if value is not None}


class JsonApi:
    """Operations of one JSON-protocol service (``target_prefix`` as in X-Amz-Target)."""

    target_prefix = ""
    service = ""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        """Held while an operation runs: moto's server is threaded."""

    # -- the operations ------------------------------------------------------------------
    def operations(self) -> dict[str, Operation]:
        """Operation name -> method; subclasses list theirs."""
        raise NotImplementedError

    def answer(self, name: str, raw: bytes, caller: Caller) -> tuple[int, dict[str, Any]]:
        """(HTTP status, response body) of one call."""
        operation = self.operations()[name]
        try:
            body = json.loads(raw or b"{}")
            if not isinstance(body, dict):
                raise ValueError("the request body is not an object")
        except ValueError as err:
            return 400, ApiError("SerializationException", str(err)).body()
        try:
            with self.lock:
                return 200, operation(body, caller)
        except ApiError as err:
            return err.status, err.body()
        except Exception as err:  # a bug here must look like AWS's 500, not kill the server
            LOGGER.exception("%s.%s failed", self.target_prefix, name)
            return 500, ApiError("InternalServerError", str(err), 500).body()

    # -- in front of moto's server -------------------------------------------------------
    def middleware(self, app: WsgiApp) -> WsgiApp:
        """Answer this API's operations; pass every other request to ``app``."""

        def layer(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
            prefix, _, name = target.partition(".")
            if prefix != self.target_prefix or name not in self.operations():
                return app(environ, start_response)
            identity = caller_of(environ)
            caller = identity[0] if identity else Caller(DEFAULT_ACCOUNT_ID, "us-east-1")
            status, body = self.answer(name, _read(environ), caller)
            payload = json.dumps(body).encode()
            headers = [
                ("Content-Type", "application/x-amz-json-1.1"),
                ("Content-Length", str(len(payload))),
            ]
            if status >= 300:
                headers.append(("x-amzn-ErrorType", str(body.get("__type", ""))))
            start_response(f"{status} {'OK' if status < 300 else 'Error'}", headers)
            return [payload]

        return layer

    # -- inside moto (mock_aws) ----------------------------------------------------------
    @contextlib.contextmanager
    def in_moto(self, response_class: type) -> Iterator[None]:
        """Serve the operations from moto's ``response_class`` while the block runs (tests
        with ``mock_aws``: no server to put a layer in front of)."""
        added = []
        for name in self.operations():
            attribute = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
            if attribute in response_class.__dict__:
                continue  # moto has it: leave moto's
            setattr(response_class, attribute, self._moto_method(name))
            added.append(attribute)
        try:
            yield
        finally:
            for attribute in added:
                delattr(response_class, attribute)

    def _moto_method(self, name: str) -> Callable[[Any], Any]:
        api = self

        def method(response: Any) -> Any:
            caller = Caller(str(response.current_account), str(response.region))
            status, body = api.answer(name, response.body or b"", caller)
            if status < 300:
                return json.dumps(body)
            return json.dumps(body), {"status": status, "x-amzn-ErrorType": body["__type"]}

        method.__name__ = name
        return method


def _read(environ: dict[str, Any]) -> bytes:
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    length = str(environ.get("CONTENT_LENGTH") or "")
    body = stream.read(int(length)) if length.isdigit() else stream.read()
    environ["wsgi.input"] = io.BytesIO(body)
    return bytes(body)
