"""The CloudWatch Logs Insights queries the diagnostics ship, and parsers for their result rows.

Every query here runs unchanged on real CloudWatch Logs Insights and on the local emulator's
evaluator (runbook/insights), and every one has a test with hand-worked expected rows. Queries
that take a value from outside (a threshold, a request id, a trace id) are built by functions
that validate it first: ids may only contain their own character set, so nothing a log line or
an alarm says can change the query's structure.

Results of GetQueryResults are strings; the `parse_*` functions turn rows (either already
flattened to `{field: value}` or the raw `[{"field", "value"}, ...]` cells) into typed dicts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TypedDict

# Words that mark a line as a failure of some kind. "fail" also covers failed/failure;
# "timed out" is folded into "timeout" before counting so the two spellings count once.
ERROR_WORDS_REGEX = r"/(?i)(error|exception|fail|timed out|timeout)/"

# Lambda reports memory in MB in the REPORT line; Logs Insights discovers @memorySize and
# @maxMemoryUsed in bytes (MB x 1,000,000) and @duration/@billedDuration in milliseconds.
_BYTES_PER_MB = 1_000_000

ERROR_COUNTS = (
    f"filter @message like {ERROR_WORDS_REGEX}\n"
    '| fields replace(tolower(@message), "timed out", "timeout") as msg\n'
    "| stats count(*) as matches,\n"
    '    sum(strcontains(msg, "error")) as errors,\n'
    '    sum(strcontains(msg, "exception")) as exceptions,\n'
    '    sum(strcontains(msg, "fail")) as failures,\n'
    '    sum(strcontains(msg, "timeout")) as timeouts\n'
    "  by bin(5m) as period\n"
    "| sort period asc"
)
"""Lines mentioning an error, exception, failure or timeout, counted per 5-minute bin.

One row per bin that has any: `matches` (lines), and how many of them mention each word
(a line can mention several, so the four counts may add up to more than `matches`)."""

RECENT_ERRORS = (
    "fields @timestamp, @message, @logStream, @requestId\n"
    f"| filter @message like {ERROR_WORDS_REGEX}\n"
    "| sort @timestamp desc\n"
    "| limit 50"
)
"""The 50 most recent lines mentioning an error, exception, failure or timeout."""


def _require_int(name: str, value: int, low: int, high: int) -> None:
    # bool is an int subclass; True as a threshold is a bug, not a 1.
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer from {low} to {high}, got {value!r}")


SLOW_DURATION_MS = 10_000
MEMORY_PERCENT = 90
SLOW_INVOCATIONS_LIMIT = 50


def slow_or_memory_bound_invocations(
    duration_ms: int = SLOW_DURATION_MS,
    memory_percent: int = MEMORY_PERCENT,
    limit: int = SLOW_INVOCATIONS_LIMIT,
) -> str:
    """Lambda REPORT lines of invocations slower than `duration_ms` or that used more than
    `memory_percent` % of the configured memory, slowest first.

    Either sign explains a Lambda alarm on its own: a function near its timeout or near its
    memory limit is one deployment (or one bigger payload) away from failing."""
    _require_int("duration_ms", duration_ms, 1, 900_000)
    _require_int("memory_percent", memory_percent, 1, 100)
    _require_int("limit", limit, 1, 10_000)
    return (
        'filter @type = "REPORT"\n'
        "| fields @timestamp, @requestId, @logStream, @duration, @billedDuration, @initDuration,\n"
        f"    @memorySize / {_BYTES_PER_MB} as memorySizeMB,\n"
        f"    @maxMemoryUsed / {_BYTES_PER_MB} as maxMemoryUsedMB,\n"
        "    100 * @maxMemoryUsed / @memorySize as memoryUsedPercent\n"
        f"| filter @duration > {duration_ms} or memoryUsedPercent > {memory_percent}\n"
        "| sort @duration desc\n"
        f"| limit {limit}"
    )


LAMBDA_SLOW_OR_MEMORY_BOUND = slow_or_memory_bound_invocations()
"""REPORT lines with @duration > 10 s or memory used > 90 % of @memorySize."""

API_GATEWAY_ERRORS = (
    "fields coalesce(resourcePath, routeKey, path) as route\n"
    "| filter status >= 400\n"
    "| stats count(*) as requests,\n"
    "    avg(responseLatency) as avgResponseLatencyMs,\n"
    "    avg(integrationLatency) as avgIntegrationLatencyMs\n"
    "  by status, route\n"
    "| sort requests desc\n"
    "| limit 100"
)
"""API Gateway responses with status >= 400, by status and route, with average latencies.

