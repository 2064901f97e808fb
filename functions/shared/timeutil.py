"""Time helpers: every timestamp we store is ISO-8601 UTC with a `Z`, sortable as a string."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

# Set only on the local emulator during `runbook replay` (shared/virtual_clock.py).
VIRTUAL_CLOCK_ENV = "RUNBOOK_VIRTUAL_CLOCK"


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC: the incident's clock, which during a replay
    is the replayed history's (shared/virtual_clock.py)."""
    now = datetime.now(UTC)
    clock = os.environ.get(VIRTUAL_CLOCK_ENV)
    if clock:
        from shared.virtual_clock import virtual_time  # only ever imported during a replay

        return virtual_time(now, clock)
    return now


def clock_speed() -> float:
    """How many seconds of the incident's clock pass in one of the machine's: 1, except
    during a replay (a wait the workflow runs in wall seconds is this much shorter)."""
    clock = os.environ.get(VIRTUAL_CLOCK_ENV)
    if not clock:
        return 1.0
    from shared.virtual_clock import read_anchor

    return read_anchor(clock).speed


def wallnow() -> datetime:
    """The machine's own time, also during a replay: for leases that measure how long a
    delivery has been silent (claims, workflow starts), which are about the machinery, not the
    history, and must not shrink when a replay compresses time."""
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """ISO-8601 UTC with a `Z` and whole seconds, the format of the table's sort keys."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_iso() -> str:
    """`iso(utcnow())`, the stamp for `updated_at` and timeline entries."""
    return iso(utcnow())


def parse_time(value: str | datetime) -> datetime:
    """Parse the timestamps AWS sends (`...Z`, `+00:00`, `+0000`, fractional seconds): the
    standard library's ISO-8601 parser reads all of them from Python 3.11 on; a time without
    a zone is UTC."""
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(value.strip())
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def in_zone(moment: datetime, zone: str) -> str:
    """Render a moment in a named zone for humans, e.g. `2024-05-01 14:03 CEST`."""
    local = moment.astimezone(ZoneInfo(zone))
    return local.strftime("%Y-%m-%d %H:%M:%S %Z")
