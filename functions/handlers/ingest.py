"""Ingest: an alarm (or other EventBridge event) opens an incident and starts its workflow.

The execution is named after the deterministic incident id, so a redelivered event finds the
running execution instead of starting a second one. An event we cannot use is recorded in
the table and logged, never dropped silently and never retried forever.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from incidents.events import Signal, parse_eventbridge_event
from incidents.repository import IncidentRepository
from shared import aws
from shared.config import settings
from shared.errors import InvalidIncidentInput, error_code, reraise_transient
from shared.observability import (
    MetricUnit,
    logger,
    metrics,
    reject_event,
    tracer,
    track_incident,
)


def _signal(event: Any) -> Signal:
    signal = parse_eventbridge_event(event)
    if signal.kind == "alarm" and signal.state_value != "ALARM":
        raise InvalidIncidentInput(f"alarm {signal.alarm_name} is {signal.state_value}, not ALARM")
    return signal


def _execution_arn(state_machine_arn: str, name: str) -> str:
    return f"{state_machine_arn.replace(':stateMachine:', ':execution:')}:{name}"


def _start(state_machine_arn: str, incident_id: str, event: Any) -> tuple[str, bool]:
    """Start the execution; returns (execution ARN, already existed?)."""
    sfn = aws.client("stepfunctions")
    try:
        started = sfn.start_execution(
            stateMachineArn=state_machine_arn,
            name=incident_id,
            input=json.dumps({"incident_id": incident_id, "event": event}),
        )
    except ClientError as exc:
        if error_code(exc) == "ExecutionAlreadyExists":
            return _execution_arn(state_machine_arn, incident_id), True
        reraise_transient(exc, "Step Functions StartExecution")
        raise
    return str(started["executionArn"]), False


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Returns `{"status": started|duplicate|correlated|rejected, "incident_id", ...}`."""
    cfg = settings()
    repo = IncidentRepository(aws.dynamodb_table(cfg.require("incident_table_name")))
    try:
        signal = _signal(event)
    except InvalidIncidentInput as exc:
        return reject_event(repo, event, exc)

    incident_id = signal.incident_id()
    track_incident(incident_id)
    existing = repo.find(incident_id)
    if existing is None and signal.alarm_arn:
        open_incident = repo.find_open_by_alarm(signal.alarm_arn)
        if open_incident and not open_incident.resolved_at:
            # The alarm fired again while its incident is still open: one incident, one page.
            repo.update(open_incident.incident_id, {}, "alarm fired again", incident_id)
            logger.info("correlated with open incident", extra={"open": open_incident.incident_id})
            metrics.add_metric(name="SignalsCorrelated", unit=MetricUnit.Count, value=1)
            return {"status": "correlated", "incident_id": open_incident.incident_id}
    created = False
    if existing is None:
        existing, created = repo.create_if_absent(signal.to_incident(incident_id))

    arn, already = _start(cfg.require("state_machine_arn"), incident_id, event)
    duplicate = already or (not created and existing.execution_arn == arn)
    if duplicate:
        logger.info("duplicate signal: execution already exists", extra={"execution_arn": arn})
        metrics.add_metric(name="DuplicateSignals", unit=MetricUnit.Count, value=1)
        return {
            "status": "duplicate",
            "duplicate": True,
            "incident_id": incident_id,
            "execution_arn": arn,
        }
    repo.update(incident_id, {"execution_arn": arn}, "workflow started", arn)
    logger.info("incident opened", extra={"execution_arn": arn, "alarm": signal.alarm_name})
    metrics.add_metric(name="SignalsIngested", unit=MetricUnit.Count, value=1)
    return {
        "status": "started",
        "duplicate": False,
        "incident_id": incident_id,
        "execution_arn": arn,
    }