Reads the JSON access-log format whose keys are the `$context` variable names: `status`,
`resourcePath` (REST APIs) or `routeKey` (HTTP APIs), falling back to `path`, and
`responseLatency` / `integrationLatency` in ms. A high integration latency next to the
errors points at the backend; 4xx with a low one points at the callers or the authorizer."""

# ECS cluster and service names: up to 255 letters, digits, hyphens and underscores. Nothing
# else may reach the query, so a name can neither end the string or regex it sits in nor add
# a command.
_ECS_NAME = re.compile(r"[A-Za-z0-9_-]{1,255}")
# Each service adds one clause of at most ~580 characters; Logs Insights takes queries of up
# to 10,000 characters.
MAX_ECS_SERVICES = 10


def _ecs_stopped(narrowing: str = "") -> str:
    return (
        'filter detail.lastStatus = "STOPPED"\n'
        f"{narrowing}"
        "| parse detail.stoppedReason /^(?<reason>[^:(]*[^:( ])/\n"
        "| stats count_distinct(detail.taskArn) as tasks by detail.stopCode, reason\n"
        "| sort tasks desc\n"
        "| limit 50"
    )


ECS_STOPPED_REASONS = _ecs_stopped()
"""Stopped ECS tasks counted by stop code and stop reason, over every service in the group.

Reads ECS Task State Change events delivered to a log group by an EventBridge rule (JSON:
`detail.lastStatus`, `detail.stopCode`, `detail.stoppedReason`, `detail.taskArn`); the stack's
rule delivers every STOPPED event of the account and region to one group
(docs/diagnostics.md). The reason is cut before its first `:` or `(` so that
"CannotPullContainerError: ... image X" and "Task failed ELB health checks in (target-group
...)" group by their kind, not by the ids in them. Tasks are counted once even when ECS emits
more than one STOPPED event for a task.

The diagnostics run `ecs_stopped_reasons(services)`, the same query narrowed to the incident's
services; this form is for a look across the account (and the postmortem's fallback text)."""


def ecs_stopped_reasons(services: Sequence[tuple[str, str]]) -> str:
    """ECS_STOPPED_REASONS narrowed to the tasks of the given (cluster, service) pairs.

    A service's tasks carry `detail.group` = `service:<name>` and `detail.clusterArn` =
    `arn:<partition>:ecs:<region>:<account>:cluster/<cluster>`; the cluster is matched at the
    end of the ARN, so the query needs neither the account nor the partition, and a service
    of the same name in another cluster (or in cluster `prod-2` next to `prod`) stays out.
    Names are checked against ECS's own character set first; at most MAX_ECS_SERVICES."""
    if isinstance(services, str) or not services or len(services) > MAX_ECS_SERVICES:
        raise ValueError(f"between 1 and {MAX_ECS_SERVICES} ECS services, got {services!r}")
    clauses = []
    for cluster, service in services:
        for kind, name in (("cluster", cluster), ("service", service)):
            if not is_ecs_name(name):
                raise ValueError(f"not an ECS {kind} name: {name!r}")
        clauses.append(
            f'(detail.group = "service:{service}" and '
            f"detail.clusterArn like /:cluster\\/{cluster}$/)"
        )
    either = "\n    or ".join(clauses)
    return _ecs_stopped(f"| filter {either}\n")


def is_ecs_name(name: object) -> bool:
    """True for a cluster or service name that ecs_stopped_reasons accepts."""
    return isinstance(name, str) and _ECS_NAME.fullmatch(name) is not None


VPC_FLOW_REJECTS = (
    "parse @message /^(?<flowVersion>\\d+) (?<flowAccount>\\S+) (?<flowInterface>\\S+)"
    " (?<sourceIp>\\S+) (?<destIp>\\S+) (?<sourcePort>\\S+) (?<destPort>\\S+)"
    " (?<protocolNumber>\\S+) (?<packetCount>\\S+) (?<byteCount>\\S+) (?<flowStart>\\d+)"
    " (?<flowEnd>\\d+) (?<flowAction>ACCEPT|REJECT|-) (?<flowStatus>\\S+)$/\n"
    '| filter flowAction = "REJECT"\n'
    "| stats count(*) as rejects, sum(packetCount) as packets\n"
    "  by sourceIp, destIp, destPort, protocolNumber\n"
    "| sort rejects desc\n"
    "| limit 50"
)
"""VPC flow-log records rejected by a security group or network ACL, by source, destination,
destination port and protocol (6 TCP, 17 UDP, 1 ICMP), most frequent first.

Parses the default (version 2) format explicitly instead of relying on the fields Logs
Insights discovers in flow-log groups, so it also works on groups it does not recognise; the
parsed names differ from the discovered ones (srcAddr, dstAddr, ...) so the two never clash."""

ERROR_SPIKE_THRESHOLD = 10


def error_spikes(threshold: int = ERROR_SPIKE_THRESHOLD) -> str:
    """Minutes with more than `threshold` lines mentioning an error, exception, failure or
    timeout, in time order: when the trouble started, and whether it is still going."""
    _require_int("threshold", threshold, 0, 10_000_000)
    return (
        f"filter @message like {ERROR_WORDS_REGEX}\n"
        "| stats count(*) as errors by bin(1m) as minute\n"
        f"| filter errors > {threshold}\n"
        "| sort minute asc"
    )


ERROR_SPIKES = error_spikes()
"""Minutes with more than 10 error lines."""

CORRELATION_LIMIT = 200
# Lambda and API Gateway request ids are UUIDs; API Gateway's extended ids and other
# services' ids add letters, digits, `_`, `.`, `=`. No quote, slash, backslash or pipe.
_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._=-]{0,127}")
# X-Ray trace ids: version 1, 8 hex digits of epoch seconds, 24 hex digits of randomness.
_TRACE_ID = re.compile(r"1-[0-9a-f]{8}-[0-9a-f]{24}")


