"""Who is on call in a rotation, at an instant or over a period (docs/oncall.md, "Rotation
arithmetic"): shifts in local wall-clock time, working hours, and run-time overrides.

One timeline builder serves both questions: `schedule` returns its slots and `on_call` the
slot that contains the instant, so the two can never disagree. Handoff k is `start + k x
shift` on the local wall clock, resolved with PEP 495 `fold=0`: a handoff in a spring-forward
gap happens that far past the gap's start on the new clock (02:30 -> 03:30), one in the
repeated hour of a fall-back at its first occurrence. Instants are handled in UTC, to the
second.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Literal
from zoneinfo import ZoneInfo

import msgspec

from oncall.declaration import DAYS, Rotation, WorkingWindow
from shared.timeutil import iso, parse_time

Source = Literal["rotation", "override", "nobody"]
_SHIFT = re.compile(r"([1-9]\d*)([hdw])")
_UNIT_HOURS = {"h": 1, "d": 24, "w": 7 * 24}
# How far ahead `on_call` looks for the end of its answer (and who is next), at first and at
# most: working hours recur every week, but a long shift or override ends later.
_FIRST_HORIZON = timedelta(days=8)
_MAX_HORIZON = timedelta(days=5 * 366)


class Override(msgspec.Struct, frozen=True, kw_only=True):
    """During [start, end) (ISO-8601 UTC) `contact` replaces the rotation's on-call
    participants, inside or outside working hours; of overlapping ones the last added wins."""

    override_id: str
    rotation: str
    contact: str
    start: str
    end: str
    created_at: str
    created_by: str = ""


class OnCall(msgspec.Struct, frozen=True, kw_only=True):
    """The answer at `at`, why (`reason`, one readable line) and `until` when it changes."""

    rotation: str
    at: str
    contacts: tuple[str, ...]
    source: Source
    reason: str
    override_id: str | None = None
    until: str | None = None


class Slot(msgspec.Struct, frozen=True, kw_only=True):
    """[start, end) during which `contacts` (empty: nobody) are on call."""

    start: str
    end: str
    contacts: tuple[str, ...]
    source: str
    override_id: str | None = None


class _Piece(msgspec.Struct, kw_only=True):
    start: datetime
    end: datetime
    contacts: tuple[str, ...]
    source: Source
    override_id: str | None = None
    shift: int | None = None  # the shift index of a rotation piece


def shift_hours(shift: str) -> int:
    """A shift's length in wall-clock hours; ValueError for anything but the file's forms."""
    if shift == "daily":
        return 24
    if shift == "weekly":
        return 7 * 24
    found = _SHIFT.fullmatch(shift)
    if not found:
        raise ValueError(f"shift {shift!r} is not daily, weekly, <N>h, <N>d or <N>w")
    return int(found.group(1)) * _UNIT_HOURS[found.group(2)]


def _utc(local: datetime, zone: ZoneInfo) -> datetime:
    """A local wall-clock time as an instant (fold=0: see the module docstring)."""
    return local.replace(tzinfo=zone, fold=0).astimezone(UTC)


def _aware(moment: datetime) -> datetime:
    """Naive datetimes are UTC, as everywhere in the project (shared.timeutil)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _clock(text: str) -> time:
    hours, minutes = (int(part) for part in text.split(":"))
    return time(hours, minutes) if hours < 24 else time(0, 0)


class _Shifts:
    """Handoff arithmetic of one rotation."""

    def __init__(self, rotation: Rotation) -> None:
        self.rotation = rotation
        self.zone = ZoneInfo(rotation.timezone)
        self.local_start = datetime.strptime(rotation.start, "%Y-%m-%dT%H:%M")
        self.step = timedelta(hours=shift_hours(rotation.shift))
        self.first = _utc(self.local_start, self.zone)
        if not rotation.participants:
            raise ValueError(f"rotation {rotation.id}: no participants")

    def begin(self, k: int) -> datetime:
        return _utc(self.local_start + k * self.step, self.zone)

    def index(self, moment: datetime) -> int:
        """The shift holding `moment` (>= the first handoff): the last k with begin(k) <= it."""
        local = moment.astimezone(self.zone).replace(tzinfo=None)
        k = max(0, (local - self.local_start) // self.step)
        while k > 0 and self.begin(k) > moment:
            k -= 1
        while self.begin(k + 1) <= moment:
            k += 1
        return k

    def holders(self, k: int) -> tuple[str, ...]:
        people = self.rotation.participants
        count = self.rotation.on_call
        return tuple(dict.fromkeys(people[(k * count + i) % len(people)] for i in range(count)))

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.zone)


