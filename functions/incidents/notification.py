"""The page / team notification: a subject readable on a phone's lock screen, and a body that
says what fired, when (UTC and the team's zone) and where to look."""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import quote

from incidents.model import Incident
from shared.timeutil import in_zone, parse_time

# SNS subjects: printable ASCII, no line breaks, fewer than 100 characters.
SUBJECT_LIMIT = 99
# What starts every page of a drill (docs/drills.md).
DRILL_TAG = "[DRILL]"
_NOT_PRINTABLE_ASCII = re.compile(r"[^\x20-\x7e]+")


def ascii_line(text: str) -> str:
    return re.sub(r"\s+", " ", _NOT_PRINTABLE_ASCII.sub(" ", text)).strip()


def service_of(incident: Incident) -> str:
    """The affected service for humans: the first resource's id, else the source."""
    return incident.resources[0].id if incident.resources else incident.source


def marked(incident: Incident, text: str) -> str:
    """`[DRILL] <text>` for a drill, so nobody mistakes its page for a real one."""
    return f"{DRILL_TAG} {text}" if incident.drill else text


def subject(incident: Incident) -> str:
    """`[CRITICAL] orders-api: orders-api-errors` (`[DRILL] [CRITICAL] ...` for a drill) cut
    to fit SNS's limit."""
    what = incident.alarm_name or incident.title
    if incident.reopen_count:
        what += " (reopened)"
    text = ascii_line(
        marked(incident, f"[{incident.severity.upper()}] {service_of(incident)}: {what}")
    )
    if len(text) > SUBJECT_LIMIT:
        text = text[: SUBJECT_LIMIT - 3].rstrip() + "..."
    return text


def execution_console_url(execution_arn: str, region: str) -> str:
    """The Step Functions console page of the execution."""
    return (
        f"https://{region}.console.aws.amazon.com/states/home?region={region}"
        f"#/v2/executions/details/{execution_arn}"
    )


def alarm_console_url(alarm_name: str, region: str) -> str:
    """The CloudWatch console page of the alarm."""
    return (
        f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
        f"#alarmsV2:alarm/{quote(alarm_name, safe='')}"
    )


def moment_lines(label: str, moment: datetime, timezone: str) -> list[str]:
    """`When: <UTC>` and, under it, the same moment in the team's zone (when not UTC)."""
    lines = [f"{label}: {in_zone(moment, 'UTC')}"]
    if timezone != "UTC":
        lines.append(" " * (len(label) + 2) + in_zone(moment, timezone))
    return lines


def console_lines(incident: Incident, region: str) -> list[str]:
    """Links to the incident's execution and alarm in the AWS console, where it has them."""
    lines = []
    if incident.execution_arn:
        lines.append(f"Runbook execution: {execution_console_url(incident.execution_arn, region)}")
    if incident.alarm_name:
        lines.append(f"Alarm console: {alarm_console_url(incident.alarm_name, region)}")
    return lines


def message(incident: Incident, timezone: str, default_region: str) -> str:
    """The notification body (plain text: SNS email and SMS render it as is)."""
    region = incident.region or default_region
    opened = parse_time(incident.opened_at)
    lines = [
        marked(incident, f"{incident.severity.upper()} incident {incident.incident_id}"),
        f"What: {incident.title}",
    ]
    if incident.drill:
        lines.append("This is a drill: nothing is broken; it resolves itself.")
    if incident.alarm_name:
        lines.append(f"Alarm: {incident.alarm_name}")
    if incident.description:
        lines.append(f"Details: {incident.description}")
    if incident.resources:
        lines.append("Resources: " + ", ".join(f"{r.id} ({r.type})" for r in incident.resources))
    lines += moment_lines("When", opened, timezone)
    lines.append(f"Severity rule: {incident.severity_rule}")
    if incident.reopen_count:
        lines.append(
            f"Reopened: {incident.reopen_count} time(s), it fired again soon after closing "
            "(flapping?)"
        )
    if incident.signal_count and incident.signal_count > 1:
        lines.append(f"Signals absorbed: {incident.signal_count}")
    if incident.aws_side:
        lines.append(
            f"AWS side: an open AWS Health issue covers this service and region "
            f"({incident.health_event_arn or 'see the AWS Health Dashboard'})"
        )
    if incident.account:
        lines.append(f"Account/region: {incident.account} / {region}")
    lines += console_lines(incident, region)
    lines.append(f'Resolve: runbook resolve {incident.incident_id} --note "what fixed it"')
    return "\n".join(lines)


def build_notification(incident: Incident, timezone: str, default_region: str) -> dict[str, str]:
    """`{"subject", "message"}` as the state machine's SNS tasks expect them."""
    return {"subject": subject(incident), "message": message(incident, timezone, default_region)}