def by_request_id(request_id: str, limit: int = CORRELATION_LIMIT) -> str:
    """Every line of one request in time order, across the log groups the query is run on:
    Lambda's START/END/REPORT lines and application lines (which carry @requestId), and any
    other line (access logs, downstream services) that mentions the id."""
    if not isinstance(request_id, str) or not _REQUEST_ID.fullmatch(request_id):
        raise ValueError(f"not a request id: {request_id!r}")
    _require_int("limit", limit, 1, 10_000)
    return (
        "fields @timestamp, @log, @logStream, @requestId, @message\n"
        f'| filter @requestId = "{request_id}" or @message like "{request_id}"\n'
        "| sort @timestamp asc\n"
        f"| limit {limit}"
    )


def by_trace_id(trace_id: str, limit: int = CORRELATION_LIMIT) -> str:
    """Every line that mentions one X-Ray trace id, in time order: Lambda REPORT lines of
    traced functions, Powertools' `xray_trace_id`, API Gateway access logs with
    `$context.xrayTraceId`, and `X-Amzn-Trace-Id: Root=...` headers."""
    if not isinstance(trace_id, str) or not _TRACE_ID.fullmatch(trace_id):
        raise ValueError(f"not an X-Ray trace id: {trace_id!r}")
    _require_int("limit", limit, 1, 10_000)
    return (
        "fields @timestamp, @log, @logStream, @requestId, @message\n"
        f'| filter @message like "{trace_id}"\n'
        "| sort @timestamp asc\n"
        f"| limit {limit}"
    )


SHIPPED: dict[str, str] = {
    "error_counts": ERROR_COUNTS,
    "recent_errors": RECENT_ERRORS,
    "lambda_slow_or_memory_bound": LAMBDA_SLOW_OR_MEMORY_BOUND,
    "api_gateway_errors": API_GATEWAY_ERRORS,
    "ecs_stopped_reasons": ECS_STOPPED_REASONS,
    "vpc_flow_rejects": VPC_FLOW_REJECTS,
    "error_spikes": ERROR_SPIKES,
}
"""The fixed queries by name (the correlation queries are built per id)."""


# --- result rows -------------------------------------------------------------------------

Row = Mapping[str, str]
Cells = Sequence[Mapping[str, str]]


class ErrorBin(TypedDict):
    """One 5-minute bin of ERROR_COUNTS."""

    period: str
    matches: int
    errors: int
    exceptions: int
    failures: int
    timeouts: int


class SlowInvocation(TypedDict):
    """One REPORT line of slow_or_memory_bound_invocations."""

    timestamp: str
    request_id: str
    log_stream: str
    duration_ms: float | None
    billed_duration_ms: float | None
    init_duration_ms: float | None
    memory_size_mb: float | None
    max_memory_used_mb: float | None
    memory_used_percent: float | None


class ApiErrorGroup(TypedDict):
    """One (status, route) group of API_GATEWAY_ERRORS."""

    status: int | None
    route: str
    requests: int
    avg_response_latency_ms: float | None
    avg_integration_latency_ms: float | None


class EcsStopReason(TypedDict):
    """One (stop code, reason) group of ECS_STOPPED_REASONS."""

    stop_code: str
    reason: str
    tasks: int


class FlowReject(TypedDict):
    """One (source, destination, port, protocol) group of VPC_FLOW_REJECTS."""

    source: str
    destination: str
    port: int | None
    protocol: int | None
    rejects: int
    packets: int


class ErrorSpike(TypedDict):
    """One minute of error_spikes."""

    minute: str
    errors: int


