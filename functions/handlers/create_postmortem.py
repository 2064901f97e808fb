"""DocumentIncident: write the postmortem (and its graph) to S3, close the incident RESOLVED or
UNRESOLVED with the link and a short summary on its record, and tell the team."""

from __future__ import annotations

import os
from typing import Any

import msgspec
from aws_lambda_powertools.utilities.typing import LambdaContext

from incidents.model import Incident
from incidents.opscenter import OpsCenter
from incidents.payloads import PostmortemPayload, parse_payload
from incidents.repository import IncidentRepository
from oncall import respond
from postmortem import gather
from postmortem.channel import SecretSlackPoster
from postmortem.delivery import ChannelPoster, TopicNotifier, announcement, deliver
from postmortem.drill_metrics import count_drill
from postmortem.render import PostmortemInput, render
from postmortem.writer import PostmortemWriter
from shared import aws
from shared.config import Settings, settings
from shared.observability import MetricUnit, logger, metrics, tracer, track_incident
from shared.timeutil import now_iso, parse_time

# Set by the stack on this function only (not yet part of shared.config's settings).
ENV_NOTIFICATION_TOPIC = "NOTIFICATION_TOPIC_ARN"


def _notifier() -> TopicNotifier | None:
    topic = os.environ.get(ENV_NOTIFICATION_TOPIC, "")
    return TopicNotifier(aws.client("sns"), topic) if topic else None


def _poster(cfg: Settings) -> ChannelPoster | None:
    """The Slack poster when the function is given the Slack secret (else the hook is idle)."""
    if not cfg.slack_secret_name:
        return None
    return SecretSlackPoster(aws.client("secretsmanager"), cfg.slack_secret_name, cfg.slack_api_url)


def _channel_id(record_channel: Any, response: dict[str, Any]) -> str | None:
    if record_channel is not None and record_channel.status == "created" and record_channel.id:
        return str(record_channel.id)
    channel = response.get("channel")
    detail = channel.get("detail") if isinstance(channel, dict) else None
    if isinstance(detail, dict) and detail.get("channel_id"):
        return str(detail["channel_id"])
    return None


def _stop_escalation(repo: IncidentRepository, incident: Incident, closed_at: str) -> Incident:
    """An escalation plan still running stops with the incident (nothing more is paged)."""
    engagement = respond.decode(incident.engagement)
    if engagement is None or engagement.status != "active":
        return incident
    stopped = respond.settle(engagement, incident, parse_time(closed_at), "incident closed")
    data = respond.encode(stopped)
    repo.update(incident.incident_id, {"engagement": data}, "escalation plan stopped", "closed")
    return msgspec.structs.replace(incident, engagement=data)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Returns `{"status": "written", "uri": "s3://...", "summary", "delivery"}`."""
    payload = parse_payload(PostmortemPayload, event)
    track_incident(payload.incident.incident_id)
    cfg = settings()
    repo = IncidentRepository(aws.dynamodb_table(cfg.require("incident_table_name")))
    writer = PostmortemWriter(aws.client("s3"), cfg.require("artifact_bucket_name"), repo)

    # The stored record has the incident's own timeline; the state is the fallback.
    incident = repo.find(payload.incident.incident_id) or payload.incident
    region = incident.region or aws.default_region() or "us-east-1"
    closed_at = now_iso()
    incident = _stop_escalation(repo, incident, closed_at)
    evidence, evidence_note = gather.diagnostics_evidence(writer, payload.response)
    document = render(
        PostmortemInput(
            incident=incident,
            response=payload.response,
            recovery=payload.recovery,
            history=gather.workflow_history(aws.client("stepfunctions"), payload.execution_arn),
            closed_at=closed_at,
            timezone=cfg.timezone,
            region=region,
            evidence=evidence,
            evidence_note=evidence_note,
            graph=gather.metric_graph(
                aws.client("cloudwatch", region=region),
                writer,
                incident,
                payload.recovery,
                closed_at,
                region,
            ),
        )
    )
    diagnostics = payload.response.get("diagnostics")
    evidence_uri = diagnostics.get("evidence_uri", "") if isinstance(diagnostics, dict) else ""
    uri = writer.write(
        incident,
        document.markdown,
        document.status,
        evidence_uri,
        document.summary,
        run=payload.execution_arn,
    )

    if incident.ops_item_id:
        problem = OpsCenter(aws.client("ssm")).resolve(
            incident.ops_item_id, postmortem_uri=uri, status=document.status
        )
        if problem:
            metrics.add_metric(name="OpsCenterFailures", unit=MetricUnit.Count, value=1)
            repo.update(incident.incident_id, {"ops_item_problem": problem}, "finding", problem)

    message = announcement(incident, document.status, document.summary, uri, region)
    channel = _channel_id(incident.channel, payload.response)
    delivery = deliver(incident, message, _notifier(), _poster(cfg), channel)

    if any(v.startswith("failed") for v in delivery.values()):
        metrics.add_metric(name="PostmortemDeliveryFailed", unit=MetricUnit.Count, value=1)
    if incident.drill:  # never an incident figure; the dead-man's switch counts these
        page = payload.response.get("page")
        page_status = str(page.get("status", "")) if isinstance(page, dict) else ""
        count_drill(metrics, incident, document.status, page_status)
    elif document.status == "RESOLVED" and payload.recovery.get("at"):
        seconds = (
            parse_time(payload.recovery["at"]) - parse_time(incident.opened_at)
        ).total_seconds()
        metrics.add_metric(name="TimeToRecover", unit=MetricUnit.Seconds, value=max(seconds, 0))
    else:
        metrics.add_metric(name="IncidentsUnresolved", unit=MetricUnit.Count, value=1)
    if not incident.drill:
        metrics.add_metric(name="PostmortemsWritten", unit=MetricUnit.Count, value=1)
    logger.info(
        "postmortem written", extra={"uri": uri, "status": document.status, "delivery": delivery}
    )
    return {"status": "written", "uri": uri, "summary": document.summary, "delivery": delivery}
