"""Resolve an incident by resuming its waiting workflow exactly once.

Used by the recovery Lambda (alarm OK) and by `runbook resolve`. Protocol (docs/contracts.md,
"Recovery"): if a token is stored, remove it conditionally (`task_token = :t`) and then call
SendTaskSuccess, so only one resolver ever uses it; with no token yet, record a
`recovery_signal` (condition: no token) that MonitorRecovery honours as soon as it runs. A lost
race re-reads and tries again; resolving a resolved incident raises AlreadyResolved.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from botocore.exceptions import ClientError

from incidents.model import Incident, RecoverySignal
from incidents.repository import IncidentRepository
from shared.errors import AlreadyResolved, TransientDependencyError, error_code, is_transient
from shared.timeutil import now_iso

Outcome = Literal["resumed", "recorded"]
MAX_ATTEMPTS = 4
# Step Functions errors meaning the workflow no longer waits for this token (send or heartbeat).
WAIT_OVER = frozenset({"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"})


class WaitExpired(AlreadyResolved):
    """The workflow stopped waiting (recovery timeout): it closes the incident unresolved."""


def task_output(signal: RecoverySignal) -> dict[str, str]:
    """What MonitorRecovery resumes with: `{"status", "by", "at", "note"}`."""
    return {"status": signal.status, "by": signal.by, "at": signal.at, "note": signal.note}


def send_success(sfn: Any, token: str, signal: RecoverySignal) -> None:
    """SendTaskSuccess; errors are left to the caller, which knows what to undo."""
    sfn.send_task_success(taskToken=token, output=json.dumps(task_output(signal)))


def closed_reason(incident: Incident, status: str = "resolved") -> str | None:
    """Why the incident can no longer be resolved (with `status`), or None if it still can.
    An operator may still resolve an incident whose alarm went OK and is being confirmed; a
    second OK may not (one recovery is in progress)."""
    if incident.resolved_at:
        return f"resolved at {incident.resolved_at} by {incident.resolved_by}"
    if incident.status in ("RESOLVED", "UNRESOLVED"):
        return f"closed as {incident.status}"
    pending = incident.recovery_signal or (incident.recovering if status == "recovered" else None)
    if pending:
        return f"recovering since {pending.at} ({pending.by}): the runbook is confirming it"
    return None


class RecoveryResumer:
    """Resolves incidents over a DynamoDB table and a Step Functions client."""

    def __init__(self, table: Any, sfn: Any) -> None:
        self._repo = IncidentRepository(table)
        self._sfn = sfn

    def resolve(
        self,
        incident_id: str,
        by: str,
        note: str = "",
        status: Literal["recovered", "resolved"] = "resolved",
    ) -> Outcome:
        """`resumed` (the workflow goes on now) or `recorded` (it will, once it waits)."""
        for _ in range(MAX_ATTEMPTS):
            incident = self._repo.get(incident_id)
            reason = closed_reason(incident, status)
            if reason:
                raise AlreadyResolved(f"incident {incident_id} is already {reason}")
            signal = RecoverySignal(at=now_iso(), by=by, note=note, status=status)
            token = incident.task_token
            if token and self._repo.take_token(incident_id, token, signal):
                return self._resume(incident_id, token, signal)
            if not token and self._repo.record_recovery_signal(incident_id, signal):
                return "recorded"
            # Lost a race (a token arrived, or another resolver won): look again.
        raise TransientDependencyError(f"incident {incident_id} kept changing; try again")

    def _resume(self, incident_id: str, token: str, signal: RecoverySignal) -> Outcome:
        if self.send(incident_id, token, task_output(signal)):
            return "resumed"
        # The wait ended meanwhile (a timeout: the workflow escalates and waits again), so keep
        # the resolution for the next wait to pick up.
        if self._repo.record_recovery_signal(incident_id, signal):
            return "recorded"
        raise WaitExpired(
            f"incident {incident_id}: the workflow no longer waits; "
            "it closes the incident as unresolved"
        )

    def send(self, incident_id: str, token: str, output: dict[str, str]) -> bool:
        """SendTaskSuccess with a token taken off the record: False when the workflow no
        longer waits on it; on any other error the token is put back (unused) and raised."""
        try:
            self._sfn.send_task_success(taskToken=token, output=json.dumps(output))
        except ClientError as exc:
            code = error_code(exc)
            if code in WAIT_OVER:
                return False
            self._repo.restore_token(incident_id, token)
            if is_transient(exc):
                raise TransientDependencyError(f"Step Functions: {code}") from exc
            raise
        return True
