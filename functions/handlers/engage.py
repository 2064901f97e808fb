"""EngageResponders: the last branch of each response — engage the response plan's escalation
plan (stage 1's people, through their own channels) and open the incident's OpsItem.

Returns `{"status", "engagement": {active, wait_seconds, heartbeat_seconds, ...}}`: the wait
MonitorRecovery uses (cut to the plan's next page or stage while it is active). A plan that
cannot run (no people declared, the declaration unreadable) leaves the severity topics'
page as the only one and the wait at the recovery timeout; an OpsCenter failure is a finding.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from incidents.model import Incident
from incidents.opscenter import OpsCenter
from incidents.payloads import EngagePayload, parse_payload
from incidents.repository import IncidentRepository
from oncall import engagement as plan_runner
from oncall import respond, wiring
from oncall.declaration import ResponseConfig, ResponsePlan, UnknownName
from oncall.response_plans import choose
from shared import aws
from shared.config import settings
from shared.observability import MetricUnit, logger, metrics, tracer, track_incident
from shared.timeutil import utcnow


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    payload = parse_payload(EngagePayload, event)
    incident_id = payload.incident.incident_id
    track_incident(incident_id)
    cfg = settings()
    repo = IncidentRepository(aws.dynamodb_table(cfg.require("incident_table_name")))
    incident = repo.get(incident_id)
    now = utcnow()

    ops = OpsCenter(aws.client("ssm"))
    if not incident.ops_item_id:
        opened = ops.open(incident, payload.execution_arn or incident.execution_arn)
        if opened.ops_item_id:
            repo.update(
                incident_id, {"ops_item_id": opened.ops_item_id}, "opsitem", opened.ops_item_id
            )
        else:
            metrics.add_metric(name="OpsCenterFailures", unit=MetricUnit.Count, value=1)
            repo.update(
                incident_id,
                {"ops_item_problem": opened.problem},
                "finding",
                opened.problem or "OpsCenter unavailable",
            )

    config = wiring.response_config()
    existing = respond.decode(incident.engagement)
    engagement = existing
    sent: list[Any] = []
    if existing is None:
        plan = _plan(config, incident)
        overrides_for = wiring.overrides_lookup(config, now)
        engagement = plan_runner.start(config, plan, now, overrides_for)
        if engagement is not None:
            engagement, sent = respond.send_due(
                config,
                engagement,
                incident,
                now,
                wiring.pager().send,
                subject=payload.notification.subject or incident.title,
                message=payload.notification.message or incident.title,
            )
            repo.update(
                incident_id,
                {"engagement": respond.encode(engagement), "response_plan": plan.id},
                "engaged",
                respond.timeline_detail(sent) or f"plan {engagement.plan}: nobody to engage yet",
            )
            metrics.add_metric(name="ContactPages", unit=MetricUnit.Count, value=len(sent))
    waiting = respond.next_wait(engagement, now, payload.settings)
    logger.info(
        "engaged",
        extra={
            "plan": engagement.plan if engagement else None,
            "pages": len(sent),
            "wait_seconds": waiting["wait_seconds"],
        },
    )
    return {"status": "engaged" if engagement else "no_plan", "engagement": waiting}


def _plan(config: ResponseConfig, incident: Incident) -> ResponsePlan:
    """The plan classify chose (by id), or the first match now (classify ran without it)."""
    if incident.response_plan:
        try:
            return config.response_plan(incident.response_plan)
        except UnknownName:  # redeployed without it: match again
            pass
    return choose(
        config,
        severity=incident.severity,
        alarm_name=incident.alarm_name,
        resources=[(r.type, r.id) for r in incident.resources],
    )
