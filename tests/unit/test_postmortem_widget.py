"""The GetMetricWidgetImage widget for the alarm's metric around the incident."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from postmortem.widget import alarm_metrics, metric_widget, period, window

T0 = datetime(2024, 5, 1, 14, 3, 7, tzinfo=UTC)
METRIC_ALARM = {
    "AlarmName": "orders-api-errors",
    "Namespace": "AWS/Lambda",
    "MetricName": "Errors",
    "Dimensions": [{"Name": "FunctionName", "Value": "orders-api"}],
    "Statistic": "Sum",
    "Period": 60,
    "Threshold": 5.0,
    "ComparisonOperator": "GreaterThanOrEqualToThreshold",
}
MATH_ALARM = {
    "AlarmName": "error-rate",
    "Threshold": 0.05,
    "ComparisonOperator": "GreaterThanThreshold",
    "Metrics": [
        {
            "Id": "e1",
            "Expression": "errors / invocations",
            "Label": "error rate",
            "ReturnData": True,
        },
        {
            "Id": "errors",
            "MetricStat": {
                "Metric": {
                    "Namespace": "AWS/Lambda",
                    "MetricName": "Errors",
                    "Dimensions": [{"Name": "FunctionName", "Value": "orders-api"}],
                },
                "Period": 300,
                "Stat": "Sum",
            },
            "ReturnData": False,
        },
    ],
}


def test_window_spans_the_incident_and_never_the_future() -> None:
    span = window(T0, T0 + timedelta(minutes=17), T0 + timedelta(minutes=20))
    assert span.start == T0 - timedelta(minutes=30)
    assert span.end == T0 + timedelta(minutes=20)  # now, not 17 + 15 minutes
    short = window(T0, T0, T0 - timedelta(hours=1))
    assert short.end - short.start == timedelta(minutes=10)


def test_metric_alarm_widget() -> None:
    span = window(T0, T0 + timedelta(minutes=17), T0 + timedelta(hours=1))
    widget = metric_widget(METRIC_ALARM, span, [("first signal", T0)])
    assert widget["metrics"] == [
        [
            "AWS/Lambda",
            "Errors",
            "FunctionName",
            "orders-api",
            {"stat": "Sum", "period": 60, "label": "Errors"},
        ]
    ]
    assert widget["start"] == "2024-05-01T13:33:07Z" and widget["end"] == "2024-05-01T14:35:07Z"
    assert widget["annotations"] == {
        "vertical": [{"label": "first signal", "value": "2024-05-01T14:03:07Z"}],
        "horizontal": [{"label": "threshold (GreaterThanOrEqualToThreshold)", "value": 5.0}],
    }
    assert (widget["width"], widget["height"], widget["view"]) == (800, 400, "timeSeries")
    json.dumps(widget)  # what GetMetricWidgetImage receives


def test_metric_math_alarm_keeps_its_expression_and_hidden_inputs() -> None:
    assert alarm_metrics(MATH_ALARM) == [
        [{"id": "e1", "label": "error rate", "expression": "errors / invocations"}],
        [
            "AWS/Lambda",
            "Errors",
            "FunctionName",
            "orders-api",
            {"id": "errors", "visible": False, "stat": "Sum", "period": 300},
        ],
    ]
    assert period(MATH_ALARM) == 300


def test_composite_alarm_has_no_metrics() -> None:
    assert alarm_metrics({"AlarmName": "composite", "AlarmRule": "ALARM(a)"}) == []
    assert period({}) == 60


def test_percentile_statistic() -> None:
    alarm = {**METRIC_ALARM, "Statistic": None, "ExtendedStatistic": "p99"}
    assert alarm_metrics(alarm)[0][-1]["stat"] == "p99"
