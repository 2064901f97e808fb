"""The Block Kit summary: escaped, inside Block Kit's limits for any incident, with the buttons
the slack_actions function expects; and the summary after a button click."""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chat.blocks import (
    ACK_ACTION,
    ACTIONS_BLOCK_ID,
    RESOLVE_ACTION,
    VERDICT_PENDING,
    acknowledged_blocks,
    resolved_blocks,
    summary_blocks,
    summary_text,
)
from chat.mrkdwn import clip, escape, link, unescape, who
from incidents.model import Incident

BASE: dict[str, Any] = {
    "incident_id": "inc-20240501-140307-0badcafe",
    "title": "orders-api-errors is in ALARM",
    "severity": "high",
    "opened_at": "2024-05-01T14:03:07Z",
    "alarm_name": "orders-api-errors",
    "execution_arn": "arn:aws:states:eu-west-1:123456789012:execution:IR:inc-1",
    "region": "eu-west-1",
}
# An unescaped control character: `<` or `>` anywhere, `&` not starting an entity.
RAW_CONTROL = re.compile(r"[<>]|&(?!amp;|lt;|gt;)")


def _incident(**overrides: Any) -> Incident:
    return Incident.from_item({**BASE, **overrides})


def _mrkdwn_texts(blocks: list[dict[str, Any]]) -> list[str]:
    """Every mrkdwn string in the blocks (the ones Slack parses for links and mentions)."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(blocks)
    return found


def _within_limits(blocks: list[dict[str, Any]]) -> None:
    assert 1 <= len(blocks) <= 50
    for block in blocks:
        if block["type"] == "header":
            assert block["text"]["type"] == "plain_text"
            assert 1 <= len(block["text"]["text"]) <= 150
        if block["type"] == "section":
            if "text" in block:
                assert 1 <= len(block["text"]["text"]) <= 3000
            fields = block.get("fields", [])
            assert len(fields) <= 10
            assert all(1 <= len(f["text"]) <= 2000 for f in fields)
        if block["type"] == "context":
            assert all(len(e["text"]) <= 2000 for e in block["elements"])
        if block["type"] == "actions":
            for button in block["elements"]:
                assert 1 <= len(button["text"]["text"]) <= 75
                assert 1 <= len(button["value"]) <= 2000
                if "confirm" in button:
                    confirm = button["confirm"]
                    assert len(confirm["title"]["text"]) <= 100
                    assert len(confirm["text"]["text"]) <= 300
                    assert len(confirm["confirm"]["text"]) <= 30
                    assert len(confirm["deny"]["text"]) <= 30


def test_the_summary_has_what_responders_need() -> None:
    incident = _incident(
        description="p99 > 2s & <!here> <https://evil|click>",
        severity_rule="namespace: AWS/Lambda",
        account="123456789012",
        resources=[
            {"type": "AWS::Lambda::Function", "id": "orders-api"},
            {"type": "AWS::DynamoDB::Table", "id": "orders"},
        ],
    )
    blocks = summary_blocks(incident, timezone="America/New_York", default_region="us-east-1")
    text = json.dumps(blocks)
    assert blocks[0]["text"]["text"] == ":large_orange_circle: [HIGH] orders-api-errors is in ALARM"
    fields = [f["text"] for f in blocks[1]["fields"]]
    assert "*Severity*\nHIGH (namespace: AWS/Lambda)" in fields
    assert "*Opened*\n2024-05-01 14:03:07 UTC\n2024-05-01 10:03:07 EDT" in fields
    assert "*Account / region*\n123456789012 / eu-west-1" in fields
    assert f"*Verdict*\n{VERDICT_PENDING}" in fields
    assert "p99 &gt; 2s &amp; &lt;!here&gt; &lt;https://evil|click&gt;" in text
    assert "Also affected: orders (AWS::DynamoDB::Table)" in text
    assert "https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1" in text
    assert "#alarmsV2:alarm/orders-api-errors|Alarm in CloudWatch>" in text
    (actions,) = [b for b in blocks if b["type"] == "actions"]
    assert actions["block_id"] == ACTIONS_BLOCK_ID
    assert [(b["action_id"], b["value"]) for b in actions["elements"]] == [
        (ACK_ACTION, incident.incident_id),
        (RESOLVE_ACTION, incident.incident_id),
    ]
    _within_limits(blocks)


def test_a_known_verdict_replaces_the_placeholder() -> None:
    verdict = {"domain": "aws", "headline": "AWS side: Lambda <throttling>", "scope": "1 of 3"}
    blocks = summary_blocks(_incident(), verdict=verdict)
    fields = [f["text"] for f in blocks[1]["fields"]]
    assert "*Verdict*\nAWS side: Lambda &lt;throttling&gt; — 1 of 3" in fields
    assert "*Verdict*\nthe app" in [
        f["text"] for f in summary_blocks(_incident(), verdict="the app")[1]["fields"]
    ]


def test_the_fallback_text_is_plain_and_escaped() -> None:
    text = summary_text(_incident(title="a <b> & c"), timezone="UTC")
    assert text.startswith("*[HIGH] a &lt;b&gt; &amp; c*\n")
    assert "opened 2024-05-01 14:03:07 UTC" in text
    assert "/ " not in text.split("\n")[1]  # UTC only: no second zone


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(
    title=st.text(min_size=1, max_size=3000),
    description=st.text(max_size=6000),
    alarm=st.one_of(st.none(), st.text(min_size=1, max_size=400)),
    resources=st.lists(
        st.builds(
            dict,
            type=st.text(min_size=1, max_size=256),
            id=st.text(min_size=1, max_size=2048),
        ),
        max_size=30,
    ),
    rule=st.text(max_size=3000),
)
def test_any_incident_fits_block_kit_and_is_escaped(
    title: str, description: str, alarm: str | None, resources: list[dict[str, str]], rule: str
) -> None:
    incident = _incident(
        title=title,
        description=description,
        alarm_name=alarm,
        resources=resources,
        severity_rule=rule,
    )
    blocks = summary_blocks(incident, timezone="Asia/Kolkata")
    _within_limits(blocks)
    for text in _mrkdwn_texts(blocks):
        # Links are ours (`<https://...|label>`); outside them nothing user-made is raw.
        outside_links = re.sub(r"<https://[^|<>]+\|[^<>]*>", "", text)
        outside_links = re.sub(r"(?m)^>", "", outside_links)  # our block quote markers
        assert not RAW_CONTROL.search(outside_links), outside_links
    assert len(summary_text(incident)) <= 3000


@given(st.text())
def test_escape_round_trips(text: str) -> None:
    escaped = escape(text)
    assert "<" not in escaped and ">" not in escaped
    assert unescape(escaped) == text


@given(st.text(max_size=400), st.integers(min_value=2, max_value=300))
def test_clip_never_splits_an_entity(text: str, limit: int) -> None:
    clipped = clip(escape(text), limit)
    assert len(clipped) <= limit
    assert not RAW_CONTROL.search(clipped.removesuffix("…"))


def test_link_and_who() -> None:
    assert link("https://x/a|b>c", "<label>") == "<https://x/a%7Cb%3Ec|&lt;label&gt;>"
    assert who("U012AB3CD") == "<@U012AB3CD>"
    assert who("<!channel> bob") == "&lt;!channel&gt; bob"


def test_after_acknowledge_only_resolve_is_left() -> None:
    original = summary_blocks(_incident())
    blocks = acknowledged_blocks(original, "U012AB3CD", at="2024-05-01T14:10:00Z")
    (actions,) = [b for b in blocks if b["type"] == "actions"]
    assert [e["action_id"] for e in actions["elements"]] == [RESOLVE_ACTION]
    stamp = json.dumps(blocks)
    assert "Acknowledged by <@U012AB3CD> at 2024-05-01T14:10:00Z" in stamp
    assert len(blocks) == len(original) + 1
    assert original == summary_blocks(_incident())  # the input is not changed


def test_after_resolve_no_buttons_are_left() -> None:
    blocks = resolved_blocks(summary_blocks(_incident()), "<b>ops</b>", at="2024-05-01T15:00:00Z")
    assert not [b for b in blocks if b["type"] == "actions"]
    assert "Resolved by &lt;b&gt;ops&lt;/b&gt; at 2024-05-01T15:00:00Z" in json.dumps(blocks)
    _within_limits(blocks)


def test_the_header_is_one_line() -> None:
    blocks = summary_blocks(_incident(title="disk\nfull\t on  db-1"))
    assert blocks[0]["text"]["text"].endswith("[HIGH] disk full on db-1")
