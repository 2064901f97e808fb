"""Incident Manager recurrences -> start, shift and workingHours (runbook.importers.rotations).

The reference for the file's side is docs/oncall.md ("Rotation arithmetic"): shifts are added in
local wall-clock time, so the tests check local handoff times across daylight-saving changes.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from runbook.importers.rotations import UnsupportedRecurrence, shift_text, timing, working_hours

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")


def hm(hour: int, minute: int = 0) -> dict[str, int]:
    return {"HourOfDay": hour, "MinuteOfHour": minute}


def daily(*times: dict[str, int], multiplier: int = 1) -> dict[str, object]:
    return {"NumberOfOnCalls": 1, "RecurrenceMultiplier": multiplier, "DailySettings": list(times)}


def weekly(*days: tuple[str, dict[str, int]], multiplier: int = 1) -> dict[str, object]:
    return {
        "NumberOfOnCalls": 1,
        "RecurrenceMultiplier": multiplier,
        "WeeklySettings": [{"DayOfWeek": d, "HandOffTime": t} for d, t in days],
    }


def local_handoffs(start: str, shift_hours: int, count: int) -> list[datetime]:
    """What docs/oncall.md says: start + k x shift in local wall-clock time."""
    base = datetime.fromisoformat(start)
    return [base + timedelta(hours=shift_hours * k) for k in range(count)]


@pytest.mark.parametrize(
    ("hours", "text"),
    [(24, "daily"), (48, "2d"), (168, "weekly"), (336, "2w"), (12, "12h"), (36, "36h")],
)
def test_shift_text_uses_the_largest_whole_unit(hours: int, text: str) -> None:
    assert shift_text(hours) == text


def test_one_daily_handoff_is_daily_at_that_time() -> None:
    # 2026-02-01 14:00 UTC is 09:00 in New York (EST): exactly a handoff.
    t = timing(daily(hm(9)), datetime(2026, 2, 1, 14, tzinfo=UTC), NEW_YORK, NOW)
    assert (t.start, t.shift, t.working_hours, t.approximations) == (
        "2026-02-01T09:00",
        "daily",
        None,
        (),
    )


def test_start_between_handoffs_goes_back_to_the_handoff_before() -> None:
    # 07:30 local is before the 09:00 handoff: participants[0]'s shift began the day before.
    t = timing(daily(hm(9)), datetime(2026, 2, 1, 12, 30, tzinfo=UTC), NEW_YORK, NOW)
    assert t.start == "2026-01-31T09:00"
    assert t.approximations == ()  # in the past: both tools agree from StartTime on


def test_a_future_start_between_handoffs_is_said() -> None:
    t = timing(daily(hm(9)), datetime(2026, 4, 1, 12, 30, tzinfo=UTC), NEW_YORK, NOW)
    assert t.start == "2026-03-31T09:00"
    assert len(t.approximations) == 1
    assert "2026-04-01 08:30" in t.approximations[0]
    assert "2026-03-31 09:00" in t.approximations[0]


def test_start_is_local_wall_clock_in_summer_time() -> None:
    # 08:00 UTC on 1 July is 09:00 BST: the file's start is the local time.
    t = timing(weekly(("WED", hm(9))), datetime(2026, 7, 1, 8, tzinfo=UTC), LONDON, NOW)
    assert (t.start, t.shift) == ("2026-07-01T09:00", "weekly")


def test_even_daily_handoffs_are_an_hour_shift_that_keeps_local_times_across_dst() -> None:
    recurrence = daily(hm(21), hm(9))  # listed out of order, as the API may
    t = timing(recurrence, datetime(2026, 3, 1, 14, tzinfo=UTC), NEW_YORK, NOW)
    assert (t.start, t.shift, t.approximations) == ("2026-03-01T09:00", "12h", ())
    # New York springs forward on 8 March 2026: handoffs stay at 09:00 and 21:00 local.
    handoffs = local_handoffs(t.start, 12, 20)
    assert {h.strftime("%H:%M") for h in handoffs} == {"09:00", "21:00"}
    aware = [h.replace(tzinfo=NEW_YORK).astimezone(UTC) for h in handoffs]
    lengths = {(b - a).total_seconds() / 3600 for a, b in itertools.pairwise(aware)}
    assert lengths == {12.0, 11.0}  # the shift across the change is an hour short


def test_three_even_handoffs_anchor_at_the_last_one_before_start() -> None:
    recurrence = daily(hm(1), hm(9), hm(17))
    t = timing(recurrence, datetime(2026, 2, 1, 18, tzinfo=UTC), ZoneInfo("UTC"), NOW)
    assert (t.start, t.shift) == ("2026-02-01T17:00", "8h")


def test_uneven_daily_handoffs_are_approximated_and_said() -> None:
    t = timing(daily(hm(9), hm(18)), datetime(2026, 2, 2, 9, tzinfo=UTC), ZoneInfo("UTC"), NOW)
    assert (t.start, t.shift) == ("2026-02-02T09:00", "12h")
    assert len(t.approximations) == 1
    assert "09:00, 18:00" in t.approximations[0]
    assert "every 12h from 09:00" in t.approximations[0]


def test_uneven_handoffs_that_do_not_divide_the_day_fall_back_to_the_day() -> None:
    times = (hm(0), hm(5), hm(13), hm(14), hm(20))
    t = timing(daily(*times), datetime(2026, 2, 2, 0, tzinfo=UTC), ZoneInfo("UTC"), NOW)
    assert t.shift == "daily"
    assert len(t.approximations) == 1
    assert "here every 24h from 00:00" in t.approximations[0]


def test_multiplier_on_one_handoff_is_days_or_weeks() -> None:
    start = datetime(2026, 2, 2, 9, tzinfo=UTC)
    assert timing(daily(hm(9), multiplier=3), start, ZoneInfo("UTC"), NOW).shift == "3d"
    assert timing(weekly(("MON", hm(9)), multiplier=2), start, ZoneInfo("UTC"), NOW).shift == "2w"


def test_multiplier_on_several_even_handoffs_is_said() -> None:
    t = timing(daily(hm(9), hm(21), multiplier=2), datetime(2026, 2, 2, 9, tzinfo=UTC), LONDON, NOW)
    assert t.shift == "daily"
    assert len(t.approximations) == 1 and "every 2 days" in t.approximations[0]


def test_weekly_handoff_anchors_on_its_weekday() -> None:
    # Thursday 12 Feb 2026; the handoff is Monday 09:00 -> Monday 9 Feb.
    t = timing(weekly(("MON", hm(9))), datetime(2026, 2, 12, 15, tzinfo=UTC), LONDON, NOW)
    assert (t.start, t.shift) == ("2026-02-09T09:00", "weekly")
    assert datetime.fromisoformat(t.start).weekday() == 0


def test_every_day_of_the_week_at_one_time_is_daily() -> None:
    days = [(d, hm(8, 30)) for d in ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")]
    t = timing(weekly(*days), datetime(2026, 2, 12, 15, tzinfo=UTC), ZoneInfo("UTC"), NOW)
    assert (t.start, t.shift, t.approximations) == ("2026-02-12T08:30", "daily", ())


def test_uneven_weekly_handoffs_keep_the_weekly_cycle() -> None:
    t = timing(
        weekly(("MON", hm(9)), ("THU", hm(9))),
        datetime(2026, 2, 9, 9, tzinfo=UTC),
        ZoneInfo("UTC"),
        NOW,
    )
    assert (t.start, t.shift) == ("2026-02-09T09:00", "84h")
    assert "Mon 09:00, Thu 09:00" in t.approximations[0]


def test_monthly_is_not_carried_over() -> None:
    recurrence = {
        "NumberOfOnCalls": 1,
        "RecurrenceMultiplier": 1,
        "MonthlySettings": [{"DayOfMonth": 1, "HandOffTime": hm(9)}],
    }
    with pytest.raises(UnsupportedRecurrence, match=r"recurs monthly \(day 1 09:00\)"):
        timing(recurrence, datetime(2026, 1, 1, 9, tzinfo=UTC), ZoneInfo("UTC"), NOW)


def test_no_handoff_settings_at_all() -> None:
    with pytest.raises(UnsupportedRecurrence, match="no daily, weekly or monthly"):
        timing({"NumberOfOnCalls": 1, "RecurrenceMultiplier": 1}, NOW, LONDON, NOW)


def test_shift_coverages_become_grouped_working_hours() -> None:
    business = [{"Start": hm(9), "End": hm(18)}]
    coverages = {d: business for d in ("FRI", "MON", "WED", "THU", "TUE")}
    coverages["SAT"] = [{"Start": hm(10), "End": hm(14)}]
    assert working_hours(coverages) == [
        {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "18:00"},
        {"days": ["sat"], "start": "10:00", "end": "14:00"},
    ]


def test_a_coverage_across_midnight_is_two_windows() -> None:
    assert working_hours({"SUN": [{"Start": hm(22), "End": hm(6)}]}) == [
        {"days": ["mon"], "start": "00:00", "end": "06:00"},
        {"days": ["sun"], "start": "22:00", "end": "24:00"},
    ]


def test_a_coverage_ending_at_midnight_ends_the_day() -> None:
    assert working_hours({"MON": [{"Start": hm(18), "End": hm(0)}]}) == [
        {"days": ["mon"], "start": "18:00", "end": "24:00"}
    ]


def test_whole_days_every_day_mean_no_restriction() -> None:
    full = [{"Start": hm(0), "End": hm(0)}]
    days = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
    assert working_hours({d: full for d in days}) is None
    assert working_hours({}) is None
    assert working_hours(None) is None


def test_overlapping_coverages_merge() -> None:
    windows = [{"Start": hm(9), "End": hm(12)}, {"Start": hm(11), "End": hm(15)}]
    assert working_hours({"TUE": windows}) == [{"days": ["tue"], "start": "09:00", "end": "15:00"}]


def test_coverage_of_no_time_is_unsupported() -> None:
    with pytest.raises(UnsupportedRecurrence):
        working_hours({"MON": []})
