"""Durations, the compiled declaration's records and its JSON round trip."""

from __future__ import annotations

import json

import pytest

from oncall.declaration import (
    Channel,
    Contact,
    DeclarationError,
    EngagementStep,
    EscalationPlan,
    ResponseConfig,
    ResponsePlan,
    Rotation,
    Stage,
    Target,
    UnknownName,
    decode_config,
    default_config,
    encode_config,
)
from oncall.durations import duration_text, parse_duration


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("90s", 90), ("5m", 300), ("1h30m", 5400), ("2h", 7200), ("0m", 0), (5, 300), (0, 0),
     ("1h0m5s", 3605), (" 10m ", 600)],
)  # fmt: skip
def test_durations(value: object, seconds: int) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["5", "m", "", "5 m", "1.5h", "5min", -1, 1.5, True, None, [5]])
def test_what_is_not_a_duration(value: object) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(value)


def test_duration_text_reads_back() -> None:
    for seconds in (0, 59, 60, 90, 3600, 5400, 3605):
        assert parse_duration(duration_text(seconds)) == seconds
    assert duration_text(5400) == "1h30m"


def _config() -> ResponseConfig:
    alice = Contact(
        id="alice",
        name="Alice",
        channels=(
            Channel(name="phone", type="sms", address="+447700900001"),
            Channel(name="email", type="email", address="alice@example.com"),
        ),
        engagement=(EngagementStep(channel="email", after_seconds=120),),
    )
    bob = Contact(id="bob", name="Bob", channels=(Channel(name="s", type="slack", address="U0B"),))
    return ResponseConfig(
        timezone="Europe/London",
        contacts={"alice": alice, "bob": bob},
        rotations={
            "primary": Rotation(
                id="primary",
                name="Primary",
                timezone="Europe/London",
                participants=("alice", "bob"),
                start="2026-01-05T09:00",
                shift="weekly",
            )
        },
        escalation_plans={
            "p": EscalationPlan(
                id="p", stages=(Stage(duration_seconds=300, targets=(Target(rotation="primary"),)),)
            )
        },
        response_plans=(ResponsePlan(id="default", escalation_plan="p"),),
    )


def test_a_contact_without_engagement_pages_every_channel_at_once_in_order() -> None:
    contact = Contact(
        id="c",
        name="C",
        channels=(
            Channel(name="b", type="sms", address="+15550000001"),
            Channel(name="a", type="email", address="c@example.com"),
        ),
    )
    assert contact.engagement == (
        EngagementStep(channel="b", after_seconds=0),
        EngagementStep(channel="a", after_seconds=0),
    )
    assert contact.channel("a").type == "email"
    with pytest.raises(UnknownName, match="contact c has no channel 'x' \\(known: b, a\\)"):
        contact.channel("x")


def test_default_config_has_no_people_and_one_plan_without_escalation() -> None:
    config = default_config("Europe/Paris")
    assert config.timezone == "Europe/Paris"
    assert (config.contacts, config.rotations, config.escalation_plans) == ({}, {}, {})
    assert config.response_plans == (ResponsePlan(id="default"),)
    assert config.default_plan.escalation_plan is None


def test_the_config_round_trips_through_json() -> None:
    config = _config()
    raw = encode_config(config)
    assert decode_config(raw) == config
    assert decode_config(raw.decode()) == config
    assert json.loads(raw)["contacts"]["alice"]["engagement"] == [
        {"channel": "email", "after_seconds": 120}
    ]
    assert decode_config(encode_config(default_config())) == default_config()


def test_decode_names_a_malformed_field() -> None:
    data = json.loads(encode_config(_config()))
    data["contacts"]["alice"]["channels"][0]["type"] = "pager"
    # msgspec names a dict key `[...]`: the path still leads to the field.
    with pytest.raises(DeclarationError, match=r"channels\[0\]\.type: invalid enum value 'pager'"):
        decode_config(json.dumps(data))
    with pytest.raises(DeclarationError, match="not JSON"):
        decode_config("{")


def test_decode_names_every_reference_that_does_not_resolve() -> None:
    data = json.loads(encode_config(_config()))
    data["rotations"]["primary"]["participants"].append("carol")
    data["rotations"]["primary"]["timezone"] = "Mars/Olympus"
    data["escalation_plans"]["p"]["stages"][0]["targets"].append({"contact": "dave"})
    data["contacts"]["alice"]["engagement"] = [{"channel": "fax", "after_seconds": 0}]
    data["response_plans"].append({"id": "other", "escalation_plan": "nope", "match": {}})
    with pytest.raises(DeclarationError) as caught:
        decode_config(json.dumps(data))
    assert caught.value.problems == [
        "contacts.alice.engagement[0].channel: unknown channel 'fax'",
        "rotations.primary.participants[2]: unknown contact 'carol'",
        "rotations.primary.timezone: unknown time zone 'Mars/Olympus'",
        "escalation_plans.p.stages[0].targets[1].contact: unknown contact 'dave'",
        "response_plans[1].escalation_plan: unknown escalation plan 'nope'",
    ]


def test_lookups_name_what_is_missing() -> None:
    config = _config()
    assert config.contact("bob").name == "Bob"
    assert config.response_plan("default").escalation_plan == "p"
    for call, text in (
        (lambda: config.contact("zed"), "no contact 'zed'"),
        (lambda: config.rotation("zed"), "no rotation 'zed'"),
        (lambda: config.escalation_plan("zed"), "no escalation plan 'zed'"),
        (lambda: config.response_plan("zed"), "no response plan 'zed'"),
    ):
        with pytest.raises(UnknownName, match=text):
            call()
