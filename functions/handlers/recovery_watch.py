"""RecoveryWatch (EventBridge schedule, every minute): heartbeats for waiting workflows, and
a resume for incidents whose alarm is OK although no OK event arrived."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from recovery.watch import RecoveryWatch
from shared import aws
from shared.config import settings
from shared.observability import MetricUnit, logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    """Returns `{"heartbeats", "expired", "recovered", "failed"}`."""
    table = aws.dynamodb_table(settings().require("incident_table_name"))
    report = RecoveryWatch(table, aws.client("stepfunctions"), aws.client("cloudwatch")).run()
    metrics.add_metric(name="HeartbeatsSent", unit=MetricUnit.Count, value=report.heartbeats)
    if report.recovered:
        metrics.add_metric(name="MissedRecoveries", unit=MetricUnit.Count, value=report.recovered)
    logger.info("recovery watch", extra=report.as_dict())
    return report.as_dict()
