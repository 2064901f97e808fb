"""Issue 7's reliability matrix on the emulator: one dependency fails per incident, and each
incident still pages, closes through alarm OK -> stabilisation -> postmortem, and its
postmortem says what failed. docs/reliability.md has the table of cases and outcomes.

The incidents need Slack configured (against a local fake Slack Web API), so the matrix runs
in a process of its own (tests/e2e/fault_scenario.py), all seven incidents concurrently."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .helpers import run_scenario

pytestmark = pytest.mark.e2e

SCENARIO = Path(__file__).with_name("fault_scenario.py")
GAPS = "## What the runbook could not find out"


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return run_scenario(SCENARIO, tmp_path_factory.mktemp("faults"))


def gaps_of(run: dict[str, Any]) -> str:
    """The postmortem's last section: what failed or could not be found out."""
    text: str = run["postmortem"]
    assert GAPS in text
    return text.split(GAPS, 1)[1]


def assert_paged_and_documented(run: dict[str, Any], severity: str = "HIGH") -> None:
    """What must hold whatever failed: the page, a closed incident, the postmortem in S3."""
    assert run["page_subject"].startswith(f"[{severity}] ")
    assert run["output"]["response"]["page"]["status"] == "sent"
    assert run["status"] == "SUCCEEDED"
    assert "StabilisationWait" in run["states"] and "CheckStability" in run["states"]
    assert run["output"]["stability"]["status"] == "recovered"
    assert run["output"]["postmortem"]["status"] == "written"
    assert run["incident_status"] == "RESOLVED"
    key = f"incidents/{run['incident_id']}/postmortem.md"
    assert run["postmortem_uri"].endswith(key) and run["postmortem_key"] == key
    assert run["postmortem"].startswith("# Postmortem: ")  # read back from S3


def test_classify_throwing_a_transient_error_is_retried(matrix: dict[str, Any]) -> None:
    run = matrix["classify"]
    assert run["fired"] == {"classify": 1}
    assert run["tasks"]["ClassifyIncident"] == ["failed:TransientDependencyError", "succeeded"]
    assert "ClassificationFailed" not in run["states"]  # the retry classified it, as high
    assert_paged_and_documented(run)
    gaps = gaps_of(run)
    assert (
        "| The step ClassifyIncident | failed once: TransientDependencyError: DynamoDB GetItem: "
        "ServiceUnavailable (injected) |" in gaps
    )


def test_logs_insights_throttling_leaves_partial_diagnostics(matrix: dict[str, Any]) -> None:
    run = matrix["insights"]
    assert_paged_and_documented(run)
    assert run["output"]["response"]["diagnostics"]["status"] == "partial"
    assert run["tasks"]["CollectDiagnosticsHigh"] == ["succeeded"]  # contained in its source
    gaps = gaps_of(run)
    throttled = [
        line
        for line in gaps.splitlines()
        if line.startswith("| logs\\_insights (")
        and "/aws/lambda/insights-svc) | throttled: throttled by AWS (ThrottlingException)" in line
    ]
    assert throttled
    # Each throttled query was tried more than once: botocore retried the throttle.
    assert run["fired"]["insights"] >= 2 * len(throttled)


def test_xray_unavailable_leaves_partial_diagnostics(matrix: dict[str, Any]) -> None:
    run = matrix["xray"]
    assert_paged_and_documented(run)
    assert run["output"]["response"]["diagnostics"]["status"] == "partial"
    assert run["tasks"]["CollectDiagnosticsHigh"] == ["succeeded"]
    assert run["fired"]["xray"] >= 2  # the 503 was retried by botocore before giving up
    assert "| xray (traces) | error: ServiceUnavailable: X-Ray is unavailable |" in gaps_of(run)


def test_slack_down_fails_the_channel_but_not_the_page(matrix: dict[str, Any]) -> None:
    run = matrix["slack"]
    assert_paged_and_documented(run, "CRITICAL")
    # The first attempt and the ASL's three retries, then the Catch.
    assert run["slack_calls"]["conversations.create"] == 4
    assert run["tasks"]["CreateIncidentChannel"] == ["failed:TransientDependencyError"] * 4
    assert "ChannelFailed" in run["states"]
    assert run["output"]["response"]["channel"]["status"] == "failed"
    gaps = gaps_of(run)
    assert "| The incident channel | failed: TransientDependencyError: Slack: http\\_503 |" in gaps
    assert (
        "| The step CreateIncidentChannel | failed 4 times: TransientDependencyError: Slack: "
        "http\\_503 |" in gaps
    )


def test_sns_publish_failing_once_is_retried_and_pages(matrix: dict[str, Any]) -> None:
    run = matrix["sns"]
    assert run["fired"] == {"sns": 1}
    assert run["tasks"]["PageOnCallHigh"] == ["failed:SNS.InternalErrorException", "succeeded"]
    assert "PageHighFailed" not in run["states"]
    assert_paged_and_documented(run)
    assert (
        "| The step PageOnCallHigh | failed once: SNS.InternalErrorException: SNS had an "
        "internal error (Service: AmazonSNS; Status Code: 500; Error Code: InternalError;"
        in gaps_of(run)
    )


def test_s3_put_failing_once_is_retried_and_the_postmortem_written(
    matrix: dict[str, Any],
) -> None:
    run = matrix["s3"]
    assert run["fired"] == {"s3": 4}  # every botocore attempt of the step's first try
    assert run["tasks"]["DocumentIncident"] == ["failed:TransientDependencyError", "succeeded"]
    assert_paged_and_documented(run)
    assert (
        "| The step DocumentIncident | failed once: TransientDependencyError: S3 PutObject: "
        "InternalError |" in gaps_of(run)
    )


def test_dynamodb_conditional_write_conflict_is_retried(matrix: dict[str, Any]) -> None:
    run = matrix["dynamodb"]
    assert run["fired"] == {"dynamodb": 1}
    assert run["tasks"]["MonitorRecovery"] == ["failed:TransientDependencyError", "succeeded"]
    assert "RecoveryMonitorFailed" not in run["states"]
    assert_paged_and_documented(run)
    assert (
        f"| The step MonitorRecovery | failed once: TransientDependencyError: incident "
        f"{run['incident_id']}: token not stored, retry |" in gaps_of(run)
    )
