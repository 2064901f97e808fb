"""ClassifyIncident: open (or load) the incident record, decide severity, prepare the page."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from incidents.classification import classify
from incidents.events import PENDING_RULE, Signal, parse_execution_input
from incidents.notification import build_notification
from incidents.payloads import ClassifyPayload, parse_payload
from incidents.repository import IncidentRepository
from shared import aws
from shared.config import settings
from shared.errors import InvalidIncidentInput, error_code, reraise_transient
from shared.observability import MetricUnit, logger, metrics, tracer, track_incident
from shared.timeutil import parse_time


def alarm_tags(signal: Signal) -> dict[str, str]:
    """The alarm's tags (ListTagsForResource); none if the alarm is gone or not readable."""
    if not signal.alarm_arn:
        return {}
    cloudwatch = aws.client("cloudwatch", account=signal.account, region=signal.region)
    try:
        tags = cloudwatch.list_tags_for_resource(ResourceARN=signal.alarm_arn)["Tags"]
    except ClientError as exc:
        reraise_transient(exc, "CloudWatch ListTagsForResource")
        logger.warning("cannot read alarm tags", extra={"code": error_code(exc)})
        return {}
    return {t["Key"]: t["Value"] for t in tags}


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Returns `{"incident": {...}, "notification": {"subject", "message"}}`."""
    payload = parse_payload(ClassifyPayload, event)
    try:
        started_at = parse_time(payload.started_at)
    except ValueError as exc:
        raise InvalidIncidentInput(f"invalid started_at {payload.started_at!r}") from exc
    given_id, signal = parse_execution_input(payload.input, started_at, payload.execution_name)
    incident_id = given_id or payload.execution_name
    track_incident(incident_id)

    cfg = settings()
    repo = IncidentRepository(aws.dynamodb_table(cfg.require("incident_table_name")))
    incident, _ = repo.create_if_absent(signal.to_incident(incident_id))
    first_time = incident.severity_rule in ("", PENDING_RULE)
    decided = classify(signal, cfg.severity_policy, alarm_tags(signal))
    repo.update(
        incident_id,
        {
            "severity": decided.severity,
            "severity_rule": decided.rule,
            "execution_arn": payload.execution_arn,
        },
        "classified",
        f"{decided.severity} ({decided.rule})",
    )
    incident = incident.model_copy(
        update={
            "severity": decided.severity,
            "severity_rule": decided.rule,
            "execution_arn": payload.execution_arn,
        }
    )
    logger.info("classified", extra={"severity": decided.severity, "rule": decided.rule})
    if first_time:
        metrics.add_dimension(name="severity", value=decided.severity)
        metrics.add_metric(name="IncidentsOpened", unit=MetricUnit.Count, value=1)
    notification = build_notification(incident, cfg.timezone, aws.default_region() or "us-east-1")
    return {"incident": incident.to_state(), "notification": notification}
