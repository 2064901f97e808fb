"""Lambda Errors, Throttles, Invocations, Duration p99 and ConcurrentExecutions for every
function of the incident in ONE GetMetricData request: N functions cost one call, not 5N."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from diagnostics import metrics
from diagnostics.finding import APPLICATION, INFRASTRUCTURE, OK, Cause, Finding
from diagnostics.finding import finding_from_client_error as _failed
from diagnostics.metrics import Series, period_for
from diagnostics.paging import Deadline

SOURCE = "lambda_metrics"
# (query id suffix, metric name, statistic)
_SERIES = (
    ("errors", "Errors", "Sum"),
    ("throttles", "Throttles", "Sum"),
    ("invocations", "Invocations", "Sum"),
    ("duration_p99", "Duration", "p99"),
    ("concurrency", "ConcurrentExecutions", "Maximum"),
)

__all__ = ["LambdaMetrics", "build_queries", "period_for", "series_for", "summarise"]


def series_for(functions: list[str]) -> list[Series]:
    """Ids are `f<index>_<series>` (GetMetricData ids start with a lowercase letter)."""
    return [
        Series(f"f{i}_{suffix}", "AWS/Lambda", metric, (("FunctionName", fn),), stat)
        for i, fn in enumerate(functions)
        for suffix, metric, stat in _SERIES
    ]


def build_queries(functions: list[str], period: int) -> list[dict[str, Any]]:
    """The MetricDataQueries of one request covering every function."""
    return [s.query(period) for s in series_for(functions)]


def summarise(functions: list[str], results: list[dict[str, Any]]) -> dict[str, Any]:
    """Totals, worst p99 and peak concurrency per function from MetricDataResults."""
    by_id: dict[str, list[float]] = {}
    for result in results:
        by_id.setdefault(result["Id"], []).extend(float(v) for v in result.get("Values", []))
    summary: dict[str, Any] = {}
    for index, function in enumerate(functions):
        values = {suffix: by_id.get(f"f{index}_{suffix}", []) for suffix, _, _ in _SERIES}
        summary[function] = {
            "errors": int(sum(values["errors"])),
            "throttles": int(sum(values["throttles"])),
            "invocations": int(sum(values["invocations"])),
            "duration_p99_ms": round(max(values["duration_p99"]), 1)
            if values["duration_p99"]
            else None,
            "concurrency_max": int(max(values["concurrency"])) if values["concurrency"] else None,
        }
    return summary


def _scope(affected: list[str], total: int) -> str:
    if len(affected) == total and total > 1:
        return f"all {total} functions of the incident"
    return f"{len(affected)} of {total} functions"


def causes_for(summary: dict[str, Any]) -> list[Cause]:
    """Throttles mean concurrency is exhausted (infrastructure); errors point at the code."""
    total = len(summary)
    causes = []
    throttled = [f for f, s in summary.items() if s["throttles"]]
    if throttled:
        causes.append(
            Cause(
                "lambda.throttles",
                INFRASTRUCTURE,
                "Lambda throttled invocations: concurrency exhausted",
                "Raise reserved concurrency (or the account's concurrency quota), or smooth "
                "the load with a queue; check for a retry storm.",
                _scope(throttled, total),
                throttled,
                [f"{f}: {summary[f]['throttles']} throttles" for f in throttled],
            )
        )
    erroring = [f for f, s in summary.items() if s["errors"]]
    if erroring:
        causes.append(
            Cause(
                "lambda.errors",
                APPLICATION,
                "Lambda functions returned errors",
                "Read the error signatures from the function logs below.",
                _scope(erroring, total),
                erroring,
                [
                    f"{f}: {summary[f]['errors']} errors in {summary[f]['invocations']} calls"
                    for f in erroring
                ],
            )
        )
    return causes


class LambdaMetrics:
    """Reads the standard AWS/Lambda metrics through an injected CloudWatch client."""

    def __init__(self, cloudwatch: Any) -> None:
        self._cloudwatch = cloudwatch

    def collect(
        self,
        functions: list[str],
        start: datetime,
        end: datetime,
        deadline: Deadline | None = None,
    ) -> Finding:
        """One finding covering every function (one request for all of them)."""
        target = ", ".join(functions)
        try:
            results = metrics.fetch(self._cloudwatch, series_for(functions), start, end, deadline)
        except ClientError as exc:
            return _failed(SOURCE, target, exc)
        summary = summarise(functions, results)
        noisy = [f for f, s in summary.items() if s["errors"] or s["throttles"]]
        message = (
            "errors or throttles in " + ", ".join(noisy)
            if noisy
            else "no errors or throttles in the window"
        )
        evidence = {"series": metrics.evidence(results)}
        return Finding(
            SOURCE, target, OK, message, {"functions": summary}, evidence, causes_for(summary)
        )
