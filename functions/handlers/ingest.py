"""Ingest: an EventBridge event (alarm, AWS Health, ECS task, CodeDeploy) becomes one incident.

Thin on purpose: parse the event (incidents/sources), correlate it (incidents/correlation),
start the workflow when correlation says so (named after the incident), then log and count the
outcome. An event that is malformed or not an incident is recorded as an `error#` item and
answered `rejected`: never dropped silently, never an unhandled exception.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from incidents.alarm_tags import alarm_tags
from incidents.classification import Classification, SeverityPolicy, classify
from incidents.correlation import Correlator, Outcome
from incidents.policy import ingest_policy
from incidents.repository import IncidentRepository
from incidents.signal import Signal
from incidents.sources import alarm, parse_source_event
from incidents.upgrade_page import send_pending_upgrade_page
from incidents.workflow import start_run
from shared import aws
from shared.config import settings
from shared.errors import InvalidIncidentInput
from shared.observability import (
    MetricUnit,
    logger,
    metrics,
    reject_event,
    tracer,
    track_incident,
)

# The response status and metric of each correlation outcome.
STATUS = {
    "opened": ("started", "SignalsIngested"),
    "duplicate": ("duplicate", "DuplicateSignals"),
    "correlated": ("correlated", "SignalsCorrelated"),
    "folded": ("folded", "SignalsFolded"),
    "reopened": ("reopened", "IncidentsReopened"),
    "recorded": ("recorded", "HealthEventsRecorded"),
    "late": ("late", "LateSignals"),
}


def signal_for_ingest(event: Any) -> Signal:
    """The event's signal; an alarm must be entering ALARM (OK goes to the recovery step)."""
    signal = parse_source_event(event)
    if signal.source == alarm.SOURCE and signal.state_value != "ALARM":
        raise InvalidIncidentInput(f"alarm {signal.alarm_name} is {signal.state_value}, not ALARM")
    return signal


def classifier(policy: SeverityPolicy) -> Any:
    """Severity of a joining signal, by the same rules as classify (tags cached)."""

    def decide(signal: Signal) -> Classification:
        return classify(signal, policy, alarm_tags(signal, cached=True))

    return decide


def _respond(outcome: Outcome, execution_arn: str | None, drill: bool = False) -> dict[str, Any]:
    status, metric = STATUS[outcome.status]
    if drill:  # drills never count as signals or incidents (docs/drills.md)
        metric = "DrillSignals"
    if outcome.status == "duplicate" and execution_arn and outcome.start:
        status = "started"  # the opener never started the run: this delivery did
    metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)
    if outcome.upgraded_to:
        metrics.add_metric(name="IncidentsUpgraded", unit=MetricUnit.Count, value=1)
    response: dict[str, Any] = {
        "status": status,
        "duplicate": outcome.status == "duplicate",
        "incident_id": outcome.incident_id,
    }
    if execution_arn:
        response["execution_arn"] = execution_arn
    if outcome.upgraded_to:
        response["upgraded_to"] = outcome.upgraded_to
    if outcome.reason:
        response["reason"] = outcome.reason
    return response


def _page_upgrade(repo: IncidentRepository, incident_id: str) -> None:
    """Page at the raised severity if an upgrade's page is pending (a retried delivery comes
    back as a duplicate whose record still owes the page, and sends it)."""
    cfg = settings()
    topics = {"critical": cfg.critical_topic_arn, "high": cfg.high_topic_arn}
    region = aws.default_region() or "us-east-1"
    paged = send_pending_upgrade_page(
        repo, aws.client("sns"), incident_id, topics, cfg.timezone, region
    )
    if paged:
        metrics.add_metric(name="UpgradePages", unit=MetricUnit.Count, value=1)
        logger.info("paged after a severity upgrade", extra={"severity": paged})


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Returns `{"status": started|duplicate|correlated|folded|reopened|recorded|late|rejected|
    ignored, "incident_id", "duplicate", "execution_arn"?, "upgraded_to"?}`."""
    cfg = settings()
    table = aws.dynamodb_table(cfg.require("incident_table_name"))
    repo = IncidentRepository(table)
    try:
        signal = signal_for_ingest(event)
    except InvalidIncidentInput as exc:
        return reject_event(repo, event, exc)
    prefix = cfg.ignored_alarm_prefix
    if prefix and signal.alarm_name and signal.alarm_name.startswith(prefix):
        # The runbook's own alarm (the dead-man's switch notifies its own topic): not an
        # incident of the team's. Said in the log and counted, never silently dropped.
        logger.info("own alarm set aside", extra={"alarm_name": signal.alarm_name})
        metrics.add_metric(name="OwnAlarmsIgnored", unit=MetricUnit.Count, value=1)
        return {"status": "ignored", "reason": f"the runbook's own alarm {signal.alarm_name}"}

    outcome = Correlator(table, ingest_policy(), classifier(cfg.severity_policy)).ingest(signal)
    if outcome.incident_id:
        track_incident(outcome.incident_id)
    execution_arn = outcome.execution_arn
    if outcome.start and outcome.incident_id:
        execution_arn = start_run(
            aws.client("stepfunctions"),
            cfg.require("state_machine_arn"),
            outcome.start,
            outcome.incident_id,
            event,
        )
        repo.update(
            outcome.incident_id, {"execution_arn": execution_arn}, "workflow started", execution_arn
        )
    if outcome.incident_id and (outcome.upgraded_to or outcome.page_pending):
        _page_upgrade(repo, outcome.incident_id)
    response = _respond(outcome, execution_arn, drill=signal.kind == "drill")
    logger.info(
        "incident opened" if response["status"] == "started" else "ingested",
        extra={
            "outcome": response["status"],
            "key": signal.correlation_key,
            "source": signal.source,
            "execution_arn": execution_arn,
        },
    )
    return response
