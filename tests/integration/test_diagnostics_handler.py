"""collect_diagnostics: GetMetricData against moto, Logs Insights through a botocore Stubber
with responses shaped as AWS documents them (moto's Insights engine only knows
fields/sort/limit), evidence in moto's S3, and a small summary in the answer.

Health (no support plan: stored events) and X-Ray (no slow traces) are stubbed too: moto has
no Health API and rejects X-Ray filter expressions (tests/integration/diag_stubs.py)."""

from __future__ import annotations

import json
from datetime import timedelta

import boto3
import pytest
from botocore.stub import Stubber

from diagnostics.logs_insights import LogsInsights
from handlers import collect_diagnostics
from shared import aws
from shared.timeutil import iso, utcnow

from .diag_stubs import LAMBDA_QUERIES, health_without_support_plan, insights, quiet_xray

ACCOUNT = "123456789012"
REGION = "us-east-1"


def _incident(*functions: str) -> dict:
    return {
        "incident_id": "inc-20240501-140307-0badcafe",
        "title": "orders-api-errors is in ALARM",
        "severity": "critical",
        "severity_rule": "tag: Severity=critical",
        "source": "aws.cloudwatch",
        "resources": [{"type": "AWS::Lambda::Function", "id": f} for f in functions],
        "account": ACCOUNT,
        "region": REGION,
        "opened_at": iso(utcnow() - timedelta(minutes=5)),
    }


def _row(timestamp: str, message: str) -> list[dict[str, str]]:
    """A GetQueryResults row: a list of {field, value}, including the internal @ptr."""
    return [
        {"field": "@timestamp", "value": timestamp},
        {"field": "@message", "value": message},
        {"field": "@ptr", "value": "CmAKJwojMTIzNDU2Nzg5MDEyOi9hd3MvbGFtYmRh"},
    ]


def _put_errors(function: str, values: list[float]) -> None:
    now = utcnow()
    boto3.client("cloudwatch", region_name=REGION).put_metric_data(
        Namespace="AWS/Lambda",
        MetricData=[
            {
                "MetricName": "Errors",
                "Dimensions": [{"Name": "FunctionName", "Value": function}],
                "Timestamp": now - timedelta(minutes=i + 1),
                "Value": value,
                "Unit": "Count",
            }
            for i, value in enumerate(values)
        ],
    )


@pytest.fixture
def logs_stub(moto):
    """The logs client the handler will get from the session factory, stubbed; Health and
    X-Ray answer as an account without a support plan and without slow traces would."""
    client = aws.client("logs", account=ACCOUNT, region=REGION)
    health = aws.client("health", account=ACCOUNT, region="us-east-1")
    xray = aws.client("xray", account=ACCOUNT, region=REGION)
    with Stubber(client) as stubber, Stubber(health) as health_stub, Stubber(xray) as xray_stub:
        health_without_support_plan(health_stub)
        quiet_xray(xray_stub)
        yield stubber
        stubber.assert_no_pending_responses()


