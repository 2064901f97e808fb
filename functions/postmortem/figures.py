"""The incident's figures: time to open, page, acknowledge and recover (the per-incident values
behind MTTA and MTTR), how long it was open, and how much it absorbed.

All durations count from the first signal (the alarm's own state-change time), because that is
when users started to feel it, not when the runbook noticed.
"""

from __future__ import annotations

import msgspec

from incidents.model import Incident
from postmortem.history import WorkflowHistory
from postmortem.timeline import Moment, first, signals_absorbed


class Figure(msgspec.Struct, frozen=True):
    """A named value and how it was measured (or why it could not be)."""

    name: str
    value: str
    basis: str
    seconds: float | None = None


def duration(seconds: float) -> str:
    """`45s`, `17m 03s`, `2h 05m 00s`, `3d 01h 00m`."""
    total = max(round(seconds), 0)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h {minutes:02d}m"
    if hours:
        return f"{hours}h {minutes:02d}m {secs:02d}s"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def _between(name: str, start: Moment | None, end: Moment | None, missing: str) -> Figure:
    if start is None or end is None:
        return Figure(name, "-", missing)
    seconds = (end.at - start.at).total_seconds()
    basis = f"from {start.label.lower()} to {end.label.lower()}"
    return Figure(name, duration(seconds), basis, seconds)


def figures(
    incident: Incident, moments: list[Moment], history: WorkflowHistory, page_status: str
) -> list[Figure]:
    """Time to open, page (or notify, when the severity does not page), acknowledge and
    recover; time open; signals absorbed; escalations; timeline entries."""
    signal = first(moments, "first_signal")
    paged = first(moments, "paged")
    notified = first(moments, "notified")
    recovered = first(moments, "recovered")
    acknowledged = first(moments, "acknowledged")
    escalations = [m for m in moments if m.key == "escalated"]
    result = [_between("Time to open", signal, first(moments, "opened"), "no start recorded")]
    if page_status == "sent":
        missing = "the page went out, but the execution history does not show when"
        result.append(_between("Time to page", signal, paged, missing))
    elif page_status != "skipped":
        result.append(_between("Time to page", signal, paged, f"no page was sent ({page_status})"))
    else:
        result.append(_between("Time to notify", signal, notified, "no notification was sent"))
    result.append(
        _between(
            "Time to acknowledge (MTTA)",
            signal,
            acknowledged,
            "no acknowledgement was recorded",
        )
    )
    result.append(
        _between(
            "Time to recover (MTTR)",
            signal,
            recovered,
            "not recovered: the incident closed unresolved",
        )
    )
    result.append(_between("Time open", signal, first(moments, "closed"), "not closed"))
    absorbed = signals_absorbed(incident)
    result.append(
        Figure(
            "Alarms and events absorbed",
            str(absorbed),
            "the opening signal and every one that joined the open incident",
        )
    )
    result.append(
        Figure(
            "Escalations",
            str(len(escalations)),
            "escalation pages while waiting for recovery",
        )
    )
    result.append(
        Figure(
            "Timeline entries",
            f"{len(incident.timeline)} + {len(history.entries)}",
            "incident record + execution history",
        )
    )
    return result