class CorrelatedLine(TypedDict):
    """One line of by_request_id / by_trace_id."""

    timestamp: str
    log_group: str
    log_stream: str
    request_id: str
    message: str


def flatten(rows: Iterable[Row | Cells]) -> list[dict[str, str]]:
    """Rows as `{field: value}`, from either shape; the internal `@ptr` is dropped."""
    flat: list[dict[str, str]] = []
    for row in rows:
        if isinstance(row, Mapping):
            flat.append({k: v for k, v in row.items() if k != "@ptr"})
        else:
            flat.append({c["field"]: c.get("value", "") for c in row if c.get("field") != "@ptr"})
    return flat


def iso_time(value: str) -> str:
    """`2024-05-01 12:05:00.000` (how Logs Insights prints times) as `2024-05-01T12:05:00Z`."""
    try:
        moment = datetime.strptime(value, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)
    except ValueError:
        return value
    text = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return text.replace(".000Z", "Z")


def _number(value: str | None) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _integer(value: str | None) -> int | None:
    number = _number(value)
    return None if number is None else int(number)


def _count(value: str | None) -> int:
    return _integer(value) or 0


def parse_error_counts(rows: Iterable[Row | Cells]) -> list[ErrorBin]:
    """Typed rows of ERROR_COUNTS."""
    return [
        ErrorBin(
            period=iso_time(r.get("period", "")),
            matches=_count(r.get("matches")),
            errors=_count(r.get("errors")),
            exceptions=_count(r.get("exceptions")),
            failures=_count(r.get("failures")),
            timeouts=_count(r.get("timeouts")),
        )
        for r in flatten(rows)
    ]


def parse_slow_invocations(rows: Iterable[Row | Cells]) -> list[SlowInvocation]:
    """Typed rows of slow_or_memory_bound_invocations."""
    return [
        SlowInvocation(
            timestamp=iso_time(r.get("@timestamp", "")),
            request_id=r.get("@requestId", ""),
            log_stream=r.get("@logStream", ""),
            duration_ms=_number(r.get("@duration")),
            billed_duration_ms=_number(r.get("@billedDuration")),
            init_duration_ms=_number(r.get("@initDuration")),
            memory_size_mb=_number(r.get("memorySizeMB")),
            max_memory_used_mb=_number(r.get("maxMemoryUsedMB")),
            memory_used_percent=_number(r.get("memoryUsedPercent")),
        )
        for r in flatten(rows)
    ]


def parse_api_gateway_errors(rows: Iterable[Row | Cells]) -> list[ApiErrorGroup]:
    """Typed rows of API_GATEWAY_ERRORS."""
    return [
        ApiErrorGroup(
            status=_integer(r.get("status")),
            route=r.get("route", ""),
            requests=_count(r.get("requests")),
            avg_response_latency_ms=_number(r.get("avgResponseLatencyMs")),
            avg_integration_latency_ms=_number(r.get("avgIntegrationLatencyMs")),
        )
        for r in flatten(rows)
    ]


def parse_ecs_stopped_reasons(rows: Iterable[Row | Cells]) -> list[EcsStopReason]:
    """Typed rows of ECS_STOPPED_REASONS."""
    return [
        EcsStopReason(
            stop_code=r.get("detail.stopCode", ""),
            reason=r.get("reason", ""),
            tasks=_count(r.get("tasks")),
        )
        for r in flatten(rows)
    ]


def parse_flow_rejects(rows: Iterable[Row | Cells]) -> list[FlowReject]:
    """Typed rows of VPC_FLOW_REJECTS."""
    return [
        FlowReject(
            source=r.get("sourceIp", ""),
            destination=r.get("destIp", ""),
            port=_integer(r.get("destPort")),
            protocol=_integer(r.get("protocolNumber")),
            rejects=_count(r.get("rejects")),
            packets=_count(r.get("packets")),
        )
        for r in flatten(rows)
    ]


def parse_error_spikes(rows: Iterable[Row | Cells]) -> list[ErrorSpike]:
    """Typed rows of error_spikes."""
    return [
        ErrorSpike(minute=iso_time(r.get("minute", "")), errors=_count(r.get("errors")))
        for r in flatten(rows)
    ]


def parse_correlated_lines(rows: Iterable[Row | Cells]) -> list[CorrelatedLine]:
    """Typed rows of by_request_id / by_trace_id; `@log` is `account:group`, keep the group."""
    return [
        CorrelatedLine(
            timestamp=iso_time(r.get("@timestamp", "")),
            log_group=r.get("@log", "").partition(":")[2] or r.get("@log", ""),
            log_stream=r.get("@logStream", ""),
            request_id=r.get("@requestId", ""),
            message=r.get("@message", ""),
        )
        for r in flatten(rows)
    ]
