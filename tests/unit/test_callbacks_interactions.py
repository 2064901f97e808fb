"""Parsing Slack block_actions bodies: the incident buttons, what is ignored, what is invalid."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest

from callbacks.interactions import (
    ACK_ACTION,
    MAX_BODY_BYTES,
    RESOLVE_ACTION,
    Ignored,
    Interaction,
    InvalidInteraction,
    parse_interaction,
)

INCIDENT_ID = "inc-20191002-170440-549f6068"
RESPONSE_URL = "https://hooks.slack.com/actions/T0001/123456789/AbCdEfGhIjKlMnOp"


def block_actions(
    action_id: str = ACK_ACTION, value: str = INCIDENT_ID, **changes: Any
) -> dict[str, Any]:
    """A block_actions payload shaped like Slack's (fields this app does not read included)."""
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": "U0CA5", "username": "amy.mcgee", "name": "Amy McGee", "team_id": "T3MDE"},
        "api_app_id": "A0CA5",
        "token": "Shh_its_a_seekrit",
        "container": {"type": "message", "message_ts": "1548261231.000200", "channel_id": "C0CA5"},
        "trigger_id": "12321423423.333649436676.d8c1bb837935619ccad0f624c448ffb3",
        "team": {"id": "T3MDE", "domain": "runbook"},
        "channel": {"id": "C0CA5", "name": "inc-20191002-orders-api-errors"},
        "response_url": RESPONSE_URL,
        "actions": [
            {
                "action_id": action_id,
                "block_id": "incident-actions",
                "text": {"type": "plain_text", "text": "Acknowledge", "emoji": True},
                "value": value,
                "type": "button",
                "action_ts": "1548426417.840180",
            }
        ],
    }
    payload.update(changes)
    return payload


def body(payload: Any) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


@pytest.mark.parametrize(
    ("action_id", "action"), [(ACK_ACTION, "acknowledge"), (RESOLVE_ACTION, "resolve")]
)
def test_incident_buttons(action_id: str, action: str) -> None:
    parsed = parse_interaction(body(block_actions(action_id)))
    assert parsed == Interaction(
        action=action,  # type: ignore[arg-type]
        incident_id=INCIDENT_ID,
        user_id="U0CA5",
        user_name="amy.mcgee",
        channel_id="C0CA5",
        response_url=RESPONSE_URL,
    )
    assert parsed.by == "slack:amy.mcgee"


def test_by_falls_back_to_the_name_then_the_user_id() -> None:
    named = block_actions(user={"id": "U0CA5", "name": "amy"})
    assert parse_interaction(body(named)).by == "slack:amy"  # type: ignore[union-attr]
    bare = block_actions(user={"id": "U0CA5"})
    assert parse_interaction(body(bare)).by == "slack:U0CA5"  # type: ignore[union-attr]


def test_the_response_url_and_token_stay_out_of_repr() -> None:
    parsed = parse_interaction(body(block_actions()))
    assert RESPONSE_URL not in repr(parsed)
    assert "Shh_its_a_seekrit" not in repr(parsed)


def test_value_is_trimmed() -> None:
    parsed = parse_interaction(body(block_actions(value=f" {INCIDENT_ID} ")))
    assert isinstance(parsed, Interaction)
    assert parsed.incident_id == INCIDENT_ID


def test_other_buttons_are_ignored_not_errors() -> None:
    parsed = parse_interaction(body(block_actions("open_dashboard", value="https://x")))
    assert parsed == Ignored(reason="action 'open_dashboard' is not handled")


@pytest.mark.parametrize("kind", ["view_submission", "message_action", "shortcut"])
def test_other_interaction_types_are_ignored(kind: str) -> None:
    parsed = parse_interaction(body({"type": kind, "user": {"id": "U1"}}))
    assert parsed == Ignored(reason=f"interaction type {kind!r} is not handled")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "exactly one 'payload'"),
        (b"text=hello", "exactly one 'payload'"),
        (b"payload=1&payload=2", "exactly one 'payload'"),
        (b"payload=%7Bnot json", "not JSON"),
        (b"\xff\xfe", "not form-encoded UTF-8"),
        (b"payload=%5B%5D", "payload"),  # a JSON list
        (urlencode({"payload": json.dumps({"user": {"id": "U1"}})}).encode(), "type"),
    ],
)
def test_malformed_bodies(raw: bytes, message: str) -> None:
    with pytest.raises(InvalidInteraction, match=message):
        parse_interaction(raw)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (block_actions(actions=[]), "without actions"),
        (block_actions(value="orders-api; DROP TABLE"), "not an incident id"),
        (block_actions(value=""), "not an incident id"),
        (block_actions(value="inc-nope"), "not an incident id"),
        (block_actions(user=None), "without a user"),
        (block_actions(user={"name": "no id"}), "user.id"),
        (block_actions(actions=[{"value": INCIDENT_ID}]), "action_id"),
    ],
)
def test_incident_actions_without_what_they_need(payload: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInteraction, match=message):
        parse_interaction(body(payload))


def test_invalid_interaction_is_an_invalid_incident_input() -> None:
    # So every caller that records rejected input treats it the same way.
    from shared.errors import InvalidIncidentInput

    assert issubclass(InvalidInteraction, InvalidIncidentInput)


def test_oversized_body_is_refused_before_parsing() -> None:
    with pytest.raises(InvalidInteraction, match="larger than"):
        parse_interaction(b"payload=" + b"x" * MAX_BODY_BYTES)
