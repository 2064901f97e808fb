"""Diagnostics logic without AWS: planning, the time budget, failure isolation, summaries."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta

from diagnostics.evidence import SUMMARY_LIMIT_BYTES, _size, overall_status, summarise
from diagnostics.finding import Finding
from diagnostics.lambda_metrics import build_queries, period_for
from diagnostics.lambda_metrics import summarise as metric_summary
from diagnostics.runner import DiagnosticsRunner, Task, function_name, window_for
from incidents.model import Incident, Resource

NOW = datetime(2024, 5, 1, 15, 0, tzinfo=UTC)


def _incident(*resources: Resource) -> Incident:
    return Incident(
        incident_id="inc-1", title="t", opened_at="2024-05-01T14:30:00Z", resources=list(resources)
    )


def test_function_name_from_name_arn_or_alias() -> None:
    assert function_name("orders-api") == "orders-api"
    assert function_name("arn:aws:lambda:us-east-1:123456789012:function:orders-api:live") == (
        "orders-api"
    )
    assert function_name("orders-api:live") == "orders-api"


def test_window_starts_a_lookback_before_the_incident_and_is_capped() -> None:
    window = window_for(_incident(), 30, NOW)
    assert window.start == datetime(2024, 5, 1, 14, 0, tzinfo=UTC)
    assert window.end == NOW
    old = Incident(incident_id="i", title="t", opened_at="2020-01-01T00:00:00Z")
    assert window_for(old, 30, NOW).start == NOW - timedelta(days=1)


def test_metric_queries_have_valid_ids_and_one_series_each() -> None:
    queries = build_queries(["a", "b"], 60)
    assert len(queries) == 10  # Errors, Throttles, Invocations, Duration p99, Concurrency
    assert all(re.fullmatch(r"[a-z][a-zA-Z0-9_]*", q["Id"]) for q in queries)
    assert {q["MetricStat"]["Stat"] for q in queries} == {"Sum", "p99", "Maximum"}
    assert period_for(NOW - timedelta(minutes=30), NOW) == 60
    assert period_for(NOW - timedelta(days=1), NOW) == 240


def test_metric_summary_totals() -> None:
    results = [
        {"Id": "f0_errors", "Values": [3.0, 2.0]},
        {"Id": "f0_throttles", "Values": []},
        {"Id": "f0_duration_p99", "Values": [812.04, 1200.55]},
    ]
    summary = metric_summary(["orders-api"], results)
    assert summary == {
        "orders-api": {
            "errors": 5,
            "throttles": 0,
            "invocations": 0,
            "duration_p99_ms": 1200.5,
            "concurrency_max": None,
        }
    }


def test_plan_for_lambda_functions() -> None:
    runner = DiagnosticsRunner(clients=lambda service, region=None: object(), budget_seconds=5)
    incident = _incident(
        Resource(type="AWS::Lambda::Function", id="orders-api"),
        Resource(type="AWS::DynamoDB::Table", id="orders"),
        Resource(type="AWS::Lambda::Function", id="arn:aws:lambda:us-east-1:1:function:billing"),
    )
    tasks = runner.plan(incident, window_for(incident, 30, NOW))
    assert [(t.source, t.target) for t in tasks] == [
        ("health", ""),
        ("lambda_metrics", "billing, orders-api"),
        ("network", "paths"),
        ("xray", "traces"),
        ("logs_insights", "log groups"),
    ]
    assert runner.plan(_incident(), window_for(_incident(), 30, NOW)) == []


def test_a_failing_or_slow_source_never_fails_the_run() -> None:
    release = threading.Event()

    def boom() -> Finding:
        raise RuntimeError("kaboom")

    def slow() -> Finding:
        release.wait(5)
        return Finding("slow", "x", "ok")

    tasks = [
        Task("good", "a", lambda: Finding("good", "a", "ok", "fine")),
        Task("bad", "b", boom),
        Task("slow", "c", slow),
    ]
    try:
        findings = DiagnosticsRunner(lambda s: None, budget_seconds=0.3).run(tasks)
    finally:
        release.set()
    assert [(f.source, f.status) for f in findings] == [
        ("good", "ok"),
        ("bad", "error"),
        ("slow", "timeout"),
    ]
    assert findings[1].message == "RuntimeError: kaboom"
    assert overall_status(findings) == "partial"


def test_overall_status() -> None:
    assert overall_status([]) == "completed"
    assert overall_status([Finding("a", "b", "ok"), Finding("a", "c", "not_found")]) == "completed"
    assert overall_status([Finding("a", "b", "error"), Finding("a", "c", "timeout")]) == "failed"


def test_summary_stays_under_32_kb() -> None:
    big = [
        Finding(
            "logs_insights", f"/aws/lambda/fn-{i}", "ok", "m" * 400, {"sample": ["x" * 300] * 3}
        )
        for i in range(200)
    ]
    summary = summarise(big, {"start": "s", "end": "e"})
    assert _size(summary) <= SUMMARY_LIMIT_BYTES
    assert summary["truncated"] is True
    assert summary["sources"][0]["target"] == "/aws/lambda/fn-0"


def test_small_summary_keeps_the_numbers() -> None:
    summary = summarise(
        [Finding("m", "fn", "ok", "fine", {"functions": {"fn": {"errors": 3}}})], {}
    )
    assert summary["sources"][0]["functions"] == {"fn": {"errors": 3}}
    assert "truncated" not in summary
    assert "note" in summarise([], {})
