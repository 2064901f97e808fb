"""The incident's key moments and full timeline, read from the incident record, the execution
history and the workflow's results, in time order.

Each moment says where it was read from, so a reviewer can tell a recorded fact from one the
workflow's history implies. Record entries the runbook writes today (`opened`, `workflow
started`, `classified`, `alarm fired again`, `channel created`, `monitoring`, `resolved`,
`recovery signal`) and those the paging work adds (`acknowledged...`, `escalat...`) are
recognised by name.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import msgspec

from incidents.model import Incident, TimelineEntry
from postmortem.history import StateVisit, WorkflowHistory
from shared.timeutil import parse_time

RECORD = "incident record"
HISTORY = "execution history"
RESULT = "workflow result"

# Milestone keys, in the order they happen when times tie.
ORDER = (
    "first_signal",
    "opened",
    "paged",
    "notified",
    "channel",
    "diagnostics",
    "monitoring",
    "acknowledged",
    "escalated",
    "flapped",
    "recovered",
    "timed_out",
    "closed",
)
PAGE_STATES = ("PageOnCall", "PageOnCallHigh")
PAGE_FAILED_STATES = ("PageFailed", "PageHighFailed")
NOTIFY_STATES = ("NotifyTeam",)
NOTIFY_FAILED_STATES = ("NotifyFailed",)
CHANNEL_STATES = ("CreateIncidentChannel",)
CHANNEL_FAILED_STATES = ("ChannelFailed",)
DIAGNOSTICS_STATES = ("CollectDiagnostics", "CollectDiagnosticsHigh", "CollectDiagnosticsStandard")
DIAGNOSTICS_FAILED_STATES = (
    "DiagnosticsFailed",
    "DiagnosticsHighFailed",
    "DiagnosticsStandardFailed",
)
MONITOR_STATES = ("MonitorRecovery",)
# Where the workflow gave up waiting: after the escalations (RecoveryUnresolved); older
# definitions closed at the first timeout (RecoveryTimedOut).
TIMED_OUT_STATES = ("RecoveryUnresolved", "RecoveryTimedOut")
CORRELATED_EVENTS = ("alarm fired again", "correlated")


class Moment(msgspec.Struct, frozen=True):
    """Something that happened, when, and where we read it."""

    at: datetime
    label: str
    detail: str = ""
    source: str = ""
    key: str = ""

    def sort_key(self) -> tuple[datetime, int]:
        rank = ORDER.index(self.key) if self.key in ORDER else len(ORDER)
        return (self.at, rank)


def in_order(moments: Iterable[Moment]) -> list[Moment]:
    """By time; simultaneous moments in the order an incident goes through them."""
    return sorted(moments, key=Moment.sort_key)


def _time(value: Any) -> datetime | None:
    try:
        return parse_time(value) if value else None
    except (TypeError, ValueError):
        return None


def _records(incident: Incident, *prefixes: str) -> list[TimelineEntry]:
    return [e for e in incident.timeline if e.event.lower().startswith(prefixes)]


def _part(response: dict[str, Any], name: str) -> dict[str, Any]:
    value = response.get(name)
    return value if isinstance(value, dict) else {}


def _visit_moment(
    visit: StateVisit | None, label: str, key: str, detail: str = "", exit_time: bool = True
) -> Moment | None:
    if visit is None:
        return None
    at = _time(visit.exited if exit_time and visit.exited else visit.entered)
    return Moment(at, label, detail, HISTORY, key) if at else None


def _response_moments(history: WorkflowHistory, response: dict[str, Any]) -> list[Moment | None]:
    page, notify = _part(response, "page"), _part(response, "notification")
    diagnostics, channel = _part(response, "diagnostics"), _part(response, "channel")
    found: list[Moment | None] = []
    if page.get("status") == "sent":
        found.append(_visit_moment(history.first(*PAGE_STATES), "Page sent", "paged"))
    elif page.get("status") == "failed":
        detail = str(page.get("error", ""))
        found.append(_visit_moment(history.first(*PAGE_FAILED_STATES), "Page failed", "", detail))
    if notify.get("status") == "notified":
        found.append(_visit_moment(history.first(*NOTIFY_STATES), "Team notified", "notified"))
    elif notify.get("status") == "failed":
        visit = history.first(*NOTIFY_FAILED_STATES)
        found.append(_visit_moment(visit, "Notification failed", "", str(notify.get("error", ""))))
    if channel.get("status") == "failed":
        visit = history.first(*CHANNEL_FAILED_STATES)
        found.append(_visit_moment(visit, "Channel failed", "", str(channel.get("error", ""))))
    status = str(diagnostics.get("status", ""))
    if status == "failed" and diagnostics.get("error"):
        visit = history.first(*DIAGNOSTICS_FAILED_STATES)
        detail = str(diagnostics.get("error", ""))
        found.append(_visit_moment(visit, "Diagnostics failed", "diagnostics", detail))
    elif status:
        visit = history.first(*DIAGNOSTICS_STATES)
        found.append(_visit_moment(visit, f"Diagnostics finished ({status})", "diagnostics"))
    return found


def _channel_moment(
    incident: Incident, history: WorkflowHistory, response: dict[str, Any]
) -> Moment | None:
    recorded = _records(incident, "channel created")
    if recorded and (at := _time(recorded[0].at)):
        return Moment(at, "Channel created", recorded[0].detail, RECORD, "channel")
    if _part(response, "channel").get("status") == "created":
        return _visit_moment(history.first(*CHANNEL_STATES), "Channel created", "channel")
    return None


def _recovery_moments(
    incident: Incident, history: WorkflowHistory, recovery: dict[str, Any]
) -> list[Moment | None]:
    status = recovery.get("status")
    if status in ("recovered", "resolved"):
        at = _time(recovery.get("at")) or _time(incident.resolved_at)
        monitor = history.first(*MONITOR_STATES)
        source = RESULT
        if at is None and monitor is not None:
            at, source = _time(monitor.exited), HISTORY
        label = "Recovered (alarm OK)" if status == "recovered" else "Resolved"
        by = recovery.get("by") or incident.resolved_by or "unknown"
        note = recovery.get("note") or incident.resolution_note or ""
        detail = f"by {by}" + (f": {note}" if note else "")
        return [Moment(at, label, detail, source, "recovered") if at else None]
    if status == "timed_out":
        visit = history.first(TIMED_OUT_STATES[0]) or history.first(*TIMED_OUT_STATES[1:])
        label = "Recovery wait timed out"
        return [_visit_moment(visit, label, "timed_out", "nobody resolved it", exit_time=False)]
    if status == "failed":
        detail = str(recovery.get("error", ""))
        visit = history.first("RecoveryMonitorFailed")
        return [_visit_moment(visit, "Recovery monitoring failed", "", detail, exit_time=False)]
    return []


def _human_moments(incident: Incident, history: WorkflowHistory) -> list[Moment | None]:
    found: list[Moment | None] = []
    for entry in _records(incident, "ack"):
        at = _time(entry.at)
        found.append(
            Moment(at, "Acknowledged", entry.detail, RECORD, "acknowledged") if at else None
        )
    # `escalated` is the page; an operator's `escalation requested` precedes its own page.
    for entry in _records(incident, "escalated"):
        at = _time(entry.at)
        found.append(Moment(at, "Escalated", entry.detail, RECORD, "escalated") if at else None)
    if not _records(incident, "escalated"):
        for visit in history.matching("escalate"):
            found.append(_visit_moment(visit, "Escalated", "escalated", visit.name, False))
    for entry in _records(incident, "flapped"):
        at = _time(entry.at)
        detail = entry.detail or "the alarm fired again during the stabilisation wait"
        found.append(Moment(at, "Flapped", detail, RECORD, "flapped") if at else None)
    return found


def key_moments(
    incident: Incident,
    history: WorkflowHistory,
    response: dict[str, Any],
    recovery: dict[str, Any],
    closed_at: str,
    status: str,
) -> list[Moment]:
    """First signal, opened, paged, channel, diagnostics, acknowledged, escalations,
    recovered or timed out, closed: whichever happened, in time order."""
    first = _time(incident.opened_at)
    found: list[Moment | None] = [
        Moment(
            first, "First signal", incident.alarm_name or incident.source, RECORD, "first_signal"
        )
        if first
        else None
    ]
    started = _time(history.started)
    recorded = _records(incident, "workflow started")
    if started:
        found.append(Moment(started, "Incident opened", "workflow started", HISTORY, "opened"))
    elif recorded and (at := _time(recorded[0].at)):
        found.append(Moment(at, "Incident opened", "workflow started", RECORD, "opened"))
    found += _response_moments(history, response)
    found.append(_channel_moment(incident, history, response))
    waiting = _records(incident, "monitoring")
    if waiting and (at := _time(waiting[0].at)):
        found.append(Moment(at, "Waiting for recovery", "", RECORD, "monitoring"))
    else:
        monitor = history.first(*MONITOR_STATES)
        found.append(_visit_moment(monitor, "Waiting for recovery", "monitoring", "", False))
    found += _human_moments(incident, history)
    found += _recovery_moments(incident, history, recovery)
    closed = _time(closed_at)
    if closed:
        found.append(Moment(closed, f"Closed {status}", "postmortem written", RESULT, "closed"))
    return in_order(m for m in found if m is not None)


def full_timeline(incident: Incident, history: WorkflowHistory) -> list[Moment]:
    """Every record entry and every workflow step, merged in time order."""
    moments = [
        Moment(at, entry.event, entry.detail, RECORD)
        for entry in incident.timeline
        if (at := _time(entry.at))
    ]
    moments += [
        Moment(at, entry.event, entry.detail, HISTORY)
        for entry in history.entries
        if (at := _time(entry.at))
    ]
    return in_order(moments)


def first(moments: list[Moment], key: str) -> Moment | None:
    """The earliest moment with this milestone key."""
    return next((m for m in moments if m.key == key), None)


def signals_absorbed(incident: Incident) -> int:
    """How many signals the incident took in: the ingest counter, else its record entries."""
    counted = getattr(incident, "signal_count", None) or getattr(incident, "event_count", None)
    if isinstance(counted, int | float) and counted > 0:
        return int(counted)
    return 1 + len(_records(incident, *CORRELATED_EVENTS))
