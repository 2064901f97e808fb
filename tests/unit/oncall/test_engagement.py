"""The escalation runner: stages begin on time, contacts are engaged once, pages come due at
their offsets, an acknowledgement or a close stops it, exhaustion, next_wake, time_to_ack."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from oncall.declaration import (
    Channel,
    Contact,
    EngagementStep,
    EscalationPlan,
    ResponseConfig,
    ResponsePlan,
    Rotation,
    Stage,
    Target,
    WorkingWindow,
)
from oncall.engagement import (
    Engagement,
    EngagementError,
    acknowledge,
    advance,
    due,
    dump_engagement,
    load_engagement,
    mark,
    next_wake,
    start,
    stop,
    time_to_ack,
)
from oncall.rotation import Override

T0 = datetime(2026, 1, 6, 10, 0, 0, 123456, tzinfo=UTC)  # Tuesday: alice holds primary


def minutes(n: float) -> datetime:
    return T0.replace(microsecond=0) + timedelta(minutes=n)


def _contact(cid: str, *channels: tuple[str, str, str], steps: Sequence[tuple[str, int]] = ()):
    return Contact(
        id=cid,
        name=cid.title(),
        channels=tuple(Channel(name=n, type=t, address=a) for n, t, a in channels),  # type: ignore[arg-type]
        engagement=tuple(EngagementStep(channel=c, after_seconds=s) for c, s in steps),
    )


CONTACTS = {
    "alice": _contact(
        "alice",
        ("slack", "slack", "U0ALICE01"),
        ("phone", "sms", "+447700900001"),
        ("email", "email", "alice@example.com"),
        steps=(("slack", 0), ("phone", 120), ("email", 300)),
    ),
    "bob": _contact(
        "bob",
        ("phone", "sms", "+447700900002"),
        ("email", "email", "bob@example.com"),
        steps=(("phone", 0), ("email", 90)),
    ),
    "chen": _contact("chen", ("phone", "sms", "+14155550103")),
    "dana": _contact("dana", ("phone", "sms", "+14155550104")),
}


def _rotation(rid: str, people: tuple[str, ...], shift: str, **extra: object) -> Rotation:
    return Rotation(
        id=rid,
        name=rid,
        timezone="UTC",
        participants=people,
        start="2026-01-05T09:00",
        shift=shift,
        **extra,  # type: ignore[arg-type]
    )


ROTATIONS = {
    "primary": _rotation("primary", ("alice", "bob"), "weekly"),
    "secondary": _rotation("secondary", ("chen", "alice"), "daily"),  # Tuesday: alice
    "office": _rotation(
        "office",
        ("chen",),
        "daily",
        working_hours=(WorkingWindow(days=("mon",), start="09:00", end="17:00"),),
    ),
}


def _stage(seconds: int, *targets: Target) -> Stage:
    return Stage(duration_seconds=seconds, targets=targets)


PLANS = {
    "payments": EscalationPlan(
        id="payments",
        stages=(
            _stage(300, Target(rotation="primary")),
            _stage(
                600,
                Target(contact="bob"),
                Target(rotation="secondary"),  # alice: engaged in stage 0 already
                Target(contact="bob"),  # twice in one stage: engaged once
            ),
            _stage(900, Target(contact="chen"), Target(rotation="office")),
        ),
    ),
    "short": EscalationPlan(id="short", stages=(_stage(60, Target(contact="alice")),)),
}
CONFIG = ResponseConfig(
    contacts=CONTACTS,
    rotations=ROTATIONS,
    escalation_plans=PLANS,
    response_plans=(ResponsePlan(id="critical", escalation_plan="payments"),),
)
PLAN = CONFIG.response_plans[0]


def no_overrides(rotation: str) -> Sequence[Override]:
    return ()


def begun() -> Engagement:
    engagement = start(CONFIG, PLAN, T0, no_overrides)
    assert engagement is not None
    return engagement


def pages(engagement: Engagement) -> list[tuple[int, str, str, str, str]]:
    return [(p.stage, p.contact, p.channel, p.due_at, p.status) for p in engagement.pages]


def test_stage_one_pages_at_the_engagement_offsets() -> None:
    engagement = begun()
    assert (engagement.plan, engagement.response_plan, engagement.status) == (
        "payments",
        "critical",
        "active",
    )
    assert engagement.started_at == "2026-01-06T10:00:00Z"
    assert pages(engagement) == [
        (0, "alice", "slack", "2026-01-06T10:00:00Z", "pending"),
        (0, "alice", "phone", "2026-01-06T10:02:00Z", "pending"),
        (0, "alice", "email", "2026-01-06T10:05:00Z", "pending"),
    ]
    first = engagement.pages[0]
    assert (first.via, first.channel_type, first.contact_name) == (
        "rotation:primary",
        "slack",
        "Alice",
    )
    assert engagement.stages[0].ends_at == "2026-01-06T10:05:00Z"
    assert [p.channel for p in due(engagement, T0)] == ["slack"]
    assert [p.channel for p in due(engagement, minutes(2))] == ["slack", "phone"]


def test_next_wake_is_the_earliest_pending_page_or_the_stage_end() -> None:
    engagement = begun()
    assert next_wake(engagement) == minutes(0)
    for page in due(engagement, minutes(0)):
        engagement = mark(engagement, page, status="sent", at=minutes(0), detail="sms via SNS m-1")
    assert next_wake(engagement) == minutes(2)
    for page in due(engagement, minutes(5)):
        engagement = mark(engagement, page, status="failed", at=minutes(5), detail="SNS: x")
    assert next_wake(engagement) == minutes(5)  # stage 0 ends: stage 1 begins
    sent = engagement.pages[0]
    assert (sent.status, sent.sent_at, sent.detail) == (
        "sent",
        "2026-01-06T10:00:00Z",
        "sms via SNS m-1",
    )


def test_the_next_stage_begins_when_the_last_one_ends_and_engages_each_contact_once() -> None:
    engagement = advance(CONFIG, begun(), minutes(4), no_overrides)
    assert len(engagement.stages) == 1
    engagement = advance(CONFIG, engagement, minutes(5), no_overrides)
    second = engagement.stages[1]
    assert (second.started_at, second.ends_at) == ("2026-01-06T10:05:00Z", "2026-01-06T10:15:00Z")
    assert second.contacts == ("bob",)
    assert second.already_engaged == ("alice",)
    assert pages(engagement)[3:] == [
        (1, "bob", "phone", "2026-01-06T10:05:00Z", "pending"),
        (1, "bob", "email", "2026-01-06T10:06:30Z", "pending"),
    ]
    assert engagement.engaged == ("alice", "bob")


def test_a_late_advance_dates_stages_and_pages_from_when_they_were_due() -> None:
    engagement = advance(CONFIG, begun(), minutes(16), no_overrides)
    assert [s.started_at for s in engagement.stages] == [
        "2026-01-06T10:00:00Z",
        "2026-01-06T10:05:00Z",
        "2026-01-06T10:15:00Z",
    ]
    third = engagement.stages[2]
    assert third.contacts == ("chen",)
    assert third.nobody == (
        "rotation office: no one: outside working hours Mon 09:00-17:00, next on call "
        "Mon 09:00 chen",
    )
    assert third.already_engaged == ()
    chen = [p for p in engagement.pages if p.contact == "chen"]
    assert [(p.due_at, p.via) for p in chen] == [("2026-01-06T10:15:00Z", "contact")]
    assert engagement.status == "active"
    assert next_wake(engagement) == minutes(0)  # overdue pages first


def test_exhausted_when_the_last_stage_ends_and_owed_pages_are_still_sent() -> None:
    engagement = advance(CONFIG, begun(), minutes(30), no_overrides)
    assert engagement.status == "exhausted"
    assert engagement.exhausted_at == "2026-01-06T10:30:00Z"
    short = start(CONFIG, ResponsePlan(id="x", escalation_plan="short"), T0, no_overrides)
    assert short is not None
    for page in due(short, minutes(0)):
        short = mark(short, page, status="sent", at=minutes(0))
    short = advance(CONFIG, short, minutes(1), no_overrides)
    assert short.status == "exhausted"
    assert next_wake(short) == minutes(2)  # alice's phone, engaged before the plan ran out
    assert [p.channel for p in due(short, minutes(5))] == ["phone", "email"]
    for page in due(short, minutes(5)):
        short = mark(short, page, status="sent", at=minutes(5))
    assert next_wake(short) is None
    assert advance(CONFIG, short, minutes(60), no_overrides) == short


def test_an_acknowledgement_cancels_what_is_pending_and_stops_the_plan() -> None:
    engagement = advance(CONFIG, begun(), minutes(5), no_overrides)
    for page in due(engagement, minutes(5)):
        engagement = mark(engagement, page, status="sent", at=minutes(5))
    acked = acknowledge(engagement, by="bob", at=minutes(7))
    assert (acked.status, acked.acknowledged_by, acked.acknowledged_at, acked.ack_stage) == (
        "acknowledged",
        "bob",
        "2026-01-06T10:07:00Z",
        1,
    )
    assert [p.status for p in acked.pages] == ["sent", "sent", "sent", "sent", "cancelled"]
    assert acked.pages[-1].detail == "acknowledged by bob"
    assert due(acked, minutes(30)) == []
    assert next_wake(acked) is None
    assert advance(CONFIG, acked, minutes(30), no_overrides) == acked
    assert time_to_ack(acked) == [(0, None), (1, 120)]
    assert acknowledge(acked, by="alice", at=minutes(8)) == acked  # the first one stands


def test_time_to_ack_in_the_first_stage_and_none_when_nobody_acknowledged() -> None:
    engagement = begun()
    assert time_to_ack(engagement) == [(0, None)]
    assert time_to_ack(acknowledge(engagement, by="alice", at=minutes(1.5))) == [(0, 90)]


def test_closing_the_incident_stops_the_plan() -> None:
    stopped = stop(begun(), at=minutes(1), reason="resolved by an operator")
    assert (stopped.status, stopped.stopped_reason, stopped.stopped_at) == (
        "stopped",
        "resolved by an operator",
        "2026-01-06T10:01:00Z",
    )
    assert {p.status for p in stopped.pages} == {"cancelled"}
    assert stopped.pages[0].detail == "stopped: resolved by an operator"
    assert next_wake(stopped) is None
    acked = acknowledge(begun(), by="alice", at=minutes(1))
    assert stop(acked, at=minutes(2), reason="closed") == acked


def test_rotations_are_asked_with_their_overrides_at_the_stage_start() -> None:
    asked: list[str] = []
    cover = Override(
        override_id="ov-1",
        rotation="primary",
        contact="dana",
        start="2026-01-06T09:00:00Z",
        end="2026-01-06T11:00:00Z",
        created_at="2026-01-01T00:00:00Z",
    )

    def overrides_for(rotation: str) -> Sequence[Override]:
        asked.append(rotation)
        return (cover,) if rotation == "primary" else ()

    engagement = start(CONFIG, PLAN, T0, overrides_for)
    assert engagement is not None
    assert asked == ["primary"]
    assert [(p.contact, p.via) for p in engagement.pages] == [("dana", "rotation:primary")]


def test_no_escalation_plan_means_no_engagement() -> None:
    assert start(CONFIG, ResponsePlan(id="default"), T0, no_overrides) is None


def test_mark_refuses_what_is_not_an_outcome_or_not_its_page() -> None:
    engagement = begun()
    page = engagement.pages[0]
    with pytest.raises(EngagementError, match="status: 'delivered' is not one of sent"):
        mark(engagement, page, status="delivered", at=T0)
    stranger = msgspec.structs.replace(page, contact="zed")
    with pytest.raises(EngagementError, match="page: stage 0 zed/slack is not in this"):
        mark(engagement, stranger, status="sent", at=T0)


def test_it_round_trips_through_the_incident_record() -> None:
    engagement = advance(CONFIG, begun(), minutes(6), no_overrides)
    assert load_engagement(dump_engagement(engagement)) == engagement
    broken = dump_engagement(engagement)
    broken["pages"][0]["status"] = "lost"
    with pytest.raises(EngagementError, match=r"engagement: pages\[0\]\.status"):
        load_engagement(broken)


def test_a_plan_removed_by_a_redeploy_exhausts_the_engagement() -> None:
    engagement = begun()
    config = msgspec.structs.replace(CONFIG, escalation_plans={})
    gone = advance(config, engagement, minutes(1), no_overrides)
    assert gone.status == "exhausted"
    assert "not declared any more" in gone.stopped_reason
