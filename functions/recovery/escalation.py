"""Escalation: nobody resolved the incident in time (or an operator asked). Decide whether to
page the escalation topic and whether to close, and word the page for a phone's lock screen."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from incidents.model import Incident
from incidents.notification import (
    SUBJECT_LIMIT,
    ascii_line,
    console_lines,
    marked,
    moment_lines,
    service_of,
)
from incidents.payloads import EscalationRequest
from shared.timeutil import parse_time

_REASONS = {
    "timeout": "nobody resolved it within the wait",
    "heartbeat": "the recovery watch stopped sending heartbeats (recoveries may go unnoticed)",
    "operator": "an operator asked to escalate",
}


class Decision(msgspec.Struct, frozen=True):
    """`page`: publish to the escalation topic; `close`: stop waiting (UNRESOLVED)."""

    page: bool
    close: bool
    timed_out: bool


def decide(incident: Incident, request: EscalationRequest, max_escalations: int) -> Decision:
    """Timeouts (and lapsed heartbeats) count toward `max_escalations`; the one past it closes
    the incident, with a last page saying so. An acknowledged incident is not paged for a
    timeout (somebody owns it) but still closes when the waits run out."""
    timed_out = request.reason != "operator"
    close = timed_out and (incident.timeout_count or 0) + 1 > max_escalations
    acknowledged = bool(incident.acknowledged_at)
    page = close or request.reason == "operator" or not acknowledged
    return Decision(page=page, close=close, timed_out=timed_out)


def elapsed(since: str, now: datetime) -> str:
    """`1 h 05 min`, `12 min`, `40 s`: how long the incident has been open."""
    seconds = max(0, int((now - parse_time(since)).total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    hours, minutes = divmod(seconds // 60, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def channel_url(incident: Incident) -> str | None:
    """A link that opens the incident's Slack channel (Slack resolves the workspace)."""
    channel = incident.channel
    if channel and channel.status == "created" and channel.id:
        return f"https://slack.com/app_redirect?channel={channel.id}"
    return None


def subject(incident: Incident, decision: Decision, count: int, open_for: str) -> str:
    """`[ESCALATION 1] orders-api: orders-api-errors - open 1 h 05 min` (< 100 characters)."""
    tag = "CLOSING UNRESOLVED" if decision.close else f"ESCALATION {count}"
    what = incident.alarm_name or incident.title
    text = ascii_line(marked(incident, f"[{tag}] {service_of(incident)}: {what} - open {open_for}"))
    if len(text) > SUBJECT_LIMIT:
        text = text[: SUBJECT_LIMIT - 3].rstrip() + "..."
    return text


def message(
    incident: Incident,
    request: EscalationRequest,
    decision: Decision,
    *,
    count: int,
    max_escalations: int,
    now: datetime,
    timezone: str,
    region: str,
) -> str:
    """The escalation page's body: what is still open, for how long, why this page, links."""
    opened = parse_time(incident.opened_at)
    open_for = elapsed(incident.opened_at, now)
    lines = [
        f"{incident.severity.upper()} incident {incident.incident_id} is still open after "
        f"{open_for}.",
        f"Why this page: {_REASONS[request.reason]}"
        + (f" ({request.by}: {request.note})" if request.reason == "operator" else ""),
    ]
    if decision.close:
        lines.append(
            f"The runbook stops waiting after {max_escalations} escalation(s) and closes it as "
            "UNRESOLVED; the postmortem follows. Please take over."
        )
    else:
        lines.append(f"Escalation {count} (it closes after {max_escalations} unanswered).")
    lines.append(f"What: {incident.title}")
    if incident.alarm_name:
        lines.append(f"Alarm: {incident.alarm_name}")
    lines += moment_lines("Opened", opened, timezone)
    if incident.acknowledged_at:
        lines.append(f"Acknowledged by {incident.acknowledged_by} at {incident.acknowledged_at}")
    else:
        lines.append("Nobody has acknowledged it.")
    verdict = _verdict(incident)
    if verdict:
        lines.append(f"Verdict: {verdict}")
    lines += console_lines(incident, region)
    link = channel_url(incident)
    if link:
        name = incident.channel.name if incident.channel else ""
        lines.append(f"Slack channel: #{name} {link}")
    lines.append(f"Acknowledge: runbook ack {incident.incident_id}")
    lines.append(f'Resolve: runbook resolve {incident.incident_id} --note "what fixed it"')
    return "\n".join(lines)


def _verdict(incident: Incident) -> str:
    verdict: dict[str, Any] = incident.verdict or {}
    return str(verdict.get("headline") or "")
