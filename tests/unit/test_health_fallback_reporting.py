"""Without a support plan the Health source reads only the Health events stored from
EventBridge. It still answers `ok`, so the verdict and the postmortem must say what was not
read: the verdict rules out an AWS Health issue only among the stored events, and the
postmortem's "could not find out" section names the Health API and why."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.stub import Stubber
from msgspec.structs import replace

from diagnostics.finding import Finding
from diagnostics.health import HealthSource, StoredHealthEvents
from diagnostics.paging import Deadline
from diagnostics.targets import Targets
from diagnostics.verdict import decide
from postmortem.findings import source_results
from postmortem.gaps import health_api_gaps
from postmortem.render import render

from .test_postmortem_cases import full_case

START = datetime(2024, 5, 1, 13, 30, tzinfo=UTC)
REGION = "eu-central-1"
API_CLAIM = "no AWS Health issue for these services and regions"
STORED_CLAIM = (
    "no AWS Health issue among the Health events stored from EventBridge (checked against those "
    "only: the AWS Health API could not be read)"
)
APP_FINDING = Finding("logs_insights", "recent_errors: /aws/lambda/orders-api", "ok", "2 lines")


def _health(code: str, status: int) -> Finding:
    """The Health source's finding when DescribeEvents answers `code`, with no stored events."""
    client = boto3.client("health", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_client_error("describe_events", service_error_code=code, http_status_code=status)
        (finding,) = HealthSource(client, StoredHealthEvents(None)).collect(
            Targets(health_services=["LAMBDA"]), "123456789012", REGION, START,
            Deadline.after(30), ["orders-api"],
        )  # fmt: skip
    return finding


def _from_api() -> Finding:
    client = boto3.client("health", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_response("describe_events", {"events": []})
        (finding,) = HealthSource(client, StoredHealthEvents(None)).collect(
            Targets(health_services=["LAMBDA"]), "123456789012", REGION, START,
            Deadline.after(30), ["orders-api"],
        )  # fmt: skip
    return finding


def test_the_fallback_finding_says_the_api_was_not_read_and_why() -> None:
    finding = _health("SubscriptionRequiredException", 400)
    assert finding.status == "ok"
    assert finding.message == (
        "the AWS Health API could not be read: it needs a Business, Enterprise On-Ramp or "
        "Enterprise support plan (SubscriptionRequiredException); read 0 Health events stored "
        "from EventBridge instead"
    )
    assert finding.summary["via"] == "stored events"


def test_the_verdict_rules_out_health_only_among_the_stored_events() -> None:
    for finding in (_health("SubscriptionRequiredException", 400), _health("NotFound", 404)):
        verdict = decide([finding, APP_FINDING])
        assert STORED_CLAIM in verdict["ruled_out"]
        assert API_CLAIM not in verdict["ruled_out"]
    # With the API read, the verdict may say it plainly.
    verdict = decide([_from_api(), APP_FINDING])
    assert API_CLAIM in verdict["ruled_out"]
    assert STORED_CLAIM not in verdict["ruled_out"]


def _evidence_with(finding: Finding) -> dict[str, Any]:
    case = full_case()
    evidence = dict(case.evidence or {})
    verdict = decide([finding, APP_FINDING])
    findings = [asdict(finding), *[f for f in evidence["findings"] if f["source"] != "health"]]
    return {**evidence, "findings": findings, "verdict": {**evidence["verdict"], **verdict}}


def test_the_postmortem_lists_the_health_api_with_the_reason() -> None:
    finding = _health("SubscriptionRequiredException", 400)
    case = full_case()
    text = render(replace(case, evidence=_evidence_with(finding))).markdown
    gaps = text.split("## What the runbook could not find out", 1)[1]
    assert (
        "| The AWS Health API (LAMBDA in eu-central-1) | it needs a Business, Enterprise On-Ramp "
        "or Enterprise support plan (SubscriptionRequiredException); read 0 Health events "
        "stored from EventBridge instead |" in gaps
    )
    assert "- **Missing:** 1 thing" in text
    diagnostics = text.split("## Diagnostics", 1)[1].split("\n## ", 1)[0]
    assert "Ruled out: no AWS Health issue among the Health events stored from EventBridge" in (
        diagnostics
    )
    assert API_CLAIM not in text


def test_the_health_api_gap_survives_a_summary_trimmed_to_status_and_message() -> None:
    """No evidence document and a summary cut to status and message: still named."""
    finding = _health("NotFound", 404)
    bare = {k: asdict(finding)[k] for k in ("source", "target", "status", "message")}
    results = source_results({"summary": {"sources": [bare]}}, None)
    (gap,) = health_api_gaps(results)
    assert gap.what == "The AWS Health API (LAMBDA in eu-central-1)"
    assert gap.why.startswith("it is not offered here (NotFound)")
    assert not gap.skipped


def test_a_health_api_that_answered_leaves_no_gap() -> None:
    results = source_results({}, {"findings": [asdict(_from_api())]})
    assert health_api_gaps(results) == []
    # An evidence document written before the message said so still has `via`.
    legacy = {
        **asdict(_health("SubscriptionRequiredException", 400)),
        "message": "the AWS Health API needs a Business, Enterprise On-Ramp or Enterprise "
        "support plan (SubscriptionRequiredException); read 0 Health events stored from "
        "EventBridge instead",
    }
    (gap,) = health_api_gaps(source_results({}, {"findings": [legacy]}))
    assert "SubscriptionRequiredException" in gap.why