def test_metrics_logs_and_evidence(artifact_bucket, logs_stub, lambda_context) -> None:
    _put_errors("orders-api", [3, 4])
    insights(
        logs_stub,
        LAMBDA_QUERIES,
        {
            "recent_errors": [
                {"@timestamp": "2024-05-01 14:02:59.000", "@message": "[ERROR] KeyError: 'sku'"},
                {
                    "@timestamp": "2024-05-01 14:02:58.000",
                    "@message": "Task timed out after 3.00 seconds",
                },
            ]
        },
        running_rounds=1,
    )

    result = collect_diagnostics.lambda_handler(
        {"incident": _incident("orders-api")}, lambda_context
    )

    assert result["status"] == "completed"
    key = "incidents/inc-20240501-140307-0badcafe/diagnostics.json"
    assert result["evidence_uri"] == f"s3://{artifact_bucket}/{key}"
    sources = {s["source"]: s for s in result["summary"]["sources"]}
    assert sources["lambda_metrics"]["functions"]["orders-api"]["errors"] == 7
    assert sources["lambda_metrics"]["message"] == "errors or throttles in orders-api"
    logs = {s["query"]: s for s in result["summary"]["sources"] if s["source"] == "logs_insights"}
    assert logs["recent_errors"]["matches"] == 2
    assert logs["recent_errors"]["sample"][0].startswith("[ERROR] KeyError")
    assert sources["health"]["via"] == "stored events"
    verdict = result["summary"]["verdict"]
    assert verdict["domain"] == "application"
    assert {c["code"] for c in verdict["causes"]} >= {"lambda.errors", "lambda.timeout"}
    assert "support_case" not in result["summary"]
    assert len(json.dumps(result)) < 32 * 1024

    body = boto3.client("s3", region_name=REGION).get_object(Bucket=artifact_bucket, Key=key)
    evidence = json.loads(body["Body"].read())
    findings = {f["source"]: f for f in evidence["findings"] if f["source"] != "logs_insights"}
    (recent,) = [f for f in evidence["findings"] if f["target"].startswith("recent_errors")]
    rows = recent["evidence"]["rows"]
    assert rows[1] == {"@timestamp": "2024-05-01 14:02:58.000", "@message": rows[1]["@message"]}
    assert "@ptr" not in rows[0]
    series = findings["lambda_metrics"]["evidence"]["series"]
    errors = next(s for s in series if s["id"] == "f0_errors")
    assert sum(v for _, v in errors["points"]) == 7


def test_missing_log_group_is_a_finding_not_a_failure(
    artifact_bucket, logs_stub, lambda_context
) -> None:
    for _ in LAMBDA_QUERIES:
        logs_stub.add_client_error(
            "start_query",
            service_error_code="ResourceNotFoundException",
            service_message="Log group '/aws/lambda/ghost' does not exist",
            http_status_code=400,
        )
    result = collect_diagnostics.lambda_handler({"incident": _incident("ghost")}, lambda_context)

    logs = next(s for s in result["summary"]["sources"] if s["source"] == "logs_insights")
    assert logs["status"] == "not_found"
    assert "/aws/lambda/ghost does not exist" in logs["message"]
    assert result["status"] == "completed"


def test_throttled_insights_is_reported_as_partial(
    artifact_bucket, logs_stub, lambda_context
) -> None:
    for _ in LAMBDA_QUERIES:
        logs_stub.add_client_error(
            "start_query",
            service_error_code="LimitExceededException",
            service_message="Account maximum query concurrency limit of [30] reached",
            http_status_code=400,
        )
    result = collect_diagnostics.lambda_handler({"incident": _incident("busy")}, lambda_context)

    logs = next(s for s in result["summary"]["sources"] if s["source"] == "logs_insights")
    assert logs["status"] == "throttled"
    assert result["status"] == "partial"


def test_no_applicable_sources_still_writes_evidence(artifact_bucket, lambda_context) -> None:
    incident = _incident()
    incident["resources"] = [{"type": "AWS::SQS::Queue", "id": "orders"}]
    result = collect_diagnostics.lambda_handler({"incident": incident}, lambda_context)
    assert result["status"] == "completed"
    assert result["summary"]["sources"] == []
    assert "no diagnostic source" in result["summary"]["note"]
    key = result["evidence_uri"].split("/", 3)[3]
    boto3.client("s3", region_name=REGION).head_object(Bucket=artifact_bucket, Key=key)


def test_insights_query_is_stopped_when_the_budget_runs_out(moto) -> None:
    client = aws.client("logs", account=ACCOUNT, region=REGION)
    clock = iter(float(t) for t in range(100))
    with Stubber(client) as stubber:
        stubber.add_response("start_query", {"queryId": "q-1"})
        running = {"results": [_row("2024-05-01 14:00:00.000", "ERROR boom")], "status": "Running"}
        for _ in range(3):
            stubber.add_response("get_query_results", running, {"queryId": "q-1"})
        stubber.add_response("stop_query", {"success": True}, {"queryId": "q-1"})
        insights = LogsInsights(client, sleep=lambda _: None, clock=lambda: next(clock))
        now = utcnow()
        finding = insights.collect("orders-api", now - timedelta(minutes=30), now, 2.5)
        stubber.assert_no_pending_responses()
    assert finding.status == "timeout"
    assert finding.summary["matches"] == 1
    assert "stopped" in finding.message