def _windows(shifts: _Shifts, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """The working-hours windows meeting [start, end), as merged UTC intervals."""
    zone = shifts.zone
    first = shifts.local(start).date() - timedelta(days=1)
    last = shifts.local(end).date() + timedelta(days=1)
    found: list[tuple[datetime, datetime]] = []
    day: date = first
    while day <= last:
        weekday = DAYS[day.weekday()]
        for window in shifts.rotation.working_hours:
            if weekday not in window.days:
                continue
            begin = _utc(datetime.combine(day, _clock(window.start)), zone)
            end_day = day + timedelta(days=1) if window.end == "24:00" else day
            finish = _utc(datetime.combine(end_day, _clock(window.end)), zone)
            if begin < finish and finish > start and begin < end:
                found.append((begin, finish))
        day += timedelta(days=1)
    merged: list[tuple[datetime, datetime]] = []
    for begin, finish in sorted(found):
        if merged and begin <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], finish))
        else:
            merged.append((begin, finish))
    return merged


def _base(shifts: _Shifts, start: datetime, end: datetime) -> list[_Piece]:
    """The rotation alone over [start, end): shifts, cut by working hours."""
    pieces: list[_Piece] = []
    t = start
    if t >= end:
        return pieces
    if t < shifts.first:
        pieces.append(_Piece(start=t, end=min(end, shifts.first), contacts=(), source="nobody"))
        t = shifts.first
    if t >= end:
        return pieces
    windows = _windows(shifts, t, end) if shifts.rotation.working_hours else None
    k = shifts.index(t)
    while t < end:
        lo, hi = max(shifts.begin(k), t), min(shifts.begin(k + 1), end)
        if lo < hi:
            holders = shifts.holders(k)
            if windows is None:
                piece = _Piece(start=lo, end=hi, contacts=holders, source="rotation", shift=k)
                pieces.append(piece)
            else:
                cursor = lo
                for w_start, w_end in windows:
                    a, b = max(w_start, lo), min(w_end, hi)
                    if a >= b:
                        continue
                    if cursor < a:
                        pieces.append(_Piece(start=cursor, end=a, contacts=(), source="nobody"))
                    pieces.append(
                        _Piece(start=a, end=b, contacts=holders, source="rotation", shift=k)
                    )
                    cursor = b
                if cursor < hi:
                    pieces.append(_Piece(start=cursor, end=hi, contacts=(), source="nobody"))
        t = max(t, hi)
        k += 1
    return pieces


Span = tuple[datetime, datetime, Override]


def _spans(rotation: Rotation, overrides: Sequence[Override]) -> list[Span]:
    """The rotation's overrides as instants, in precedence order (the last added last)."""
    spans = []
    for override in overrides:
        if override.rotation != rotation.id:
            raise ValueError(
                f"override {override.override_id} is for rotation {override.rotation!r}, "
                f"not {rotation.id!r}"
            )
        try:
            begin, finish = parse_time(override.start), parse_time(override.end)
        except ValueError:
            raise ValueError(
                f"override {override.override_id}: start {override.start!r} and end "
                f"{override.end!r} must be ISO-8601 times"
            ) from None
        if begin < finish:
            spans.append((begin, finish, override))
    spans.sort(key=lambda span: (span[2].created_at, span[2].override_id))
    return spans


def _with_overrides(pieces: list[_Piece], spans: list[Span]) -> list[_Piece]:
    if not spans:
        return pieces
    out: list[_Piece] = []
    for piece in pieces:
        cuts = sorted(
            {piece.start, piece.end}
            | {t for s, e, _ in spans for t in (s, e) if piece.start < t < piece.end}
        )
        for a, b in pairwise(cuts):
            winner = None
            for s, e, override in spans:
                if s <= a and b <= e:
                    winner = override
            if winner is None:
                out.append(msgspec.structs.replace(piece, start=a, end=b))
            else:
                out.append(
                    _Piece(
                        start=a,
                        end=b,
                        contacts=(winner.contact,),
                        source="override",
                        override_id=winner.override_id,
                    )
                )
    return out


