"""After the alarm went OK and the stabilisation wait passed: recovered, or flapped.

An alarm that fires again while the runbook confirms its recovery goes back to waiting (the
same incident, a new wait) instead of closing and reopening: flap-safe recovery.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

from incidents.model import Incident, RecoverySignal
from incidents.repository import IncidentRepository
from recovery.alarm_state import alarm_states, incident_alarm_names, still_firing
from shared.timeutil import now_iso


class StabilityResult(TypedDict):
    stable: bool
    status: Literal["recovered", "resolved", "flapped"]
    alarm_state: str


class StabilityCheck:
    """Reads the incident and its alarm; records the outcome on the incident."""

    def __init__(self, table: Any, cloudwatch: Any) -> None:
        self._repo = IncidentRepository(table)
        self._cloudwatch = cloudwatch

    def check(self, incident_id: str) -> tuple[StabilityResult, Incident]:
        """The outcome and the incident as it was read (for the channel update)."""
        incident = self._repo.get(incident_id)
        if incident.resolved_at:  # an operator resolved it meanwhile: that decides
            return {"stable": True, "status": "resolved", "alarm_state": "n/a"}, incident
        names = incident_alarm_names(incident)
        states = alarm_states(self._cloudwatch, names) if names else {}
        firing = still_firing(states, names)
        if firing:
            self._repo.record_flap(
                incident_id, f"{', '.join(firing)} in ALARM again during the stabilisation wait"
            )
            return {"stable": False, "status": "flapped", "alarm_state": "ALARM"}, incident
        state = str(states.get(incident.alarm_name or "", {}).get("state", ""))
        recovering = incident.recovering or incident.recovery_signal
        if recovering is None:
            recovering = RecoverySignal(at=now_iso(), by="runbook", status="recovered")
        self._repo.confirm_recovery(incident_id, recovering, f"alarm stayed {state or 'OK'}")
        return {"stable": True, "status": "recovered", "alarm_state": state or "n/a"}, incident
