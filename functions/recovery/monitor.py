"""MonitorRecovery's side of the token protocol: store the token, or resume at once when an OK
already arrived (the alarm may recover while diagnostics are still running)."""

from __future__ import annotations

from typing import Any, Literal

from incidents.model import Incident
from incidents.repository import IncidentRepository
from recovery.resume import send_success
from shared.errors import TransientDependencyError, transient_errors
from shared.timeutil import now_iso

WaitOutcome = Literal["waiting", "resumed_early"]


class RecoveryMonitor:
    """Stores task tokens over a DynamoDB table; resumes through a Step Functions client."""

    def __init__(self, table: Any, sfn: Any) -> None:
        self._repo = IncidentRepository(table)
        self._sfn = sfn

    def wait(self, incident_id: str, token: str, execution_arn: str = "") -> WaitOutcome:
        """`waiting` once the token is stored; `resumed_early` if an OK was recorded before."""
        if self._repo.find(incident_id) is None:
            # Classification failed, so no record exists: make one so it can be resolved.
            placeholder = Incident(
                incident_id=incident_id,
                title="Unclassified incident (classification failed)",
                severity="critical",
                severity_rule="fallback: classification failed",
                opened_at=now_iso(),
                execution_arn=execution_arn or None,
            )
            self._repo.create_if_absent(placeholder)
        if self._repo.store_token(incident_id, token):
            return "waiting"
        signal = self._repo.get(incident_id).recovery_signal
        if signal is None:
            raise TransientDependencyError(f"incident {incident_id}: token not stored, retry")
        with transient_errors("Step Functions SendTaskSuccess"):
            send_success(self._sfn, token, signal)
        return "resumed_early"
