"""Recovery: an alarm back to OK (or a direct resolve request) resumes the incident's workflow.

Input is a CloudWatch Alarm State Change event (rule on state OK) or
`{"incident_id", "by"?, "note"?}`. A second OK for a resolved incident is normal for alarms
and answered `already_resolved`; a direct request to resolve twice is an error.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from chat.updates import post_update
from incidents.claims import ClaimStore
from incidents.correlation_keys import alarm_key
from incidents.events import parse_alarm_event
from incidents.model import Incident
from incidents.payloads import ResolveRequest, parse_payload
from incidents.repository import IncidentRepository
from recovery.alarm_state import alarm_states, incident_alarm_names, still_firing
from recovery.resume import RecoveryResumer
from shared import aws
from shared.config import settings
from shared.errors import AlreadyResolved, InvalidIncidentInput
from shared.observability import (
    MetricUnit,
    logger,
    metrics,
    reject_event,
    tracer,
    track_incident,
)


def _open_incident_of(alarm_arn: str, table: Any, repo: IncidentRepository) -> Incident | None:
    """The open incident the alarm opened (GSI by_alarm), or the one it joined or folded into
    (its correlation key's claim)."""
    incident = repo.find_open_by_alarm(alarm_arn)
    if incident is not None:
        return incident
    holder = ClaimStore(table).read(alarm_key(alarm_arn)).current
    found = repo.find(holder) if holder else None
    return found if found is not None and found.is_open else None


def _alarm_request(
    event: dict[str, Any], table: Any, repo: IncidentRepository
) -> ResolveRequest | str:
    """The resolve request an OK event stands for, or why there is nothing to resume."""
    signal = parse_alarm_event(event)
    if signal.state_value != "OK":
        return f"alarm state is {signal.state_value}"
    assert signal.alarm_arn is not None  # parse_alarm_event guarantees it
    incident = _open_incident_of(signal.alarm_arn, table, repo)
    if incident is None:
        return f"no open incident for {signal.alarm_name}"
    others = [n for n in incident_alarm_names(incident) if n != signal.alarm_name]
    firing = still_firing(alarm_states(aws.client("cloudwatch"), others), others) if others else []
    if firing:
        return f"{signal.alarm_name} is OK but {', '.join(firing)} still fires"
    return ResolveRequest(
        incident_id=incident.incident_id,
        by=f"alarm:{signal.alarm_name}",
        note=signal.state_reason[:2000],
    )


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Returns `{"status": resumed|recorded|already_resolved|ignored|rejected, ...}`."""
    table = aws.dynamodb_table(settings().require("incident_table_name"))
    repo = IncidentRepository(table)
    from_alarm = isinstance(event, dict) and "detail-type" in event
    try:
        request = (
            _alarm_request(event, table, repo)
            if from_alarm
            else parse_payload(ResolveRequest, event)
        )
    except InvalidIncidentInput as exc:
        return reject_event(repo, event, exc)

    if isinstance(request, str):
        logger.info("nothing to resume", extra={"reason": request})
        return {"status": "ignored", "reason": request}

    incident_id = request.incident_id
    track_incident(incident_id)
    resumer = RecoveryResumer(table, aws.client("stepfunctions"))
    try:
        outcome = resumer.resolve(
            incident_id,
            by=request.by,
            note=request.note,
            status="recovered" if from_alarm else "resolved",
        )
    except AlreadyResolved as exc:
        if not from_alarm:
            raise
        logger.info("already resolved", extra={"reason": str(exc)})
        return {"status": "already_resolved", "incident_id": incident_id, "reason": str(exc)}
    metrics.add_metric(name="IncidentsRecovered", unit=MetricUnit.Count, value=1)
    logger.info("resolution accepted", extra={"outcome": outcome, "by": request.by})
    incident = repo.find(incident_id)
    if incident is not None:
        line = (
            f":large_green_circle: {request.by} reports OK: confirming it through the "
            "stabilisation wait before closing."
            if from_alarm
            else f":white_check_mark: Resolved by {request.by}. The postmortem follows."
        )
        post_update(incident, line)
    return {"status": outcome, "incident_id": incident_id}
