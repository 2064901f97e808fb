"""Escalate: the recovery wait timed out (or its heartbeat lapsed, or an operator asked).

Pages the escalation topic with how long the incident has been open (not while it is
acknowledged, unless an operator asked), counts it, tells the channel, and says whether the
workflow should wait again or close the incident as unresolved.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from chat.updates import post_update
from incidents.model import Incident
from incidents.payloads import EscalatePayload, parse_payload
from incidents.repository import IncidentRepository
from oncall import respond, wiring
from oncall.engagement import Engagement
from recovery import escalation
from shared import aws
from shared.config import settings
from shared.errors import transient_errors
from shared.observability import MetricUnit, logger, metrics, tracer, track_incident
from shared.timeutil import utcnow


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Returns `{"escalations", "paged", "acknowledged", "close", "engagement"}`."""
    payload = parse_payload(EscalatePayload, event)
    incident_id = payload.incident.incident_id
    track_incident(incident_id)
    cfg = settings()
    repo = IncidentRepository(aws.dynamodb_table(cfg.require("incident_table_name")))
    incident = repo.get(incident_id)
    now = utcnow()
    engagement = respond.decode(incident.engagement)
    if engagement is not None and engagement.status == "active":
        engagement = _tick(repo, incident, engagement, payload, now)
        if payload.request.reason != "operator" and engagement.status != "exhausted":
            # The wait was the plan's: this wake-up was a tick, not an escalation.
            return {
                "escalations": incident.escalation_count or 0,
                "paged": False,
                "acknowledged": engagement.status == "acknowledged",
                "close": False,
                "engagement": _waiting(engagement, payload, now),
            }
    decision = escalation.decide(incident, payload.request, cfg.max_escalations)
    count = (incident.escalation_count or 0) + (1 if decision.page else 0)
    open_for = escalation.elapsed(incident.opened_at, now)
    if decision.page:
        region = incident.region or aws.default_region() or "us-east-1"
        body = escalation.message(
            incident,
            payload.request,
            decision,
            count=count,
            max_escalations=cfg.max_escalations,
            now=now,
            timezone=cfg.timezone,
            region=region,
        )
        with transient_errors("SNS Publish"):
            aws.client("sns").publish(
                TopicArn=cfg.require("escalation_topic_arn"),
                Subject=escalation.subject(incident, decision, count, open_for),
                Message=body,
                MessageAttributes={
                    "severity": {"DataType": "String", "StringValue": incident.severity},
                    "incident_id": {"DataType": "String", "StringValue": incident_id},
                    "escalation": {"DataType": "Number", "StringValue": str(count)},
                },
            )
        metrics.add_metric(name="EscalationPages", unit=MetricUnit.Count, value=1)
    detail = f"{payload.request.reason} after {open_for}" + (
        "" if decision.page else " (acknowledged: no page)"
    )
    updated = repo.record_escalation(
        incident_id, timed_out=decision.timed_out, paged=decision.page, detail=detail
    )
    post_update(updated, _channel_line(decision, count, open_for))
    logger.info(
        "escalation",
        extra={"reason": payload.request.reason, "paged": decision.page, "close": decision.close},
    )
    return {
        "escalations": updated.escalation_count or 0,
        "paged": decision.page,
        "acknowledged": bool(incident.acknowledged_at),
        "close": decision.close,
        "engagement": _waiting(engagement, payload, now),
    }


def _tick(
    repo: IncidentRepository,
    incident: Incident,
    engagement: Engagement,
    payload: EscalatePayload,
    now: datetime,
) -> Engagement:
    """Wake-up of an active escalation plan: stop it (acknowledged, closed) or page what is
    due and begin the stages whose time came; the plan's state goes back on the record."""
    config = wiring.response_config()
    subject = payload.notification.subject or incident.title
    updated, sent = respond.tick(
        config,
        engagement,
        incident,
        now,
        wiring.overrides_lookup(config, now),
        wiring.pager().send,
        subject=subject,
        message=payload.notification.message or incident.title,
    )
    if sent:
        event, detail = "engaged", respond.timeline_detail(sent)
        metrics.add_metric(name="ContactPages", unit=MetricUnit.Count, value=len(sent))
    elif updated.status == "acknowledged":
        event = "escalation plan stopped"
        detail = f"acknowledged by {updated.acknowledged_by}: nobody more is paged"
    elif updated.status == "exhausted":
        event = "escalation plan exhausted"
        detail = f"plan {updated.plan}: nobody acknowledged after its last stage"
    else:
        event, detail = "", ""
    repo.update(
        incident.incident_id,
        {"engagement": respond.encode(updated)},
        event,
        detail,
        remove=("task_token",),  # the wait that timed out spent its token
    )
    if updated.status == "exhausted":
        post_update(incident, f":rotating_light: {detail}; escalating.")
    return updated


def _waiting(
    engagement: Engagement | None, payload: EscalatePayload, now: datetime
) -> dict[str, Any] | None:
    """The next wait (`$.engagement`), when the workflow passed its settings."""
    if payload.settings is None:
        return None
    return respond.next_wait(engagement, now, payload.settings)


def _channel_line(decision: escalation.Decision, count: int, open_for: str) -> str:
    if decision.close:
        return f":x: Still open after {open_for}: closing as UNRESOLVED; the postmortem follows."
    if decision.page:
        return f":rotating_light: Escalated ({count}) after {open_for}: escalation topic paged."
    return f":hourglass: Still open after {open_for} (acknowledged, so nobody was paged)."
