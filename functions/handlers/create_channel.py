"""CreateIncidentChannel: a Slack channel with the incident's summary, its responders and the
Acknowledge/Resolve buttons (a clean `skipped` without Slack).

Idempotent across the state machine's retries: the channel is recorded on the incident as
`opening` as soon as Slack created it, so a retry after a failed invite or post reuses it
instead of opening a second channel, and `created` once the summary is posted.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from chat.blocks import summary_blocks, summary_text
from chat.client import web_client
from chat.responders import configured_responders
from chat.secret import slack_credentials
from chat.slack import SlackChannels
from incidents.model import Incident
from incidents.payloads import IncidentPayload, parse_payload
from incidents.repository import IncidentRepository
from shared import aws
from shared.config import settings
from shared.observability import MetricUnit, logger, metrics, tracer, track_incident

SKIPPED = {"status": "skipped", "reason": "Slack not configured"}
OPENING = "opening"
CREATED = "created"


def plan_responders(record: Incident | None) -> tuple[str, ...]:
    """The incident's response plan's `slackResponders` (docs/oncall.md), when one applies."""
    if record is None or not record.response_plan or not settings().response_config_uri:
        return ()
    from oncall.declaration import UnknownName
    from oncall.source import response_config

    try:
        return tuple(response_config().response_plan(record.response_plan).slack_responders)
    except UnknownName:  # redeployed without it: the configured responders only
        return ()


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Returns `{"status": created|skipped, "reason"?, "channel_id"?, "channel_name"?,
    "invite_failures"?}`."""
    incident = parse_payload(IncidentPayload, event).incident
    track_incident(incident.incident_id)
    cfg = settings()
    if not cfg.slack_secret_name:
        logger.info("Slack not configured; no channel")
        return dict(SKIPPED)

    repo = IncidentRepository(aws.dynamodb_table(cfg.require("incident_table_name")))
    record = repo.find(incident.incident_id)
    known = record.channel if record else None
    if known and known.status == CREATED and known.id:
        # A retry after a timeout: the channel is complete, do not open a second one.
        return _created(known.id, known.name or "")

    # Configuration first: a bad secret or responder list fails before anything is created.
    credentials = slack_credentials()
    responders = configured_responders() + plan_responders(record)
    slack = SlackChannels(web_client(credentials.bot_token, cfg.slack_api_url))
    subject = record or incident  # the record is the newest view (severity upgrades, etc.)

    if known and known.status == OPENING and known.id:
        channel_id, name = known.id, known.name or ""
        logger.info("reusing the channel an earlier attempt opened", extra={"channel": name})
    else:
        channel_id, name = slack.create(subject)
        if record is not None:
            _remember(repo, incident.incident_id, OPENING, channel_id, name)

    invites = slack.invite(channel_id, responders)
    region = aws.default_region() or "us-east-1"
    slack.post(
        channel_id,
        summary_text(subject, timezone=cfg.timezone, default_region=region),
        summary_blocks(subject, timezone=cfg.timezone, default_region=region),
    )
    if record is not None:
        detail = (
            name if not invites.failures else f"{name}; not invited: {', '.join(invites.failures)}"
        )
        _remember(repo, incident.incident_id, CREATED, channel_id, name, detail)

    logger.info(
        "channel created",
        extra={
            "channel": name,
            "invited": len(invites.invited),
            "invite_failures": list(invites.failures),
        },
    )
    metrics.add_metric(name="IncidentChannelsCreated", unit=MetricUnit.Count, value=1)
    result = _created(channel_id, name)
    if invites.failures:
        result["invite_failures"] = list(invites.failures)
    return result


def _created(channel_id: str, name: str) -> dict[str, Any]:
    return {"status": CREATED, "channel_id": channel_id, "channel_name": name}


def _remember(
    repo: IncidentRepository,
    incident_id: str,
    status: str,
    channel_id: str,
    name: str,
    detail: str = "",
) -> None:
    """Record the channel; only the finished one gets a timeline entry."""
    channel = {"status": status, "id": channel_id, "name": name}
    event = "channel created" if status == CREATED else ""
    repo.update(incident_id, {"channel": channel}, event, detail)
