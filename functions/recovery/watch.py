"""The recovery watch (every minute): keep each waiting workflow's heartbeat alive and resume
incidents whose alarm is OK although no OK event arrived (EventBridge delivery is at least
once, not exactly once; a lost event must not leave an incident open for hours).

A watch that stops running lets the heartbeats lapse, so the workflow escalates: the runbook
notices its own failure.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import msgspec
from botocore.exceptions import ClientError

from incidents.model import Incident
from incidents.repository import IncidentRepository
from recovery.alarm_state import alarm_states, incident_alarm_names, still_firing
from recovery.resume import WAIT_OVER, RecoveryResumer
from shared.errors import AlreadyResolved, TransientDependencyError, error_code
from shared.timeutil import parse_time, utcnow

LOGGER = logging.getLogger(__name__)
MAX_INCIDENTS = 500
# An OK younger than this is left to its own event (EventBridge delivers within seconds); the
# watch only steps in for an OK that should have arrived by now.
OK_GRACE_SECONDS = 90


class WatchReport(msgspec.Struct):
    heartbeats: int = 0
    expired: int = 0
    recovered: int = 0
    failed: int = 0

    def as_dict(self) -> dict[str, int]:
        return msgspec.structs.asdict(self)


class RecoveryWatch:
    def __init__(
        self, table: Any, sfn: Any, cloudwatch: Any, ok_grace_seconds: float = OK_GRACE_SECONDS
    ) -> None:
        self._grace = timedelta(seconds=ok_grace_seconds)
        self._table = table
        self._repo = IncidentRepository(table)
        self._sfn = sfn
        self._cloudwatch = cloudwatch
        self._resumer = RecoveryResumer(table, sfn)

    def run(self) -> WatchReport:
        report = WatchReport()
        waiting = [
            i
            for i in self._repo.list(status="MONITORING", limit=MAX_INCIDENTS)
            if i.task_token and i.is_open and not i.recovering
        ]
        names = [name for i in waiting for name in incident_alarm_names(i)]
        states = alarm_states(self._cloudwatch, names) if names else {}
        for incident in waiting:
            try:
                if (incident.drill and self._resolve_drill(incident)) or self._recovered(
                    incident, states
                ):
                    report.recovered += 1
                elif self._heartbeat(incident):
                    report.heartbeats += 1
                else:
                    report.expired += 1
            except TransientDependencyError as exc:
                # One incident's trouble must not starve the others' heartbeats.
                LOGGER.warning("watch: %s: %s", incident.incident_id, exc)
                report.failed += 1
        return report

    def _resolve_drill(self, incident: Incident) -> bool:
        """A waiting drill resolves itself here, outside MonitorRecovery's own invocation
        (docs/drills.md): by now its page, diagnostics and channel have run."""
        from recovery.drill import resolve_if_drill

        return resolve_if_drill(self._table, self._sfn, incident.incident_id) is not None

    def _recovered(self, incident: Incident, states: dict[str, dict[str, Any]]) -> bool:
        """Resume an incident whose alarm went OK after it opened (the OK event was lost) and
        none of whose other alarms still fires."""
        alarm = states.get(incident.alarm_name or "")
        if not alarm or alarm["state"] != "OK" or not alarm.get("updated"):
            return False
        if still_firing(states, incident_alarm_names(incident)):
            return False
        went_ok = parse_time(alarm["updated"])
        if went_ok <= parse_time(incident.opened_at) or utcnow() - went_ok < self._grace:
            return False
        try:
            self._resumer.resolve(
                incident.incident_id,
                by=f"watch:alarm {incident.alarm_name} is OK",
                note=str(alarm.get("reason", ""))[:2000],
                status="recovered",
            )
        except AlreadyResolved:
            return False
        return True

    def _heartbeat(self, incident: Incident) -> bool:
        """False when the workflow no longer waits on this token (it is forgotten then)."""
        token = incident.task_token or ""
        try:
            self._sfn.send_task_heartbeat(taskToken=token)
        except ClientError as exc:
            code = error_code(exc)
            if code in WAIT_OVER:
                self._repo.drop_token(incident.incident_id, token)
                return False
            raise TransientDependencyError(f"Step Functions SendTaskHeartbeat: {code}") from exc
        return True
