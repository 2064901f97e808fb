"""An Incident Manager rotation's recurrence as the file's `start`, `shift` and `workingHours`.

Incident Manager hands off at fixed local times (DailySettings: times of day; WeeklySettings:
weekday + time; MonthlySettings: day of month + time), every RecurrenceMultiplier days, weeks or
months, starting at StartTime. The file has one handoff time of day (and weekday) taken from
`start` and a shift length in hours, days or weeks added in local wall-clock time
(docs/oncall.md, "Rotation arithmetic"). So:

- one handoff time -> `daily`/`<N>d` (or `weekly`/`<N>w`), exact;
- several handoff times evenly spaced in whole hours -> `<N>h`, exact (09:00 + 21:00 is `12h`);
- unevenly spaced ones -> the cycle divided evenly (approximated, and said so);
- monthly -> not carried over: a month is not a whole number of days or weeks.

`start` is the last handoff at or before StartTime, so participants[0] holds the shift that
contains StartTime, as in Incident Manager; the two differ only before StartTime.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
IM_DAYS = tuple(d.upper() for d in DAYS)
DAY_MINUTES = 24 * 60
WEEK_MINUTES = 7 * DAY_MINUTES


class UnsupportedRecurrence(Exception):
    """The rotation cannot be written in the file; the message says why (one line)."""


@dataclass(frozen=True)
class Timing:
    start: str  # local wall-clock "YYYY-MM-DDTHH:MM"
    shift: str  # daily | weekly | "<N>h" | "<N>d" | "<N>w"
    working_hours: list[dict[str, Any]] | None
    approximations: tuple[str, ...]  # one line each, for the notes


def clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _minutes(handoff: dict[str, Any] | None) -> int:
    handoff = handoff or {}
    return int(handoff.get("HourOfDay", 0)) * 60 + int(handoff.get("MinuteOfHour", 0))


def shift_text(hours: int) -> str:
    if hours % (7 * 24) == 0:
        weeks = hours // (7 * 24)
        return "weekly" if weeks == 1 else f"{weeks}w"
    if hours % 24 == 0:
        days = hours // 24
        return "daily" if days == 1 else f"{days}d"
    return f"{hours}h"


def _handoff_points(recurrence: dict[str, Any]) -> tuple[list[int], int, str]:
    """Handoff moments as minutes into the cycle (a day or a week), the cycle, its unit."""
    monthly = recurrence.get("MonthlySettings") or []
    daily = recurrence.get("DailySettings") or []
    weekly = recurrence.get("WeeklySettings") or []
    if monthly and not (daily or weekly):
        days = ", ".join(
            f"day {m['DayOfMonth']} {clock(_minutes(m.get('HandOffTime')))}" for m in monthly
        )
        raise UnsupportedRecurrence(
            f"recurs monthly ({days}): shifts here are hours, days or weeks; "
            "write it as a weekly or `<N>d` rotation by hand"
        )
    if daily:
        return sorted({_minutes(h) for h in daily}), DAY_MINUTES, "day"
    if weekly:
        points = {
            IM_DAYS.index(w["DayOfWeek"]) * DAY_MINUTES + _minutes(w.get("HandOffTime"))
            for w in weekly
        }
        return sorted(points), WEEK_MINUTES, "week"
    raise UnsupportedRecurrence("has no daily, weekly or monthly handoff settings")


def _describe(points: list[int], cycle: int) -> str:
    if cycle == DAY_MINUTES:
        return ", ".join(clock(p) for p in points)
    return ", ".join(f"{DAYS[p // DAY_MINUTES].title()} {clock(p % DAY_MINUTES)}" for p in points)


def _shift_minutes(
    points: list[int], cycle: int, unit: str, multiplier: int
) -> tuple[int, int, list[str]]:
    """(shift length, the handoff the sequence is anchored at, approximations)."""
    if len(points) == 1:
        return cycle * multiplier, points[0], []
    k = len(points)
    gaps = {(points[(i + 1) % k] - points[i]) % cycle for i in range(k)}
    handoffs = _describe(points, cycle)
    if len(gaps) == 1 and next(iter(gaps)) % 60 == 0:
        gap = next(iter(gaps))
        said = []
        if multiplier > 1:
            said.append(
                f"hands off at {handoffs} every {multiplier} {unit}s: each shift here is "
                f"{multiplier} handoff intervals ({gap * multiplier // 60}h)"
            )
        return gap * multiplier, points[0], said
    even = cycle // k
    shift = even * multiplier if cycle % k == 0 and even % 60 == 0 else cycle * multiplier
    return (
        shift,
        points[0],
        [
            f"hands off at {handoffs} (not evenly spaced): here every {shift // 60}h from "
            f"{_describe([points[0]], cycle)}"
        ],
    )


def _anchor(local_start: datetime, first_point: int, cycle: int, shift: timedelta) -> datetime:
    """The last handoff of the sequence (first_point + j*shift) at or before local_start."""
    if cycle == DAY_MINUTES:
        base = datetime.combine(local_start.date(), time()) + timedelta(minutes=first_point)
    else:
        monday = local_start.date() - timedelta(days=local_start.weekday())
        base = datetime.combine(monday, time()) + timedelta(minutes=first_point)
    while base > local_start:
        base -= timedelta(minutes=cycle)
    while base + shift <= local_start:
        base += shift
    return base


def working_hours(coverages: dict[str, list[dict[str, Any]]] | None) -> list[dict[str, Any]] | None:
    """ShiftCoverages -> `workingHours`; None when the rotation is on call all the time.

    A coverage whose end is not after its start runs across midnight: it is written as two
    windows, as the file requires ("00:00" as an end is the end of the day).
    """
    if not coverages:
        return None
    windows: dict[int, list[tuple[int, int]]] = {d: [] for d in range(7)}
    for day, times in coverages.items():
        d = IM_DAYS.index(day)
        for t in times or []:
            start, end = _minutes(t.get("Start")), _minutes(t.get("End"))
            if end > start:
                windows[d].append((start, end))
                continue
            windows[d].append((start, DAY_MINUTES))
            if end > 0:
                windows[(d + 1) % 7].append((0, end))
    merged = {d: _merge(w) for d, w in windows.items()}
    if all(w == [(0, DAY_MINUTES)] for w in merged.values()):
        return None
    if not any(merged.values()):
        raise UnsupportedRecurrence("its shift coverage covers no time at all")
    days_of: dict[tuple[int, int], list[int]] = {}
    for d in range(7):
        for window in merged[d]:
            days_of.setdefault(window, []).append(d)
    entries = sorted(days_of.items(), key=lambda item: (item[1][0], item[0]))
    return [
        {"days": [DAYS[d] for d in days], "start": clock(start), "end": clock(end)}
        for (start, end), days in entries
    ]


def _merge(windows: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for start, end in sorted(windows):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def timing(
    recurrence: dict[str, Any], start_time: datetime, zone: ZoneInfo, now: datetime
) -> Timing:
    """The file's view of one rotation; raises UnsupportedRecurrence when there is none."""
    points, cycle, unit = _handoff_points(recurrence)
    multiplier = int(recurrence.get("RecurrenceMultiplier") or 1)
    shift_minutes, first_point, said = _shift_minutes(points, cycle, unit, multiplier)
    local_start = start_time.astimezone(zone).replace(tzinfo=None)
    anchor = _anchor(local_start, first_point, cycle, timedelta(minutes=shift_minutes))
    if anchor != local_start and start_time > now:
        said.append(
            f"starts at {local_start:%Y-%m-%d %H:%M} between handoffs: here its first shift "
            f"begins at the handoff before, {anchor:%Y-%m-%d %H:%M}"
        )
    return Timing(
        start=f"{anchor:%Y-%m-%dT%H:%M}",
        shift=shift_text(shift_minutes // 60),
        working_hours=working_hours(recurrence.get("ShiftCoverages")),
        approximations=tuple(said),
    )
