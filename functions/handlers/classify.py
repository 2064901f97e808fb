"""ClassifyIncident: open (or load) the incident record, decide severity, prepare the page.

A severity never goes down: when a more severe signal joined the incident first (ingest's
upgrade), or on a reopened incident's next run, the stored severity stands if it is higher.
The write is conditional on the rule classify read, so a concurrent upgrade is not lost.
"""

from __future__ import annotations

from typing import Any, cast

import msgspec
from aws_lambda_powertools.utilities.typing import LambdaContext

from incidents.alarm_tags import alarm_tags
from incidents.classification import Classification, classify, more_severe
from incidents.events import PENDING_RULE, parse_execution_input
from incidents.model import Incident, Severity
from incidents.notification import build_notification
from incidents.payloads import ClassifyPayload, parse_payload
from incidents.repository import IncidentRepository
from shared import aws
from shared.config import settings
from shared.errors import InvalidIncidentInput, TransientDependencyError
from shared.observability import MetricUnit, logger, metrics, tracer, track_incident
from shared.timeutil import parse_time

__all__ = ["alarm_tags", "lambda_handler"]


def final(decided: Classification, stored: Incident) -> Classification:
    """The decision, unless the stored (already decided) severity is higher."""
    if stored.severity_rule not in ("", PENDING_RULE) and more_severe(
        stored.severity, decided.severity
    ):
        return Classification(severity=stored.severity, rule=stored.severity_rule)
    return decided


def response_plan(incident: Incident, decided: Classification) -> tuple[str | None, Classification]:
    """The declaration's first matching response plan (docs/oncall.md) and the severity it
    sets, if it sets one. The declaration is imported only where one is deployed; one that
    cannot be read leaves the plan to EngageResponders (which says why) and the severity as
    the rules decided: a broken file must never stop an incident from being classified."""
    from oncall.response_plans import choose
    from oncall.source import response_config

    try:
        config = response_config()
        if incident.drill and incident.drill_target == "rotation":
            return drill_plan(config), decided
        plan = choose(
            config,
            severity=decided.severity,
            alarm_name=incident.alarm_name,
            resources=[(r.type, r.id) for r in incident.resources],
        )
    except Exception as exc:  # see the docstring: classification goes on without a plan
        logger.warning("response declaration unreadable", extra={"error": str(exc)[:300]})
        return None, decided
    if plan.severity and plan.severity != decided.severity:
        severity = cast(Severity, plan.severity)  # the loader checked it is one
        return plan.id, Classification(severity=severity, rule=f"response plan {plan.id}")
    return plan.id, decided


def drill_plan(config: Any) -> str:
    """A drill of the real rotation (docs/drills.md) runs the first response plan that pages
    people (its escalation plan, its rotations, their channels), else the default."""
    for plan in config.response_plans:
        if plan.escalation_plan:
            return str(plan.id)
    return str(config.default_plan.id)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Returns `{"incident": {...}, "notification": {"subject", "message"}}`."""
    payload = parse_payload(ClassifyPayload, event)
    try:
        started_at = parse_time(payload.started_at)
    except (ValueError, TypeError) as exc:
        raise InvalidIncidentInput(f"invalid started_at {payload.started_at!r}") from exc
    given_id, signal = parse_execution_input(payload.input, started_at, payload.execution_name)
    incident_id = given_id or payload.execution_name
    track_incident(incident_id)

    cfg = settings()
    repo = IncidentRepository(aws.dynamodb_table(cfg.require("incident_table_name")))
    incident, _ = repo.create_if_absent(signal.to_incident(incident_id))
    first_time = incident.severity_rule in ("", PENDING_RULE)
    decided = classify(signal, cfg.severity_policy, alarm_tags(signal))
    plan_id, decided = (
        response_plan(incident, decided) if cfg.response_config_uri else (None, decided)
    )
    for _ in range(5):
        chosen = final(decided, incident)
        seen = incident.severity_rule
        if repo.set_classification(
            incident_id, chosen.severity, chosen.rule, payload.execution_arn, seen
        ):
            break
        incident = repo.get(incident_id)
    else:
        raise TransientDependencyError(f"incident {incident_id} kept changing; retry")
    incident = msgspec.structs.replace(
        incident,
        severity=chosen.severity,
        severity_rule=chosen.rule,
        execution_arn=payload.execution_arn,
    )
    if plan_id and plan_id != incident.response_plan:
        repo.update(incident_id, {"response_plan": plan_id}, "response plan", plan_id)
        incident = msgspec.structs.replace(incident, response_plan=plan_id)
    logger.info(
        "classified",
        extra={"severity": chosen.severity, "rule": chosen.rule, "response_plan": plan_id},
    )
    if first_time and not incident.drill:  # drills never count as incidents
        metrics.add_dimension(name="severity", value=chosen.severity)
        metrics.add_metric(name="IncidentsOpened", unit=MetricUnit.Count, value=1)
    elif first_time:
        metrics.add_metric(name="DrillsOpened", unit=MetricUnit.Count, value=1)
    notification = build_notification(incident, cfg.timezone, aws.default_region() or "us-east-1")
    return {"incident": incident.to_state(), "notification": notification}
