"""Lambda's logs and metrics, written to moto's CloudWatch Logs and CloudWatch.

On AWS every invocation leaves log events in the function's log group and Invocations/Errors/
Duration data points in AWS/Lambda. The diagnostics step reads exactly those, so the emulator
produces them too. A background thread sends them through the public API (never from the
request path), in small batches.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config

LOGGER = logging.getLogger(__name__)
_STOP = object()


@dataclass
class _LogBatch:
    group: str
    stream: str
    events: list[dict[str, Any]] = field(default_factory=list)


def emf_metrics(line: str) -> list[tuple[str, str, dict[str, str], float, str]]:
    """Metrics in an Embedded Metric Format log line (what Powertools Metrics prints), as
    (namespace, name, dimensions, value, unit); CloudWatch Logs extracts these on AWS."""
    if not line.startswith("{") or '"_aws"' not in line:
        return []
    try:
        document = json.loads(line)
        directives = document["_aws"]["CloudWatchMetrics"]
    except (ValueError, KeyError, TypeError):
        return []
    found = []
    for directive in directives:
        namespace = directive.get("Namespace", "")
        for dimension_set in directive.get("Dimensions", []) or [[]]:
            dimensions = {key: str(document.get(key, "")) for key in dimension_set}
            for metric in directive.get("Metrics", []):
                raw = document.get(metric["Name"])
                values = raw if isinstance(raw, list) else [raw]
                for value in values:
                    if isinstance(value, (int, float)):
                        unit = metric.get("Unit", "None")
                        found.append((namespace, metric["Name"], dimensions, float(value), unit))
    return found


class Telemetry:
    """Queue log lines and metric data points; a daemon thread ships them to the emulator."""

    def __init__(self, endpoint_url: str, region: str, flush_interval: float = 0.2) -> None:
        self._endpoint_url = endpoint_url
        self._region = region
        self._flush_interval = flush_interval
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._known_streams: set[tuple[str, str]] = set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="emulator-telemetry", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join(timeout=5)
            self._thread = None

    def log(self, group: str, stream: str, message: str, timestamp_ms: int | None = None) -> None:
        stamp = timestamp_ms if timestamp_ms is not None else int(time.time() * 1000)
        self._queue.put(("log", group, stream, {"timestamp": stamp, "message": message}))

    def metric(
        self, namespace: str, name: str, dimensions: dict[str, str], value: float, unit: str
    ) -> None:
        datum = {
            "MetricName": name,
            "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
            "Value": value,
            "Unit": unit,
            "Timestamp": time.time(),
        }
        self._queue.put(("metric", namespace, datum))

    def _client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self._endpoint_url,
            region_name=self._region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - moto's fake credentials
            config=Config(retries={"max_attempts": 2}),
        )

    def _run(self) -> None:
        logs = self._client("logs")
        cloudwatch = self._client("cloudwatch")
        stopping = False
        while not stopping:
            items: list[Any] = [self._queue.get()]
            deadline = time.monotonic() + self._flush_interval
            while time.monotonic() < deadline:
                try:
                    items.append(self._queue.get(timeout=max(0.0, deadline - time.monotonic())))
                except queue.Empty:
                    break
            if any(item is _STOP for item in items):
                stopping = True
            try:
                self._ship(logs, cloudwatch, [item for item in items if item is not _STOP])
            except Exception:  # telemetry must never take the emulator down
                LOGGER.exception("could not ship Lambda logs/metrics to the emulator")

    def _ship(self, logs: Any, cloudwatch: Any, items: list[Any]) -> None:
        batches: dict[tuple[str, str], _LogBatch] = {}
        metrics: dict[str, list[dict[str, Any]]] = {}
        for item in items:
            if item[0] == "log":
                _, group, stream, event = item
                batches.setdefault((group, stream), _LogBatch(group, stream)).events.append(event)
            else:
                _, namespace, datum = item
                metrics.setdefault(namespace, []).append(datum)
        for batch in batches.values():
            self._ensure_stream(logs, batch.group, batch.stream)
            logs.put_log_events(
                logGroupName=batch.group, logStreamName=batch.stream, logEvents=batch.events
            )
        for namespace, data in metrics.items():
            for start in range(0, len(data), 500):
                cloudwatch.put_metric_data(
                    Namespace=namespace, MetricData=data[start : start + 500]
                )

    def _ensure_stream(self, logs: Any, group: str, stream: str) -> None:
        if (group, stream) in self._known_streams:
            return
        with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
            logs.create_log_group(logGroupName=group)
        with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
            logs.create_log_stream(logGroupName=group, logStreamName=stream)
        self._known_streams.add((group, stream))
