"""CreateIncidentChannel: a Slack channel with the incident's summary (skipped without Slack)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from chat.slack import SlackChannels, bot_token, summary_text, web_client
from incidents.payloads import IncidentPayload, parse_payload
from incidents.repository import IncidentRepository
from shared import aws
from shared.config import settings
from shared.observability import MetricUnit, logger, metrics, tracer, track_incident

SKIPPED = {"status": "skipped", "reason": "Slack not configured"}


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Returns `{"status": created|skipped, "reason"?, "channel_id"?, "channel_name"?}`."""
    incident = parse_payload(IncidentPayload, event).incident
    track_incident(incident.incident_id)
    cfg = settings()
    if not cfg.slack_secret_name:
        logger.info("Slack not configured; no channel")
        return dict(SKIPPED)

    repo = IncidentRepository(aws.dynamodb_table(cfg.require("incident_table_name")))
    record = repo.find(incident.incident_id)
    if record and record.channel and record.channel.status == "created":
        # A retry after a timeout: the channel exists already, do not open a second one.
        return {
            "status": "created",
            "channel_id": record.channel.id,
            "channel_name": record.channel.name,
        }
    token = bot_token(aws.client("secretsmanager"), cfg.slack_secret_name)
    slack = SlackChannels(web_client(token, cfg.slack_api_url))
    result = slack.open(incident, summary_text(incident, aws.default_region() or "us-east-1"))
    if record is not None:
        channel = {"status": "created", "id": result["channel_id"], "name": result["channel_name"]}
        repo.update(incident.incident_id, {"channel": channel}, "channel created", channel["name"])
    logger.info("channel created", extra={"channel": result["channel_name"]})
    metrics.add_metric(name="IncidentChannelsCreated", unit=MetricUnit.Count, value=1)
    return result
