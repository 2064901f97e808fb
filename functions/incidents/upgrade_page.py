"""The page an upgrade calls for: an incident that a joining signal raised to critical or high
after it was classified pages at its new severity (classify paged at the old one, or not at
all for a standard incident).

The upgrade leaves `upgrade_page_pending` on the record in the same write, and it is cleared
only after the publish, so a failed publish is retried with the event (a redelivery is a
duplicate, which still sends a pending page). Classify clears it when it has not run yet: it
pages at the new severity itself.
"""

from __future__ import annotations

from typing import Any

from incidents.model import Incident
from incidents.notification import build_notification
from incidents.repository import IncidentRepository
from shared.errors import transient_errors


def send_pending_upgrade_page(
    repo: IncidentRepository,
    sns: Any,
    incident_id: str,
    topics: dict[str, str],
    timezone: str,
    region: str,
) -> str | None:
    """Publish a pending upgrade page; returns the severity paged, or None (nothing pending,
    the incident closed, or no topic for that severity)."""
    incident = repo.find(incident_id)
    if incident is None or not incident.upgrade_page_pending or not incident.is_open:
        return None
    severity = incident.upgrade_page_pending
    topic = topics.get(severity, "")
    if not topic:
        return None
    note = upgrade_note(incident)
    notification = build_notification(incident, timezone, region)
    with transient_errors("SNS Publish"):
        sns.publish(
            TopicArn=topic,
            Subject=notification["subject"],
            Message=f"{note}\n{notification['message']}",
            MessageAttributes={
                "severity": {"DataType": "String", "StringValue": severity},
                "incident_id": {"DataType": "String", "StringValue": incident_id},
            },
        )
    repo.clear_upgrade_page(incident_id, severity)
    return severity


def upgrade_note(incident: Incident) -> str:
    """The first line of the page: why this incident pages now."""
    return f"UPGRADED to {incident.severity.upper()} while open ({incident.severity_rule})"
