"""What a responder can do to an open incident: acknowledge, resolve, escalate.

One place for the CLI (`runbook ack|resolve|escalate`), the Slack buttons and the recovery
function, so each path has the same rules and the same clear errors (docs/contracts.md,
"Paging, escalation and operator actions").
"""

from __future__ import annotations

from typing import Any, Literal

from incidents.model import Incident
from incidents.repository import IncidentRepository
from recovery.resume import RecoveryResumer, WaitExpired, closed_reason
from shared.errors import (
    AlreadyAcknowledged,
    AlreadyResolved,
    NotWaiting,
    TransientDependencyError,
)
from shared.timeutil import now_iso

ResolveOutcome = Literal["resumed", "recorded"]


class OperatorActions:
    """Acknowledge, resolve and escalate over the incidents table and Step Functions."""

    def __init__(self, table: Any, sfn: Any) -> None:
        self._repo = IncidentRepository(table)
        self._sfn = sfn
        self._resumer = RecoveryResumer(table, sfn)

    def acknowledge(self, incident_id: str, by: str, note: str = "") -> Incident:
        """Somebody owns it now: escalation pages stop; the incident stays open."""
        if self._repo.acknowledge(incident_id, by, note):
            return self._repo.get(incident_id)
        incident = self._repo.get(incident_id)
        if incident.resolved_at or incident.status in ("RESOLVED", "UNRESOLVED"):
            raise AlreadyResolved(f"incident {incident_id} is already {closed_reason(incident)}")
        if incident.acknowledged_at:
            raise AlreadyAcknowledged(
                f"incident {incident_id} was already acknowledged by "
                f"{incident.acknowledged_by} at {incident.acknowledged_at}"
            )
        raise TransientDependencyError(f"incident {incident_id} kept changing; try again")

    def resolve(self, incident_id: str, by: str, note: str = "") -> ResolveOutcome:
        """Close it now (the workflow writes the postmortem): exactly once."""
        return self._resumer.resolve(incident_id, by=by, note=note, status="resolved")

    def escalate(self, incident_id: str, by: str, note: str = "") -> Literal["resumed"]:
        """Page the escalation topic now, through the waiting workflow (so its history shows
        it); NotWaiting when the workflow is responding or stabilising."""
        incident = self._repo.get(incident_id)
        reason = closed_reason(incident)
        if reason:
            raise AlreadyResolved(f"incident {incident_id} is already {reason}")
        token = incident.task_token
        detail = f"by {by}" + (f": {note}" if note else "")
        if not token or not self._repo.take_token_for(
            incident_id, token, "escalation requested", detail
        ):
            raise NotWaiting(
                f"incident {incident_id} is not waiting for recovery right now "
                f"(status {incident.status}); try again in a moment"
            )
        output = {"status": "escalate", "by": by, "at": now_iso(), "note": note}
        if not self._resumer.send(incident_id, token, output):
            raise WaitExpired(
                f"incident {incident_id}: the wait ended meanwhile; "
                "the runbook escalates on its own"
            )
        return "resumed"