def _merged(pieces: list[_Piece]) -> list[_Piece]:
    """Adjacent pieces with the same answer become one (nobody gaps of any cause included)."""
    out: list[_Piece] = []
    for piece in pieces:
        if out:
            last = out[-1]
            same = (last.source, last.contacts, last.override_id, last.shift) == (
                piece.source,
                piece.contacts,
                piece.override_id,
                piece.shift,
            )
            if same and last.end == piece.start:
                last.end = piece.end
                continue
        out.append(msgspec.structs.replace(piece))
    return out


def _timeline(
    rotation: Rotation, start: datetime, end: datetime, overrides: Sequence[Override]
) -> tuple[_Shifts, list[_Piece]]:
    shifts = _Shifts(rotation)
    pieces = _with_overrides(_base(shifts, start, end), _spans(rotation, overrides))
    return shifts, _merged(pieces)


def schedule(
    rotation: Rotation, start: datetime, end: datetime, overrides: Sequence[Override] = ()
) -> list[Slot]:
    """Contiguous slots covering [start, end): shifts cut by working hours and overrides,
    the gaps with nobody on call included."""
    start, end = _aware(start), _aware(end)
    if end < start:
        raise ValueError(f"schedule: end {iso(end)} is before start {iso(start)}")
    _, pieces = _timeline(rotation, start, end, overrides)
    return [
        Slot(
            start=iso(p.start),
            end=iso(p.end),
            contacts=p.contacts,
            source=p.source,
            override_id=p.override_id,
        )
        for p in pieces
    ]


def _days_text(days: Sequence[str]) -> str:
    """mon..fri -> "Mon-Fri"; runs of three or more as ranges, the rest listed."""
    indexes = sorted({DAYS.index(d) for d in days})
    runs: list[list[int]] = []
    for i in indexes:
        if runs and i == runs[-1][-1] + 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    parts = []
    for run in runs:
        names = [DAYS[i].title() for i in run]
        parts.append(f"{names[0]}-{names[-1]}" if len(run) >= 3 else ",".join(names))
    return ",".join(parts)


def working_hours_text(windows: Sequence[WorkingWindow]) -> str:
    """`Mon-Fri 09:00-18:00`, several windows joined with ` and `."""
    return " and ".join(f"{_days_text(w.days)} {w.start}-{w.end}" for w in windows)


def _who(piece: _Piece) -> str:
    return ", ".join(piece.contacts)


def _reason(shifts: _Shifts, at: datetime, pieces: list[_Piece]) -> str:
    current = pieces[0]
    rotation = shifts.rotation
    if current.source == "override":
        return f"{_who(current)} (override {current.override_id})"
    if current.source == "rotation" and current.shift is not None:
        k = current.shift
        begin, end = shifts.local(shifts.begin(k)), shifts.local(shifts.begin(k + 1))
        text = f"{_who(current)} (shift {begin:%a %H:%M} - {end:%a %H:%M} {rotation.timezone}"
        if rotation.working_hours:
            text += f", working hours {working_hours_text(rotation.working_hours)}"
        return text + ")"
    following = next((p for p in pieces[1:] if p.source != "nobody"), None)
    nxt = f"{shifts.local(following.start):%a %H:%M} {_who(following)}" if following else ""
    if at < shifts.first:
        text = f"no one: the rotation starts {shifts.local_start:%Y-%m-%d %H:%M}"
        if following is not None and following.start != shifts.first:
            text += f", next on call {nxt}"
        return text
    text = f"no one: outside working hours {working_hours_text(rotation.working_hours)}"
    return f"{text}, next on call {nxt}" if following else text


def on_call(rotation: Rotation, at: datetime, overrides: Sequence[Override] = ()) -> OnCall:
    """Who is on call in `rotation` at `at`, why, and until when the answer holds."""
    at = _aware(at).replace(microsecond=0)
    shifts = _Shifts(rotation)
    horizon = _FIRST_HORIZON + max(timedelta(0), shifts.first - at)
    while True:
        _, pieces = _timeline(rotation, at, at + horizon, overrides)
        current = pieces[0]
        settled = current.end < at + horizon and (
            current.source != "nobody" or any(p.source != "nobody" for p in pieces[1:])
        )
        if settled or horizon >= _MAX_HORIZON:
            break
        horizon = min(horizon * 2, _MAX_HORIZON)
    until = iso(current.end) if current.end < at + horizon else None
    return OnCall(
        rotation=rotation.id,
        at=iso(at),
        contacts=current.contacts,
        source=current.source,
        reason=_reason(shifts, at, pieces),
        override_id=current.override_id,
        until=until,
    )
