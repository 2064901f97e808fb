"""The alarm's metric around the incident as a PNG, from CloudWatch GetMetricWidgetImage.

A graph is a nicety: whatever goes wrong (the alarm is gone or composite, the API throttles,
an endpoint without the API such as the local emulator answers an error or a 404, the answer is
not a PNG) becomes a reason, and the document links to the console instead. It never fails or
retries the step.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import msgspec
from botocore.exceptions import BotoCoreError, ClientError
from msgspec.structs import replace

from postmortem.console import alarm_url, metrics_url
from postmortem.widget import Window, alarm_metrics, metric_widget, period
from shared.errors import error_code

IMAGE_NAME = "metric.png"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class Graph(msgspec.Struct, frozen=True):
    """What the Graphs section shows: the embedded image, or why not, and console links."""

    status: str  # embedded | unavailable | no_alarm
    reason: str = ""
    title: str = ""
    image: str = ""
    console_url: str = ""
    alarm_url: str = ""

    def embedded(self) -> Graph:
        """The same graph, now stored next to the document."""
        return replace(self, status="embedded", image=IMAGE_NAME, reason="")


def _failure(what: str, error: Exception) -> str:
    if isinstance(error, ClientError):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "")
        code = error_code(error) or "error"
        return f"{what} failed ({code}{f', HTTP {status}' if status else ''})"
    if isinstance(error, NotImplementedError):
        return f"{what} is not implemented by this endpoint"
    return f"{what} failed ({type(error).__name__})"


class AlarmGraph:
    """Reads the alarm and renders its metric through an injected CloudWatch client."""

    def __init__(self, cloudwatch: Any) -> None:
        self._cloudwatch = cloudwatch

    def alarm(self, name: str) -> tuple[dict[str, Any] | None, str]:
        """The metric alarm, or None and why."""
        try:
            found = self._cloudwatch.describe_alarms(
                AlarmNames=[name], AlarmTypes=["MetricAlarm", "CompositeAlarm"]
            )
        except (ClientError, BotoCoreError, NotImplementedError) as exc:
            return None, _failure("DescribeAlarms", exc)
        metric_alarms = found.get("MetricAlarms", [])
        if metric_alarms:
            return metric_alarms[0], ""
        if found.get("CompositeAlarms"):
            return None, "a composite alarm has no single metric to draw"
        return None, f"the alarm {name} was not found in this account and region"

    def image(self, widget: dict[str, Any]) -> tuple[bytes | None, str]:
        """The PNG, or None and why (an endpoint without the API answers an error)."""
        try:
            answer = self._cloudwatch.get_metric_widget_image(
                MetricWidget=json.dumps(widget), OutputFormat="png"
            )
        except (ClientError, BotoCoreError, NotImplementedError) as exc:
            return None, _failure("GetMetricWidgetImage", exc)
        png = answer.get("MetricWidgetImage") or b""
        if not isinstance(png, bytes) or not png.startswith(PNG_SIGNATURE):
            return None, "GetMetricWidgetImage answered something that is not a PNG"
        return png, ""

    def draw(
        self, alarm_name: str, region: str, span: Window, marks: list[tuple[str, datetime]]
    ) -> tuple[Graph, bytes | None]:
        """The graph description and, when CloudWatch rendered it, the PNG to store."""
        links = {"alarm_url": alarm_url(region, alarm_name), "title": alarm_name}
        alarm, why = self.alarm(alarm_name)
        if alarm is None:
            return Graph("unavailable", reason=why, **links), None
        metrics = alarm_metrics(alarm)
        if not metrics:
            return Graph("unavailable", reason="the alarm has no metric to draw", **links), None
        console = metrics_url(region, metrics, span.start, span.end, period(alarm))
        png, why = self.image(metric_widget(alarm, span, marks))
        return Graph("unavailable", reason=why, console_url=console, **links), png
