"""CloudWatch GetMetricData for many series in one request (paged only if CloudWatch pages it):
one call per source for every resource it looks at, instead of one per resource and metric."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from diagnostics.paging import Deadline, paginate
from shared.timeutil import iso

# GetMetricData accepts at most 500 queries per request.
MAX_QUERIES = 500


@dataclass(frozen=True)
class Series:
    """One metric of one resource; `id` must start with a lowercase letter."""

    id: str
    namespace: str
    metric: str
    dimensions: tuple[tuple[str, str], ...]
    stat: str

    def query(self, period: int) -> dict[str, Any]:
        label = " ".join(v for _, v in self.dimensions)
        return {
            "Id": self.id,
            "Label": f"{label} {self.metric} {self.stat}",
            "MetricStat": {
                "Metric": {
                    "Namespace": self.namespace,
                    "MetricName": self.metric,
                    "Dimensions": [{"Name": n, "Value": v} for n, v in self.dimensions],
                },
                "Period": period,
                "Stat": self.stat,
            },
            "ReturnData": True,
        }


def period_for(start: datetime, end: datetime) -> int:
    """A period (multiple of 60 s) that keeps each series under ~360 points."""
    seconds = max(60, int((end - start).total_seconds()))
    return max(60, math.ceil(seconds / 360 / 60) * 60)


def fetch(
    cloudwatch: Any,
    series: list[Series],
    start: datetime,
    end: datetime,
    deadline: Deadline | None = None,
) -> list[dict[str, Any]]:
    """MetricDataResults for every series (pages merged by Id, in timestamp order)."""
    period = period_for(start, end)
    results: dict[str, dict[str, Any]] = {}
    for offset in range(0, len(series), MAX_QUERIES):
        chunk = series[offset : offset + MAX_QUERIES]
        listing = paginate(
            cloudwatch,
            "get_metric_data",
            "MetricDataResults",
            deadline,
            MetricDataQueries=[s.query(period) for s in chunk],
            StartTime=start,
            EndTime=end,
            ScanBy="TimestampAscending",
        )
        for result in listing.items:
            merged = results.setdefault(
                result["Id"],
                {
                    "Id": result["Id"],
                    "Label": result.get("Label", ""),
                    "Timestamps": [],
                    "Values": [],
                    "StatusCode": result.get("StatusCode", ""),
                },
            )
            merged["Timestamps"].extend(result.get("Timestamps", []))
            merged["Values"].extend(result.get("Values", []))
    return list(results.values())


def values_by_id(results: list[dict[str, Any]]) -> dict[str, list[float]]:
    return {r["Id"]: [float(v) for v in r.get("Values", [])] for r in results}


def evidence(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Series as plain JSON: id, label, status and [time, value] points."""
    return [
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
