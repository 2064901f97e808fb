"""Opening the incident channel through an injected slack-sdk WebClient: create it (trying
suffixed names while a name is taken), invite the responders, post the summary.

Creating and posting raise TransientDependencyError (the ASL retries) or SlackChannelError
(recorded as the channel's failure); inviting never fails the channel, a responder who cannot
be invited is reported instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from chat.client import (
    CONNECTION_ERRORS,
    SlackChannelError,
    call,
    error_code,
    raise_for,
    web_client,
)
from chat.mrkdwn import escape
from chat.names import MAX_CHANNEL_NAME, candidate_names, channel_name, slug
from incidents.model import Incident
from shared.errors import TransientDependencyError

# slack_sdk is imported by the methods that catch its errors (the WebClient they are given has
# loaded it already), not here: it costs 20-40 ms of a cold start (docs/performance.md).
if TYPE_CHECKING:
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

__all__ = [
    "MAX_CHANNEL_NAME",
    "InviteResult",
    "SlackChannelError",
    "SlackChannels",
    "channel_name",
    "escape",
    "slug",
    "web_client",
]

# Invite answers that mean the responder is in the channel (or is the bot itself).
_ALREADY_THERE = frozenset({"already_in_channel", "cant_invite_self"})
# Slack refused the blocks themselves: the summary is posted as plain text instead.
_BAD_BLOCKS = frozenset({"invalid_blocks", "invalid_blocks_format", "msg_too_long"})


class InviteResult(msgspec.Struct, frozen=True):
    """Who was asked in, and `"<user>: <code>"` for each who could not be."""

    invited: tuple[str, ...] = ()
    failures: tuple[str, ...] = ()


class SlackChannels:
    """The Web API calls that open an incident channel."""

    def __init__(self, web: WebClient) -> None:
        self._web = web

    def create(self, incident: Incident) -> tuple[str, str]:
        """`(channel id, name)` of a new public channel; a taken name moves on to the next
        candidate (`-2`, ..., then the incident's hash)."""
        from slack_sdk.errors import SlackApiError

        names = candidate_names(incident)
        for name in names:
            try:
                response = self._web.conversations_create(name=name)
            except SlackApiError as exc:
                if error_code(exc) == "name_taken":
                    continue
                raise_for(exc)
            except CONNECTION_ERRORS as exc:
                raise TransientDependencyError(f"Slack: {type(exc).__name__}") from exc
            channel = response["channel"]
            return str(channel["id"]), str(channel.get("name") or name)
        raise SlackChannelError(f"Slack: name_taken ({len(names)} names tried, last {names[-1]})")

    def invite(self, channel_id: str, users: Sequence[str]) -> InviteResult:
        """Invite `users` in one call (`force`: the valid ones join even when some fail)."""
        from slack_sdk.errors import SlackApiError

        if not users:
            return InviteResult()
        try:
            response: Any = self._web.conversations_invite(
                channel=channel_id, users=",".join(users), force=True
            )
        except SlackApiError as exc:
            return _invite_failures(users, exc)
        except CONNECTION_ERRORS as exc:
            return InviteResult(failures=tuple(f"{u}: {type(exc).__name__}" for u in users))
        failures = _per_user_errors(response.data if hasattr(response, "data") else {})
        failed = {f.split(":", 1)[0] for f in failures}
        return InviteResult(tuple(u for u in users if u not in failed), failures)

    def post(self, channel_id: str, text: str, blocks: list[dict[str, Any]] | None = None) -> str:
        """Post a message (blocks with `text` as the fallback); returns its `ts`. Blocks Slack
        refuses are dropped and the text posted alone, so the channel still gets the message."""
        from slack_sdk.errors import SlackApiError

        try:
            response = self._web.chat_postMessage(
                channel=channel_id, text=text, blocks=blocks, mrkdwn=True, unfurl_links=False
            )
        except SlackApiError as exc:
            if not blocks or error_code(exc) not in _BAD_BLOCKS:
                raise_for(exc)
            response = call(
                lambda: self._web.chat_postMessage(
                    channel=channel_id, text=text, mrkdwn=True, unfurl_links=False
                )
            )
        except CONNECTION_ERRORS as exc:
            raise TransientDependencyError(f"Slack: {type(exc).__name__}") from exc
        return str(response.get("ts", ""))


def _per_user_errors(data: Any) -> tuple[str, ...]:
    errors = data.get("errors") if isinstance(data, dict) else None
    if not isinstance(errors, list):
        return ()
    return tuple(
        f"{e.get('user', '?')}: {e.get('error', 'unknown_error')}"
        for e in errors
        if isinstance(e, dict) and e.get("error") not in _ALREADY_THERE
    )


def _invite_failures(users: Sequence[str], error: SlackApiError) -> InviteResult:
    code = error_code(error)
    if code in _ALREADY_THERE:
        return InviteResult(invited=tuple(users))
    per_user = _per_user_errors(getattr(error.response, "data", None))
    if per_user:
        failed = {f.split(":", 1)[0] for f in per_user}
        return InviteResult(tuple(u for u in users if u not in failed), per_user)
    return InviteResult(failures=tuple(f"{u}: {code}" for u in users))
