"""Slack `block_actions` interactions: which incident button was pressed, and by whom.

Slack posts `application/x-www-form-urlencoded` with one field, `payload`, holding JSON.
Only the fields this app acts on are read; the rest (including Slack's legacy verification
`token`) is dropped here so nothing downstream can log it. Call this only after the request's
signature has been verified.
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import parse_qs

import msgspec
from msgspec import Meta, field

from incidents.ids import is_incident_id
from shared.errors import InvalidIncidentInput
from shared.records import read_json, repr_without

ACK_ACTION = "incident_ack"
RESOLVE_ACTION = "incident_resolve"
# The proposal's buttons (docs/remediation.md): only its approvers' clicks count.
APPROVE_ACTION = "remediation_approve"
REJECT_ACTION = "remediation_reject"
Kind = Literal["acknowledge", "resolve", "approve", "reject"]
ACTIONS: dict[str, Kind] = {
    ACK_ACTION: "acknowledge",
    RESOLVE_ACTION: "resolve",
    APPROVE_ACTION: "approve",
    REJECT_ACTION: "reject",
}
MAX_BODY_BYTES = 64 * 1024


class InvalidInteraction(InvalidIncidentInput):
    """The body is not a usable Slack interaction (answered 400, never retried)."""


class Interaction(msgspec.Struct, kw_only=True, frozen=True):
    """An Acknowledge or Resolve click on an incident's message, or Approve / Reject on a
    proposed remediation."""

    action: Kind
    incident_id: str
    user_id: str
    user_name: str = ""
    channel_id: str = ""
    # A capability URL (it can post to the channel for 30 minutes): kept out of repr and logs.
    response_url: str = ""

    def __repr__(self) -> str:
        return repr_without(self, "response_url")

    @property
    def by(self) -> str:
        """Who acted, as recorded on the incident (`slack:<name or id>`)."""
        return f"slack:{self.user_name or self.user_id}"


class Ignored(msgspec.Struct, kw_only=True, frozen=True):
    """A well-formed interaction this app does not act on (another button, a modal...)."""

    reason: str


# What is read of Slack's payload (unknown keys are ignored, so the legacy token is dropped).
class _User(msgspec.Struct, kw_only=True):
    id: Annotated[str, Meta(min_length=1, max_length=64)]
    username: Annotated[str, Meta(max_length=256)] = ""
    name: Annotated[str, Meta(max_length=256)] = ""


class _Channel(msgspec.Struct, kw_only=True):
    id: Annotated[str, Meta(max_length=64)] = ""


class _Action(msgspec.Struct, kw_only=True):
    action_id: Annotated[str, Meta(min_length=1, max_length=255)]
    value: Annotated[str, Meta(max_length=2000)] = ""


class _Payload(msgspec.Struct, kw_only=True):
    type: str
    user: _User | None = None
    channel: _Channel | None = None
    response_url: Annotated[str, Meta(max_length=2000)] = ""
    actions: list[_Action] = field(default_factory=list)

    def __repr__(self) -> str:
        return repr_without(self, "response_url")


def _payload_json(body: bytes) -> str:
    if len(body) > MAX_BODY_BYTES:
        raise InvalidInteraction(f"body is larger than {MAX_BODY_BYTES} bytes")
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidInteraction("body is not form-encoded UTF-8") from exc
    values = fields.get("payload", [])
    if len(values) != 1:
        raise InvalidInteraction("body must carry exactly one 'payload' field")
    return values[0]


def parse_interaction(body: bytes) -> Interaction | Ignored:
    """The incident action in a (verified) request body, or why it is ignored.

    Raises InvalidInteraction when the body is not a Slack interaction at all, or names an
    incident action without a usable incident id or user.
    """
    payload = read_json(_Payload, _payload_json(body), "payload", error=InvalidInteraction)
    if payload.type != "block_actions":
        return Ignored(reason=f"interaction type {payload.type!r} is not handled")
    if not payload.actions:
        raise InvalidInteraction("block_actions payload without actions")
    action = payload.actions[0]
    kind = ACTIONS.get(action.action_id)
    if kind is None:
        return Ignored(reason=f"action {action.action_id!r} is not handled")
    if payload.user is None:
        raise InvalidInteraction(f"{action.action_id} without a user")
    incident_id = action.value.strip()
    if not is_incident_id(incident_id):
        raise InvalidInteraction(f"{action.action_id}: value is not an incident id")
    user = payload.user
    return Interaction(
        action=kind,
        incident_id=incident_id,
        user_id=user.id,
        user_name=user.username or user.name,
        channel_id=payload.channel.id if payload.channel else "",
        response_url=payload.response_url,
    )
