"""CheckStability: after the stabilisation wait, did the alarm stay OK (recovered) or fire
again (flapped: the workflow waits again)?"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from chat.updates import post_update
from incidents.payloads import StabilityPayload, parse_payload
from recovery.stability import StabilityCheck
from shared import aws
from shared.config import settings
from shared.observability import MetricUnit, logger, metrics, tracer, track_incident

_LINES = {
    "recovered": ":white_check_mark: The alarm stayed OK through the stabilisation wait: "
    "recovered. The postmortem follows.",
    "resolved": ":white_check_mark: Resolved by an operator. The postmortem follows.",
    "flapped": ":warning: The alarm fired again during the stabilisation wait (flapping): "
    "still open, waiting again.",
}


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Returns `{"stable", "status": recovered|resolved|flapped, "alarm_state"}`."""
    payload = parse_payload(StabilityPayload, event)
    incident_id = payload.incident.incident_id
    track_incident(incident_id)
    table = aws.dynamodb_table(settings().require("incident_table_name"))
    result, incident = StabilityCheck(table, aws.client("cloudwatch")).check(incident_id)
    if result["status"] == "flapped":
        metrics.add_metric(name="RecoveriesFlapped", unit=MetricUnit.Count, value=1)
    post_update(incident, _LINES[result["status"]])
    logger.info("stability checked", extra=dict(result))
    return dict(result)
