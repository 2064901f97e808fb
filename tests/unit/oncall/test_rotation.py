"""Rotation arithmetic (docs/oncall.md, "Rotation arithmetic"): handoffs on the local wall
clock, both daylight-saving changes in two zones, onCall, working hours, overrides, and the
schedule agreeing with on_call at any instant (property)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oncall.declaration import Rotation, WorkingWindow
from oncall.rotation import Override, on_call, schedule
from shared.timeutil import iso

WEEKDAYS = WorkingWindow(days=("mon", "tue", "wed", "thu", "fri"), start="09:00", end="18:00")


def rotation(**fields: object) -> Rotation:
    values: dict[str, object] = {
        "id": "primary",
        "name": "Primary",
        "timezone": "Europe/London",
        "participants": ("alice", "bob"),
        "start": "2026-01-05T09:00",
        "shift": "weekly",
    }
    values.update(fields)
    return Rotation(**values)  # type: ignore[arg-type]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def who(r: Rotation, moment: str, overrides: tuple[Override, ...] = ()) -> tuple[str, ...]:
    return on_call(r, at(moment), overrides).contacts


def override(
    oid: str, contact: str, start: str, end: str, created: str, rot: str = "primary"
) -> Override:
    return Override(
        override_id=oid, rotation=rot, contact=contact, start=start, end=end, created_at=created
    )


# -- handoffs -------------------------------------------------------------------------------
def test_weekly_handoffs_are_mondays_at_the_start_time() -> None:
    r = rotation()
    assert who(r, "2026-01-05T09:00:00Z") == ("alice",)
    assert who(r, "2026-01-12T08:59:59Z") == ("alice",)
    assert who(r, "2026-01-12T09:00:00Z") == ("bob",)
    assert who(r, "2026-01-19T09:00:00Z") == ("alice",)
    answer = on_call(r, at("2026-01-07T12:00:00Z"))
    assert answer.reason == "alice (shift Mon 09:00 - Mon 09:00 Europe/London)"
    assert (answer.source, answer.until) == ("rotation", "2026-01-12T09:00:00Z")


def test_daily_handoffs() -> None:
    r = rotation(participants=("alice", "bob", "chen"), shift="daily", timezone="UTC")
    got = [who(r, f"2026-01-{day:02d}T10:00:00Z") for day in range(5, 11)]
    assert got == [("alice",), ("bob",), ("chen",), ("alice",), ("bob",), ("chen",)]
    assert who(r, "2026-01-06T08:59:59Z") == ("alice",)


def test_twelve_hour_handoffs() -> None:
    r = rotation(shift="12h", timezone="UTC")
    assert who(r, "2026-01-05T20:59:59Z") == ("alice",)
    assert who(r, "2026-01-05T21:00:00Z") == ("bob",)
    assert who(r, "2026-01-06T09:00:00Z") == ("alice",)
    assert on_call(r, at("2026-01-05T22:00:00Z")).until == "2026-01-06T09:00:00Z"


def test_n_day_and_n_week_shifts() -> None:
    r = rotation(shift="3d", timezone="UTC")
    assert who(r, "2026-01-08T08:59:00Z") == ("alice",)
    assert who(r, "2026-01-08T09:00:00Z") == ("bob",)
    r = rotation(shift="2w", timezone="UTC")
    assert who(r, "2026-01-19T09:00:00Z") == ("bob",)
    assert who(r, "2026-01-19T08:59:00Z") == ("alice",)


def test_on_call_two_takes_participants_in_pairs_round_the_list() -> None:
    r = rotation(participants=("alice", "bob", "chen"), on_call=2, shift="daily", timezone="UTC")
    assert who(r, "2026-01-05T10:00:00Z") == ("alice", "bob")
    assert who(r, "2026-01-06T10:00:00Z") == ("chen", "alice")
    assert who(r, "2026-01-07T10:00:00Z") == ("bob", "chen")
    answer = on_call(r, at("2026-01-06T10:00:00Z"))
    assert answer.reason == "chen, alice (shift Tue 09:00 - Wed 09:00 UTC)"


def test_a_participant_listed_twice_holds_two_shifts_and_is_on_call_once() -> None:
    r = rotation(participants=("alice", "alice", "bob"), on_call=2, shift="daily", timezone="UTC")
    assert who(r, "2026-01-05T10:00:00Z") == ("alice",)
    assert who(r, "2026-01-06T10:00:00Z") == ("bob", "alice")


def test_before_start_nobody_and_until_is_the_start() -> None:
    answer = on_call(rotation(), at("2026-01-01T00:00:00Z"))
    assert answer.contacts == ()
    assert answer.source == "nobody"
    assert answer.reason == "no one: the rotation starts 2026-01-05 09:00"
    assert answer.until == "2026-01-05T09:00:00Z"


# -- daylight saving --------------------------------------------------------------------------
def test_london_weekly_handoff_stays_at_nine_across_spring_forward() -> None:
    # 29 March 2026: 01:00 GMT -> 02:00 BST. Mon 30 March 09:00 BST is 08:00 UTC.
    r = rotation()  # 30 March is shift 12 (alice's); shift 11 is bob's
    assert who(r, "2026-03-30T07:59:59Z") == ("bob",)
    assert who(r, "2026-03-30T08:00:00Z") == ("alice",)
    answer = on_call(r, at("2026-03-25T12:00:00Z"))
    assert answer.until == "2026-03-30T08:00:00Z"  # a 167-hour shift
    assert answer.reason.endswith("(shift Mon 09:00 - Mon 09:00 Europe/London)")


def test_london_daily_shift_spanning_fall_back_lasts_25_hours() -> None:
    # 25 October 2026: 02:00 BST -> 01:00 GMT.
    r = rotation(shift="daily")
    answer = on_call(r, at("2026-10-24T12:00:00Z"))
    start = at("2026-10-24T08:00:00Z")  # Sat 09:00 BST
    assert answer.until == "2026-10-25T09:00:00Z"  # Sun 09:00 GMT
    assert at(answer.until) - start == timedelta(hours=25)


def test_new_york_twelve_hour_shift_across_spring_forward_lasts_11_hours() -> None:
    # 8 March 2026: 02:00 EST -> 03:00 EDT. Handoffs stay at 09:00 and 21:00 local.
    r = rotation(timezone="America/New_York", shift="12h")
    answer = on_call(r, at("2026-03-08T03:00:00Z"))  # Sat 22:00 EST
    assert answer.until == "2026-03-08T13:00:00Z"  # Sun 09:00 EDT, 11 h after 21:00 EST
    assert answer.reason.endswith("(shift Sat 21:00 - Sun 09:00 America/New_York)")
    answer = on_call(r, at("2026-11-01T03:00:00Z"))  # fall back: Sat 21:00 EDT -> Sun 09:00 EST
    assert at(answer.until or "") - at("2026-11-01T01:00:00Z") == timedelta(hours=13)


def test_a_handoff_in_the_spring_forward_gap_happens_that_far_past_it() -> None:
    # New York skips 02:00-03:00 on 8 March: a 02:30 handoff is 03:30 EDT (07:30 UTC).
    r = rotation(timezone="America/New_York", shift="daily", start="2026-03-01T02:30")
    holder_before = who(r, "2026-03-08T07:29:59Z")
    assert who(r, "2026-03-08T07:30:00Z") != holder_before
    answer = on_call(r, at("2026-03-08T12:00:00Z"))
    assert answer.reason.endswith("(shift Sun 03:30 - Mon 02:30 America/New_York)")
    assert answer.until == "2026-03-09T06:30:00Z"  # 02:30 EDT: a 23-hour shift
    # London skips 01:00-02:00 on 29 March: 01:30 is 02:30 BST (01:30 UTC).
    r = rotation(shift="daily", start="2026-03-20T01:30")
    assert on_call(r, at("2026-03-28T12:00:00Z")).until == "2026-03-29T01:30:00Z"


def test_a_handoff_in_the_repeated_hour_happens_at_its_first_occurrence() -> None:
    # New York repeats 01:00-02:00 on 1 November: 01:30 EDT (05:30 UTC), not 01:30 EST.
    r = rotation(timezone="America/New_York", shift="daily", start="2026-10-25T01:30")
    assert on_call(r, at("2026-10-31T12:00:00Z")).until == "2026-11-01T05:30:00Z"
    assert on_call(r, at("2026-11-01T05:45:00Z")).until == "2026-11-02T06:30:00Z"  # 25 h
    # London repeats 01:00-02:00 on 25 October: 01:30 BST is 00:30 UTC.
    r = rotation(shift="daily", start="2026-10-18T01:30")
    assert on_call(r, at("2026-10-24T12:00:00Z")).until == "2026-10-25T00:30:00Z"


# -- working hours -----------------------------------------------------------------------------
def test_outside_working_hours_nobody_and_who_is_next() -> None:
    r = rotation(working_hours=(WEEKDAYS,))
    inside = on_call(r, at("2026-01-06T10:00:00Z"))
    assert inside.contacts == ("alice",)
    assert inside.until == "2026-01-06T18:00:00Z"
    assert inside.reason == (
        "alice (shift Mon 09:00 - Mon 09:00 Europe/London, working hours Mon-Fri 09:00-18:00)"
    )
    evening = on_call(r, at("2026-01-06T19:00:00Z"))
    assert (evening.contacts, evening.source) == ((), "nobody")
    assert evening.reason == (
        "no one: outside working hours Mon-Fri 09:00-18:00, next on call Wed 09:00 alice"
    )
    assert evening.until == "2026-01-07T09:00:00Z"
    weekend = on_call(r, at("2026-01-17T12:00:00Z"))  # Saturday of the third week
    assert weekend.reason == (
        "no one: outside working hours Mon-Fri 09:00-18:00, next on call Mon 09:00 alice"
    )
    assert weekend.until == "2026-01-19T09:00:00Z"


def test_working_hours_follow_local_time_across_dst() -> None:
    r = rotation(working_hours=(WEEKDAYS,))
    assert who(r, "2026-03-30T08:00:00Z") != ()  # 09:00 BST
    assert who(r, "2026-03-30T07:59:00Z") == ()
    assert who(r, "2026-03-30T16:59:00Z") != ()
    assert who(r, "2026-03-30T17:00:00Z") == ()  # 18:00 BST


def test_several_windows_and_a_window_to_midnight() -> None:
    late = WorkingWindow(days=("sat",), start="20:00", end="24:00")
    early = WorkingWindow(days=("sun",), start="00:00", end="02:00")
    r = rotation(timezone="UTC", working_hours=(WEEKDAYS, late, early))
    answer = on_call(r, at("2026-01-10T21:00:00Z"))  # Saturday night
    assert answer.contacts == ("alice",)
    assert answer.until == "2026-01-11T02:00:00Z"  # the two windows are one stretch
    assert on_call(r, at("2026-01-11T03:00:00Z")).reason == (
        "no one: outside working hours Mon-Fri 09:00-18:00 and Sat 20:00-24:00 and Sun "
        "00:00-02:00, next on call Mon 09:00 bob"
    )


def test_before_start_with_the_start_outside_working_hours_says_who_is_next() -> None:
    r = rotation(start="2026-01-04T09:00", working_hours=(WEEKDAYS,))  # a Sunday
    answer = on_call(r, at("2026-01-01T00:00:00Z"))
    assert answer.reason == (
        "no one: the rotation starts 2026-01-04 09:00, next on call Mon 09:00 alice"
    )
    assert answer.until == "2026-01-05T09:00:00Z"


# -- overrides ---------------------------------------------------------------------------------
def test_an_override_replaces_the_shift_and_the_last_added_wins() -> None:
    r = rotation(participants=("alice", "bob", "chen"), on_call=2)
    first = override("ov-1", "dana", "2026-01-06T00:00:00Z", "2026-01-08T00:00:00Z",
                     "2026-01-01T10:00:00Z")  # fmt: skip
    second = override("ov-2", "erin", "2026-01-07T00:00:00Z", "2026-01-07T12:00:00Z",
                      "2026-01-02T10:00:00Z")  # fmt: skip
    both = (second, first)  # the order given does not matter: the creation time does
    assert who(r, "2026-01-05T12:00:00Z", both) == ("alice", "bob")
    answer = on_call(r, at("2026-01-06T12:00:00Z"), both)
    assert (answer.contacts, answer.source, answer.override_id) == (("dana",), "override", "ov-1")
    assert answer.reason == "dana (override ov-1)"
    assert answer.until == "2026-01-07T00:00:00Z"
    assert who(r, "2026-01-07T06:00:00Z", both) == ("erin",)
    assert on_call(r, at("2026-01-07T13:00:00Z"), both).until == "2026-01-08T00:00:00Z"
    assert who(r, "2026-01-08T00:00:00Z", both) == ("alice", "bob")
    older = override("ov-0", "erin", "2026-01-07T00:00:00Z", "2026-01-07T12:00:00Z",
                     "2025-12-31T10:00:00Z")  # fmt: skip
    assert who(r, "2026-01-07T06:00:00Z", (first, older)) == ("dana",)


def test_an_override_applies_outside_working_hours_and_across_a_handoff() -> None:
    r = rotation(working_hours=(WEEKDAYS,))
    weekend = override("ov-1", "chen", "2026-01-10T00:00:00Z", "2026-01-12T12:00:00Z",
                       "2026-01-01T00:00:00Z")  # fmt: skip
    assert who(r, "2026-01-10T03:00:00Z", (weekend,)) == ("chen",)
    assert who(r, "2026-01-12T10:00:00Z", (weekend,)) == ("chen",)  # bob's shift has begun
    evening = on_call(r, at("2026-01-09T19:00:00Z"), (weekend,))
    assert evening.reason.endswith("next on call Sat 00:00 chen")
    slots = schedule(r, at("2026-01-09T17:00:00Z"), at("2026-01-12T13:00:00Z"), (weekend,))
    assert [(s.start, s.end, s.contacts, s.source) for s in slots] == [
        ("2026-01-09T17:00:00Z", "2026-01-09T18:00:00Z", ("alice",), "rotation"),
        ("2026-01-09T18:00:00Z", "2026-01-10T00:00:00Z", (), "nobody"),
        ("2026-01-10T00:00:00Z", "2026-01-12T12:00:00Z", ("chen",), "override"),
        ("2026-01-12T12:00:00Z", "2026-01-12T13:00:00Z", ("bob",), "rotation"),
    ]


def test_an_override_of_another_rotation_is_refused() -> None:
    other = override("ov-1", "chen", "2026-01-10T00:00:00Z", "2026-01-11T00:00:00Z",
                     "2026-01-01T00:00:00Z", rot="secondary")  # fmt: skip
    with pytest.raises(ValueError, match="ov-1 is for rotation 'secondary', not 'primary'"):
        on_call(rotation(), at("2026-01-10T12:00:00Z"), (other,))


def test_an_override_with_unreadable_times_names_them() -> None:
    bad = override("ov-9", "chen", "tomorrow", "2026-01-11T00:00:00Z", "2026-01-01T00:00:00Z")
    with pytest.raises(ValueError, match="override ov-9: start 'tomorrow' and end"):
        on_call(rotation(), at("2026-01-10T12:00:00Z"), (bad,))


def test_schedule_of_a_week_with_working_hours() -> None:
    r = rotation(working_hours=(WEEKDAYS,), timezone="UTC", shift="daily")
    slots = schedule(r, at("2026-01-05T00:00:00Z"), at("2026-01-07T00:00:00Z"))
    assert [(s.start, s.end, s.contacts) for s in slots] == [
        ("2026-01-05T00:00:00Z", "2026-01-05T09:00:00Z", ()),
        ("2026-01-05T09:00:00Z", "2026-01-05T18:00:00Z", ("alice",)),
        ("2026-01-05T18:00:00Z", "2026-01-06T09:00:00Z", ()),
        ("2026-01-06T09:00:00Z", "2026-01-06T18:00:00Z", ("bob",)),
        ("2026-01-06T18:00:00Z", "2026-01-07T00:00:00Z", ()),
    ]
    assert schedule(r, at("2026-01-05T00:00:00Z"), at("2026-01-05T00:00:00Z")) == []
    with pytest.raises(ValueError, match="before start"):
        schedule(r, at("2026-01-06T00:00:00Z"), at("2026-01-05T00:00:00Z"))


# -- properties ---------------------------------------------------------------------------------
ZONES = ("Europe/London", "America/New_York", "UTC", "Australia/Lord_Howe", "Asia/Kolkata")
SHIFTS = ("daily", "weekly", "12h", "8h", "1h", "3d", "2w", "5h")
BASE = datetime(2026, 1, 1, tzinfo=UTC)


@st.composite
def rotations(draw: st.DrawFn) -> Rotation:
    people = draw(st.lists(st.sampled_from(("a", "b", "c", "d")), min_size=1, max_size=4))
    windows = []
    for _ in range(draw(st.integers(0, 2))):
        days = draw(st.lists(st.sampled_from(("mon", "tue", "wed", "sat", "sun")), min_size=1,
                             max_size=3, unique=True))  # fmt: skip
        start = draw(st.integers(0, 22 * 60))
        end = draw(st.integers(start + 30, 24 * 60))
        windows.append(
            WorkingWindow(
                days=tuple(days),
                start=f"{start // 60:02d}:{start % 60:02d}",
                end=f"{end // 60:02d}:{end % 60:02d}",
            )
        )
    first = BASE + timedelta(minutes=draw(st.integers(-20 * 24 * 60, 40 * 24 * 60)))
    return rotation(
        timezone=draw(st.sampled_from(ZONES)),
        participants=tuple(people),
        on_call=draw(st.integers(1, len(people))),
        shift=draw(st.sampled_from(SHIFTS)),
        start=first.strftime("%Y-%m-%dT%H:%M"),
        working_hours=tuple(windows),
    )


@st.composite
def overrides(draw: st.DrawFn) -> tuple[Override, ...]:
    found = []
    for n in range(draw(st.integers(0, 3))):
        start = BASE + timedelta(minutes=draw(st.integers(0, 60 * 24 * 60)))
        length = timedelta(minutes=draw(st.integers(1, 5 * 24 * 60)))
        created = BASE - timedelta(minutes=draw(st.integers(0, 10_000)))
        found.append(override(f"ov-{n}", f"x{n}", iso(start), iso(start + length), iso(created)))
    return tuple(found)


@settings(max_examples=300, deadline=None)
@given(
    rotations(),
    overrides(),
    st.integers(0, 70 * 24 * 3600),
    st.integers(1, 12 * 24 * 3600),
    st.lists(st.floats(0, 1, exclude_max=True), min_size=1, max_size=5),
)
def test_schedule_is_contiguous_and_agrees_with_on_call(
    r: Rotation, ovs: tuple[Override, ...], offset: int, length: int, probes: list[float]
) -> None:
    start = BASE + timedelta(seconds=offset)
    end = start + timedelta(seconds=length)
    slots = schedule(r, start, end, ovs)
    assert slots[0].start == iso(start)
    assert slots[-1].end == iso(end)
    for slot, following in pairwise(slots):
        assert slot.start < slot.end
        assert slot.end == following.start
        if slot.source != "rotation":  # rotation slots of two shifts may hold the same people
            assert (slot.source, slot.contacts, slot.override_id) != (
                following.source,
                following.contacts,
                following.override_id,
            )
    for fraction in probes:
        moment = start + timedelta(seconds=int(length * fraction))
        slot = next(s for s in slots if s.start <= iso(moment) < s.end)
        answer = on_call(r, moment, ovs)
        assert (answer.contacts, answer.source, answer.override_id) == (
            slot.contacts,
            slot.source,
            slot.override_id,
        )
        if slot.end != iso(end):
            assert answer.until == slot.end
        if answer.source == "rotation":
            assert set(answer.contacts) <= set(r.participants)
            assert 1 <= len(answer.contacts) <= r.on_call
        if answer.source == "nobody" and not r.working_hours:
            assert moment < at(slot.end) <= at(answer.until or slot.end)
            assert answer.reason.startswith("no one: the rotation starts ")


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(ZONES),
    st.sampled_from(("daily", "weekly", "2d")),
    st.integers(0, 23),
    st.integers(0, 400),
)
def test_day_shifts_hand_off_at_the_start_time_of_day(
    zone: str, shift: str, hour: int, day: int
) -> None:
    """Away from a DST change, every handoff is at the start's local time of day."""
    from zoneinfo import ZoneInfo

    r = rotation(timezone=zone, shift=shift, start=f"2026-01-05T{hour:02d}:15")
    moment = BASE + timedelta(days=day, hours=12)
    until = on_call(r, moment).until
    assert until is not None
    local = at(until).astimezone(ZoneInfo(zone))
    folded_into_gap = local.hour != hour
    if not folded_into_gap:
        assert (local.hour, local.minute) == (hour, 15)
    else:  # only where that day's wall clock skipped the hour
        assert local.utcoffset() != (local - timedelta(days=1)).utcoffset()
