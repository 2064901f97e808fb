"""MonitorRecovery (waitForTaskToken): store the token so a recovery can resume the workflow."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from incidents.payloads import MonitorPayload, parse_payload
from recovery.monitor import RecoveryMonitor
from shared import aws
from shared.config import settings
from shared.observability import MetricUnit, logger, metrics, tracer, track_incident


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Returns `{"status": waiting|resumed_early}`; the task itself resumes later."""
    payload = parse_payload(MonitorPayload, event)
    track_incident(payload.incident_id)
    table = aws.dynamodb_table(settings().require("incident_table_name"))
    monitor = RecoveryMonitor(table, aws.client("stepfunctions"))
    outcome = monitor.wait(payload.incident_id, payload.task_token, payload.execution_arn)
    if outcome == "resumed_early":
        metrics.add_metric(name="EarlyRecoveries", unit=MetricUnit.Count, value=1)
    logger.info("monitoring recovery", extra={"outcome": outcome})
    return {"status": outcome}
