"""The alarm graph: every reason it can fail becomes a sentence, never an exception."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError, EndpointConnectionError

from postmortem.graph import PNG_SIGNATURE, AlarmGraph
from postmortem.widget import window

T0 = datetime(2024, 5, 1, 14, 3, 7, tzinfo=UTC)
SPAN = window(T0, T0 + timedelta(minutes=5), T0 + timedelta(hours=1))
ALARM = {
    "AlarmName": "orders-api-errors",
    "Namespace": "AWS/Lambda",
    "MetricName": "Errors",
    "Dimensions": [{"Name": "FunctionName", "Value": "orders-api"}],
    "Statistic": "Sum",
    "Period": 60,
    "Threshold": 1.0,
}


class FakeCloudWatch:
    """Answers DescribeAlarms and GetMetricWidgetImage from a script."""

    def __init__(self, alarms: Any, image: Any = PNG_SIGNATURE + b"data") -> None:
        self.alarms = alarms
        self.image = image
        self.widgets: list[str] = []

    def describe_alarms(self, **_: Any) -> dict[str, Any]:
        if isinstance(self.alarms, Exception):
            raise self.alarms
        return self.alarms

    def get_metric_widget_image(self, MetricWidget: str, OutputFormat: str) -> dict[str, Any]:
        self.widgets.append(MetricWidget)
        if isinstance(self.image, Exception):
            raise self.image
        return {"MetricWidgetImage": self.image}


def _draw(cloudwatch: FakeCloudWatch):
    return AlarmGraph(cloudwatch).draw(
        "orders-api-errors", "eu-west-1", SPAN, [("first signal", T0)]
    )


def test_rendered_graph_comes_with_console_links() -> None:
    cloudwatch = FakeCloudWatch({"MetricAlarms": [ALARM]})
    graph, png = _draw(cloudwatch)
    assert png is not None and png.startswith(PNG_SIGNATURE)
    assert graph.embedded().status == "embedded" and graph.embedded().image == "metric.png"
    assert "#metricsV2:graph=~(metrics~(~(~'AWS*2FLambda~'Errors" in graph.console_url
    assert graph.alarm_url.endswith("#alarmsV2:alarm/orders-api-errors")
    assert '"start": "2024-05-01T13:33:07Z"' in cloudwatch.widgets[0]


def test_every_failure_is_a_reason() -> None:
    denied = ClientError({"Error": {"Code": "AccessDenied"}}, "DescribeAlarms")
    throttled = ClientError(
        {"Error": {"Code": "Throttling"}, "ResponseMetadata": {"HTTPStatusCode": 400}},
        "GetMetricWidgetImage",
    )
    cases = [
        (FakeCloudWatch(denied), "DescribeAlarms failed (AccessDenied)"),
        (FakeCloudWatch({"MetricAlarms": []}), "the alarm orders-api-errors was not found"),
        (
            FakeCloudWatch({"MetricAlarms": [], "CompositeAlarms": [{"AlarmName": "c"}]}),
            "a composite alarm has no single metric to draw",
        ),
        (
            FakeCloudWatch({"MetricAlarms": [{"AlarmName": "x", "Metrics": []}]}),
            "the alarm has no metric to draw",
        ),
        (
            FakeCloudWatch({"MetricAlarms": [ALARM]}, throttled),
            "GetMetricWidgetImage failed (Throttling, HTTP 400)",
        ),
        (
            FakeCloudWatch({"MetricAlarms": [ALARM]}, NotImplementedError("moto")),
            "GetMetricWidgetImage is not implemented by this endpoint",
        ),
        (
            FakeCloudWatch(
                {"MetricAlarms": [ALARM]}, EndpointConnectionError(endpoint_url="http://x")
            ),
            "GetMetricWidgetImage failed (EndpointConnectionError)",
        ),
        (
            FakeCloudWatch({"MetricAlarms": [ALARM]}, b"<html>404</html>"),
            "GetMetricWidgetImage answered something that is not a PNG",
        ),
    ]
    for cloudwatch, reason in cases:
        graph, png = _draw(cloudwatch)
        assert png is None
        assert graph.status == "unavailable"
        assert graph.reason.startswith(reason), (graph.reason, reason)
        assert graph.alarm_url
