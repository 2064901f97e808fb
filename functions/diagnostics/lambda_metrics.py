"""Lambda Errors, Throttles, Invocations and Duration p99 for the incident's functions,
all in one GetMetricData request (paged only if CloudWatch pages it)."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from diagnostics.finding import OK, Finding, finding_from_client_error
from shared.timeutil import iso

SOURCE = "lambda_metrics"
# (query id suffix, metric name, statistic)
_SERIES = (
    ("errors", "Errors", "Sum"),
    ("throttles", "Throttles", "Sum"),
    ("invocations", "Invocations", "Sum"),
    ("duration_p99", "Duration", "p99"),
)


def period_for(start: datetime, end: datetime) -> int:
    """A period (multiple of 60 s) that keeps each series under ~360 points."""
    seconds = max(60, int((end - start).total_seconds()))
    return max(60, math.ceil(seconds / 360 / 60) * 60)


def build_queries(functions: list[str], period: int) -> list[dict[str, Any]]:
    """MetricDataQueries; ids are `f<index>_<series>` (must start with a lowercase letter)."""
    return [
        {
            "Id": f"f{index}_{suffix}",
            "Label": f"{function} {metric} {stat}",
            "MetricStat": {
                "Metric": {
                    "Namespace": "AWS/Lambda",
                    "MetricName": metric,
                    "Dimensions": [{"Name": "FunctionName", "Value": function}],
                },
                "Period": period,
                "Stat": stat,
            },
            "ReturnData": True,
        }
        for index, function in enumerate(functions)
        for suffix, metric, stat in _SERIES
    ]


def summarise(functions: list[str], results: list[dict[str, Any]]) -> dict[str, Any]:
    """Totals (and the worst p99) per function from MetricDataResults."""
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
        }
    return summary


class LambdaMetrics:
    """Reads the standard AWS/Lambda metrics through an injected CloudWatch client."""

    def __init__(self, cloudwatch: Any) -> None:
        self._cloudwatch = cloudwatch

    def collect(self, functions: list[str], start: datetime, end: datetime) -> Finding:
        """One finding covering every function (one request for all of them)."""
        target = ", ".join(functions)
        kwargs: dict[str, Any] = {
            "MetricDataQueries": build_queries(functions, period_for(start, end)),
            "StartTime": start,
            "EndTime": end,
            "ScanBy": "TimestampAscending",
        }
        results: list[dict[str, Any]] = []
        try:
            while True:
                page = self._cloudwatch.get_metric_data(**kwargs)
                results.extend(page.get("MetricDataResults", []))
                if not page.get("NextToken"):
                    break
                kwargs["NextToken"] = page["NextToken"]
        except ClientError as exc:
            return finding_from_client_error(SOURCE, target, exc)
        summary = summarise(functions, results)
        noisy = [f for f, s in summary.items() if s["errors"] or s["throttles"]]
        message = (
            "errors or throttles in " + ", ".join(noisy)
            if noisy
            else "no errors or throttles in the window"
        )
        evidence = {
            "series": [
                {
                    "id": r["Id"],
                    "label": r.get("Label", ""),
                    "status": r.get("StatusCode", ""),
                    "points": [
                        [iso(t), v]
                        for t, v in zip(r.get("Timestamps", []), r.get("Values", []), strict=False)
                    ],
                }
                for r in results
            ]
        }
        return Finding(SOURCE, target, OK, message, {"functions": summary}, evidence)
