"""AWS console deep links, built the way the console itself writes them, region-aware.

The CloudWatch console keeps a page's state in the URL fragment as JSURL-style objects:
`~(key~value~...)`, strings prefixed with `'` and percent-encoded with `*` for `%`. Logs
Insights wraps that once more (JavaScript `escape`, then `?queryDetail=` URI-encoded with `$`
for `%`). Everything user-controlled is encoded, so a link can carry any query or name.
"""

from __future__ import annotations

import re
import string
from datetime import datetime
from typing import Any
from urllib.parse import quote

from shared.timeutil import parse_time

_PLAIN = frozenset(string.ascii_letters + string.digits + "-._")
# Characters JavaScript's escape() leaves alone.
_JS_ESCAPE_SAFE = frozenset(string.ascii_letters + string.digits + "@*_+-./")
_TRACE_ID = re.compile(r"^1-[0-9a-f]{8}-[0-9a-f]{24}$")


def console_host(region: str) -> str:
    """The regional console of the region's partition (China and GovCloud differ)."""
    if region.startswith("cn-"):
        return f"https://{region}.console.amazonaws.cn"
    if region.startswith("us-gov-"):
        return f"https://{region}.console.amazonaws-us-gov.com"
    return f"https://{region}.console.aws.amazon.com"


def _jsurl_string(text: str) -> str:
    encoded = "".join(
        char if char in _PLAIN else "".join(f"*{byte:02X}" for byte in char.encode("utf-8"))
        for char in text
    )
    return "'" + encoded


def jsurl(value: Any) -> str:
    """The console's object notation: `{"a": ["x"]}` -> `~(a~(~'x))`."""
    if isinstance(value, bool):
        return "~true" if value else "~false"
    if value is None:
        return "~null"
    if isinstance(value, int | float):
        return f"~{value}"
    if isinstance(value, dict):
        return "~(" + "~".join(f"{key}{jsurl(item)}" for key, item in value.items()) + ")"
    if isinstance(value, list | tuple):
        return "~(" + "".join(jsurl(item) for item in value) + ")"
    return "~" + _jsurl_string(str(value))


def console_time(moment: str | datetime) -> str:
    """`2024-05-01T14:03:07.000Z`, the console's absolute time format."""
    return parse_time(moment).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _cloudwatch(region: str) -> str:
    return f"{console_host(region)}/cloudwatch/home?region={region}"


def logs_insights_url(
    region: str, log_groups: list[str], query: str, start: str | datetime, end: str | datetime
) -> str:
    """Logs Insights with the query, the log groups and the absolute window filled in."""
    detail = {
        "end": console_time(end),
        "start": console_time(start),
        "timeType": "ABSOLUTE",
        "tz": "UTC",
        "editorString": query,
        "isLiveTail": False,
        "source": list(log_groups),
    }
    escaped = "".join(c if c in _JS_ESCAPE_SAFE else f"%{ord(c):02X}" for c in jsurl(detail))
    fragment = quote("?queryDetail=" + escaped, safe="!*'()").replace("%", "$")
    return f"{_cloudwatch(region)}#logsV2:logs-insights{fragment}"


def xray_traces_url(
    region: str, expression: str, start: str | datetime, end: str | datetime
) -> str:
    """The X-Ray traces page with the filter expression and the window filled in."""
    state = {
        "query": {"expression": expression} if expression else {},
        "context": {"timeRange": {"end": console_time(end), "start": console_time(start)}},
    }
    return f"{_cloudwatch(region)}#xray:traces/query?{jsurl(state)}"


def xray_trace_url(region: str, trace_id: str) -> str | None:
    """One trace, or None when the id is not an X-Ray trace id."""
    if not _TRACE_ID.match(trace_id):
        return None
    return f"{_cloudwatch(region)}#xray:traces/{trace_id}"


def metrics_url(
    region: str,
    metrics: list[list[Any]],
    start: str | datetime,
    end: str | datetime,
    period: int = 60,
) -> str:
    """A metrics graph (the same `metrics` array a metric widget takes) over the window."""
    graph = {
        "metrics": metrics,
        "view": "timeSeries",
        "stacked": False,
        "region": region,
        "start": console_time(start),
        "end": console_time(end),
        "period": period,
    }
    return f"{_cloudwatch(region)}#metricsV2:graph={jsurl(graph)}"


def alarm_url(region: str, alarm_name: str) -> str:
    """The alarm's page (its history and graph)."""
    return f"{_cloudwatch(region)}#alarmsV2:alarm/{quote(alarm_name, safe='')}"


def execution_url(region: str, execution_arn: str) -> str:
    """The execution in the Step Functions console (graph, events, input and output)."""
    return (
        f"{console_host(region)}/states/home?region={region}"
        f"#/v2/executions/details/{quote(execution_arn, safe=':-_.')}"
    )


def s3_object_url(region: str, bucket: str, key: str) -> str:
    """The object's page in the S3 console."""
    return (
        f"{console_host(region)}/s3/object/{quote(bucket, safe='')}"
        f"?region={region}&prefix={quote(key, safe='/')}"
    )
