"""The metric widget (GetMetricWidgetImage's `MetricWidget` JSON) for the alarm's metric around
the incident: the alarm's own metric or metric-math queries, its threshold as a horizontal line,
and the first signal / recovery as vertical lines. Pure: the alarm comes from DescribeAlarms.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import msgspec

from shared.timeutil import iso

BEFORE = timedelta(minutes=30)
AFTER = timedelta(minutes=15)
MIN_SPAN = timedelta(minutes=10)
WIDTH, HEIGHT = 800, 400


class Window(msgspec.Struct, frozen=True):
    """The graph's time span."""

    start: datetime
    end: datetime


def window(first_signal: datetime, last: datetime, now: datetime) -> Window:
    """From 30 minutes before the first signal to 15 after the end, never past now."""
    start = first_signal - BEFORE
    end = min(last + AFTER, now)
    return Window(start, max(end, start + MIN_SPAN))


def _dimensions(dimensions: list[dict[str, str]]) -> list[str]:
    flat: list[str] = []
    for dimension in dimensions:
        flat += [str(dimension.get("Name", "")), str(dimension.get("Value", ""))]
    return flat


def _stat(alarm: dict[str, Any]) -> str:
    return str(alarm.get("ExtendedStatistic") or alarm.get("Statistic") or "Average")


def alarm_metrics(alarm: dict[str, Any]) -> list[list[Any]]:
    """The widget/console `metrics` array for a metric alarm ([] for a composite alarm)."""
    if alarm.get("MetricName") and alarm.get("Namespace"):
        rendering: dict[str, Any] = {
            "stat": _stat(alarm),
            "period": int(alarm.get("Period") or 60),
            "label": str(alarm["MetricName"]),
        }
        namespace, name = str(alarm["Namespace"]), str(alarm["MetricName"])
        return [[namespace, name, *_dimensions(alarm.get("Dimensions", [])), rendering]]
    metrics: list[list[Any]] = []
    for query in alarm.get("Metrics", []):
        props: dict[str, Any] = {"id": query.get("Id", "m1")}
        if query.get("Label"):
            props["label"] = query["Label"]
        if not query.get("ReturnData", True):
            props["visible"] = False
        if query.get("Expression"):
            metrics.append([{**props, "expression": query["Expression"]}])
            continue
        stat = query.get("MetricStat") or {}
        metric = stat.get("Metric") or {}
        if not metric.get("MetricName"):
            continue
        props.update({"stat": stat.get("Stat", "Average"), "period": int(stat.get("Period", 60))})
        metrics.append(
            [
                str(metric.get("Namespace", "")),
                str(metric["MetricName"]),
                *_dimensions(metric.get("Dimensions", [])),
                props,
            ]
        )
    return metrics


def period(alarm: dict[str, Any]) -> int:
    """The alarm's period, or its first query's."""
    if alarm.get("Period"):
        return int(alarm["Period"])
    for query in alarm.get("Metrics", []):
        if (query.get("MetricStat") or {}).get("Period"):
            return int(query["MetricStat"]["Period"])
    return 60


def metric_widget(
    alarm: dict[str, Any], span: Window, marks: list[tuple[str, datetime]]
) -> dict[str, Any]:
    """The MetricWidget document: the alarm's metrics, threshold and the incident's marks."""
    annotations: dict[str, Any] = {
        "vertical": [{"label": label, "value": iso(at)} for label, at in marks]
    }
    if isinstance(alarm.get("Threshold"), int | float):
        operator = str(alarm.get("ComparisonOperator", ""))
        label = f"threshold ({operator})" if operator else "threshold"
        annotations["horizontal"] = [{"label": label, "value": alarm["Threshold"]}]
    return {
        "title": str(alarm.get("AlarmName", "alarm"))[:200],
        "view": "timeSeries",
        "stacked": False,
        "metrics": alarm_metrics(alarm),
        "period": period(alarm),
        "start": iso(span.start),
        "end": iso(span.end),
        "width": WIDTH,
        "height": HEIGHT,
        "legend": {"position": "bottom"},
        "annotations": annotations,
    }
