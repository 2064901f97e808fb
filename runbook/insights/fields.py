"""The fields a log event has before any command runs: what Logs Insights discovers.

Every event has @timestamp, @ingestionTime, @message, @logStream and @log (`account:group`).
Lambda's platform lines add @type (START, END, REPORT), @requestId, and on REPORT lines
@duration, @billedDuration and @initDuration (ms) and @memorySize and @maxMemoryUsed in
bytes, as Logs Insights reports them (the line's MB x 1,000,000), plus @xrayTraceId and
@xraySegmentId when the function is traced; application lines written by the Lambda runtimes
(`<time>\\t<request id>\\t...`) carry @requestId. A JSON event's keys are fields, nested keys
joined with dots and list items by index (`detail.containers.0.exitCode`); in a Lambda log
group, the first JSON object embedded in a text line counts as well.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runbook.insights.values import Timestamp, Value

DEFAULT_ACCOUNT = "123456789012"
_BYTES_PER_MB = 1_000_000
_PLATFORM = re.compile(r"(START|END|REPORT) RequestId: ([0-9A-Za-z-]+)")
_REPORT_NUMBERS = (
    ("@duration", re.compile(r"(?<!Billed )(?<!Init )Duration: ([0-9.]+) ms"), 1),
    ("@billedDuration", re.compile(r"Billed Duration: ([0-9.]+) ms"), 1),
    ("@initDuration", re.compile(r"Init Duration: ([0-9.]+) ms"), 1),
    ("@memorySize", re.compile(r"Memory Size: ([0-9.]+) MB"), _BYTES_PER_MB),
    ("@maxMemoryUsed", re.compile(r"Max Memory Used: ([0-9.]+) MB"), _BYTES_PER_MB),
)
_XRAY = re.compile(r"XRAY TraceId: (\S+)\s+SegmentId: (\S+)")
# Node/Java: `2024-05-01T12:00:00.000Z\t<id>\tERROR\t...`; Python: `[ERROR]\t<time>\t<id>\t...`;
# the runtime's own `<time> <id> Task timed out after 6.01 seconds` separates with spaces.
_RUNTIME_LINE = re.compile(
    r"(?:\[[A-Z]+\]\t)?\d{4}-\d{2}-\d{2}T\S+[\t ]"
    r"([0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12})[\t ]"
)
_DECODER = json.JSONDecoder()


@dataclass(frozen=True)
class LogEvent:
    """One log event as CloudWatch Logs stores it (times in epoch milliseconds)."""

    timestamp: int
    message: str
    log_stream: str = ""
    ingestion_time: int | None = None

    @classmethod
    def from_dict(cls, event: Mapping[str, Any]) -> LogEvent:
        """From the shape FilterLogEvents/GetLogEvents return (`logStreamName` optional)."""
        return cls(
            timestamp=int(event["timestamp"]),
            message=str(event["message"]),
            log_stream=str(event.get("logStreamName", "")),
            ingestion_time=(
                int(event["ingestionTime"]) if event.get("ingestionTime") is not None else None
            ),
        )


def discover(
    event: LogEvent, log_group: str, account_id: str = DEFAULT_ACCOUNT
) -> dict[str, Value]:
    """The event's fields, as a fresh dict the query may add to."""
    message = event.message
    fields: dict[str, Value] = {
        "@timestamp": Timestamp(event.timestamp),
        "@ingestionTime": Timestamp(
            event.ingestion_time if event.ingestion_time is not None else event.timestamp
        ),
        "@message": message,
        "@logStream": event.log_stream,
        "@log": f"{account_id}:{log_group}",
    }
    lambda_group = log_group.startswith("/aws/lambda/")
    if not _lambda_fields(message, fields) and lambda_group:
        runtime = _RUNTIME_LINE.match(message)
        if runtime:
            fields["@requestId"] = runtime.group(1)
    stripped = message.lstrip()
    if stripped.startswith("{"):
        _json_fields(stripped, fields)
    elif lambda_group and "{" in message:
        _json_fields(message[message.index("{") :], fields)
    return fields


def _lambda_fields(message: str, fields: dict[str, Value]) -> bool:
    platform = _PLATFORM.match(message)
    if not platform:
        return False
    kind, request_id = platform.groups()
    fields["@type"] = kind
    fields["@requestId"] = request_id
    if kind != "REPORT":
        return True
    for name, pattern, scale in _REPORT_NUMBERS:
        found = pattern.search(message)
        if found:
            fields[name] = float(found.group(1)) * scale
    xray = _XRAY.search(message)
    if xray:
        fields["@xrayTraceId"], fields["@xraySegmentId"] = xray.groups()
    return True


def _json_fields(text: str, fields: dict[str, Value]) -> None:
    try:
        document, _ = _DECODER.raw_decode(text)
    except ValueError:
        return
    if isinstance(document, dict):
        _flatten(document, "", fields)


def _flatten(node: Any, prefix: str, fields: dict[str, Value]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if not prefix and name.startswith("@"):
                name = "@" + name  # Logs Insights shows a JSON key `@x` as `@@x`
            _flatten(value, name, fields)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            _flatten(value, f"{prefix}.{index}", fields)
    elif node is not None and prefix not in fields:
        fields[prefix] = node
