"""A drill resolves itself once the workflow waits for recovery (docs/drills.md): by then the
page, the diagnostics and the channel have run, which is what a drill exercises; nobody has to
remember to close it, and a scheduled drill (no operator watching) still reaches its
postmortem, which is what the dead-man's switch counts."""

from __future__ import annotations

from typing import Any

from incidents.repository import IncidentRepository
from recovery.operator import OperatorActions, ResolveOutcome

RESOLVED_BY = "drill"
NOTE = "drill: resolved itself once the response (page, diagnostics, channel) had run"


def resolve_if_drill(table: Any, sfn: Any, incident_id: str) -> ResolveOutcome | None:
    """Resolve an open drill now (`resumed`, or `recorded` if the token is not stored yet);
    None for a real incident, which only an alarm OK or a person resolves."""
    incident = IncidentRepository(table).find(incident_id)
    if incident is None or not incident.drill or not incident.is_open:
        return None
    return OperatorActions(table, sfn).resolve(incident_id, by=RESOLVED_BY, note=NOTE)
