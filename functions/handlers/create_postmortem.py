"""DocumentIncident: write the postmortem to S3 and close the incident RESOLVED/UNRESOLVED."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from incidents.model import TimelineEntry
from incidents.payloads import PostmortemPayload, parse_payload
from incidents.repository import IncidentRepository
from postmortem.history import fetch_history, to_timeline
from postmortem.render import final_status, render
from postmortem.writer import PostmortemWriter
from shared import aws
from shared.config import settings
from shared.errors import error_code
from shared.observability import MetricUnit, logger, metrics, tracer, track_incident
from shared.timeutil import parse_time


def workflow_timeline(execution_arn: str) -> list[TimelineEntry]:
    """The execution history as timeline entries; a postmortem without them beats none."""
    try:
        return to_timeline(fetch_history(aws.client("stepfunctions"), execution_arn))
    except ClientError as exc:  # transient errors were already raised for a retry
        logger.warning("no execution history", extra={"code": error_code(exc)})
        return []


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Returns `{"status": "written", "uri": "s3://..."}`."""
    payload = parse_payload(PostmortemPayload, event)
    track_incident(payload.incident.incident_id)
    cfg = settings()
    bucket = cfg.require("artifact_bucket_name")
    repo = IncidentRepository(aws.dynamodb_table(cfg.require("incident_table_name")))

    # The stored record has the incident's own timeline; the state is the fallback.
    incident = repo.find(payload.incident.incident_id) or payload.incident
    history = workflow_timeline(payload.execution_arn)
    status = final_status(payload.recovery)
    markdown = render(incident, payload.response, payload.recovery, history, cfg.timezone)
    diagnostics = payload.response.get("diagnostics")
    evidence = diagnostics.get("evidence_uri", "") if isinstance(diagnostics, dict) else ""
    uri = PostmortemWriter(aws.client("s3"), bucket, repo).write(
        incident, markdown, status, evidence
    )

    metrics.add_metric(name="PostmortemsWritten", unit=MetricUnit.Count, value=1)
    if status == "RESOLVED" and payload.recovery.get("at"):
        seconds = (
            parse_time(payload.recovery["at"]) - parse_time(incident.opened_at)
        ).total_seconds()
        metrics.add_metric(name="TimeToRecover", unit=MetricUnit.Seconds, value=max(seconds, 0))
    else:
        metrics.add_metric(name="IncidentsUnresolved", unit=MetricUnit.Count, value=1)
    logger.info("postmortem written", extra={"uri": uri, "status": status})
    return {"status": "written", "uri": uri}
