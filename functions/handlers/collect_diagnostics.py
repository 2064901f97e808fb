"""CollectDiagnostics: every source that applies, concurrently and within one time budget; a
fault-domain verdict (and a support-case draft when AWS is at fault); evidence to S3."""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from chat.updates import post_update
from diagnostics.evidence import EvidenceStore, overall_status, summarise
from diagnostics.finding import FAILED_STATUSES
from diagnostics.health import StoredHealthEvents
from diagnostics.runner import DiagnosticsRunner, window_for
from diagnostics.support_case import draft
from diagnostics.verdict import decide
from incidents.model import Incident
from incidents.payloads import parse_payload
from incidents.repository import IncidentRepository
from shared import aws
from shared.config import settings
from shared.errors import IncidentError
from shared.observability import MetricUnit, logger, metrics, tracer, track_incident
from shared.timeutil import iso, now_iso, utcnow

MAX_BUDGET_SECONDS = 60.0
_PHASE_WORDS = {
    "initial": "",
    "after_remediation": " after the remediation",
    "at_recovery": " at recovery",
}


class DiagnosticsPayload(msgspec.Struct, kw_only=True):
    """`{"incident": {...}}`; `phase` when the remediation branch runs them again (the first
    run's evidence is kept: the re-run's goes to `diagnostics-<phase>.json`)."""

    incident: Incident
    phase: Literal["initial", "after_remediation", "at_recovery"] = "initial"


# Time kept back from the Lambda timeout to write the evidence and answer.
RESERVE_SECONDS = 10.0


def budget_seconds(context: LambdaContext) -> float:
    """Up to a minute, and never past the function's own timeout."""
    remaining = context.get_remaining_time_in_millis() / 1000.0 - RESERVE_SECONDS
    return max(1.0, min(MAX_BUDGET_SECONDS, remaining))


def client_factory(incident: Incident) -> Any:
    """Clients for the incident's (account, region) from the one session factory; Health
    passes its own region (us-east-1)."""

    def clients(service: str, region: str | None = None) -> Any:
        return aws.client(service, account=incident.account, region=region or incident.region)

    return clients


def health_store(table_name: str) -> StoredHealthEvents:
    """Stored Health events (the fallback without a support plan), if the table is known."""
    return StoredHealthEvents(aws.dynamodb_table(table_name) if table_name else None)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Returns `{"status": completed|partial|failed, "summary": {...}, "evidence_uri"}`."""
    payload = parse_payload(DiagnosticsPayload, event)
    incident = payload.incident
    track_incident(incident.incident_id)
    cfg = settings()
    bucket = cfg.require("artifact_bucket_name")

    window = window_for(incident, cfg.diagnostics_lookback_minutes, utcnow())
    runner = DiagnosticsRunner(
        client_factory(incident),
        budget_seconds(context),
        health_store=health_store(cfg.incident_table_name),
    )
    findings = runner.run(runner.plan(incident, window))
    verdict = decide(findings)
    case = draft(incident, verdict, findings)

    span = {"start": iso(window.start), "end": iso(window.end)}
    document = {
        "incident_id": incident.incident_id,
        "collected_at": now_iso(),
        "window": span,
        "verdict": verdict,
        "support_case": case,
        "findings": [f.to_dict() for f in findings],
    }
    uri = EvidenceStore(aws.client("s3"), bucket).put(incident.incident_id, document, payload.phase)
    status = overall_status(findings)
    failed = sum(1 for f in findings if f.status in FAILED_STATUSES)
    metrics.add_metric(name="DiagnosticSourcesFailed", unit=MetricUnit.Count, value=failed)
    logger.info(
        "diagnostics collected",
        extra={"status": status, "sources": len(findings), "verdict": verdict["domain"]},
    )
    summary = summarise(findings, span, verdict, case)
    _announce(cfg.incident_table_name, incident.incident_id, verdict, status, payload.phase)
    return {"status": status, "summary": summary, "evidence_uri": uri}


def _announce(
    table_name: str, incident_id: str, verdict: dict[str, Any], status: str, phase: str
) -> None:
    """Keep the verdict on the incident (escalation pages and `runbook show` quote it) and tell
    the channel. Evidence is already safe in S3, so neither may fail the step."""
    if not table_name:
        return
    short = {key: str(verdict.get(key, ""))[:500] for key in ("domain", "headline", "scope")}
    repo = IncidentRepository(aws.dynamodb_table(table_name))
    try:
        repo.update(incident_id, {"verdict": short}, "diagnosed", short["headline"])
    except (IncidentError, ClientError) as exc:
        logger.warning("verdict not recorded", extra={"reason": str(exc)})
        return
    incident = repo.find(incident_id)
    if incident is not None:
        words = _PHASE_WORDS.get(phase, "")
        post_update(incident, f":mag: Diagnostics{words} {status}: {short['headline']}")
