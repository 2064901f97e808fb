"""Every shipped Logs Insights query against realistic log lines, through the offline evaluator.

The expected rows are worked out by hand from the sample lines (the reasoning sits next to
each one) and written out literally: a change in a query or in the evaluator that changes
what responders would see fails here.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from diagnostics import queries
from runbook.insights import LogEvent, evaluate, run_query

ACCOUNT = "123456789012"
LAMBDA_GROUP = "/aws/lambda/orders-api"
STREAM = "2024/05/01/[$LATEST]3c9d5e7f1a2b4c6d8e0f1a2b3c4d5e6f"
R1 = "0b6f3e2a-1c4d-4e5f-8a9b-0c1d2e3f4a5b"
R2 = "1c7a4f3b-2d5e-4f60-9bac-1d2e3f4a5b6c"
R3 = "2d8b5a4c-3e6f-4a71-acbd-2e3f4a5b6c7d"
R4 = "3e9c6b5d-4f7a-4b82-bdce-3f4a5b6c7d8e"
R5 = "4fad7c6e-5a8b-4c93-8edf-4a5b6c7d8e9f"
R6 = "5abe8d7f-6b9c-4da4-9fe0-5b6c7d8e9fa0"
R7 = "6bcf9e8a-7cad-4eb5-a0f1-6c7d8e9fa0b1"


def test_every_shipped_query_has_a_test_here() -> None:
    # A new entry in SHIPPED needs a test with hand-worked rows in this file first.
    assert set(queries.SHIPPED) == {
        "error_counts",
        "recent_errors",
        "lambda_slow_or_memory_bound",
        "api_gateway_errors",
        "ecs_stopped_reasons",
        "vpc_flow_rejects",
        "error_spikes",
    }


def at(clock: str) -> int:
    """Epoch milliseconds of `HH:MM:SS.mmm` on 2024-05-01 (UTC)."""
    moment = datetime.strptime(f"2024-05-01 {clock}", "%Y-%m-%d %H:%M:%S.%f")
    return int(moment.replace(tzinfo=UTC).timestamp() * 1000)


def lambda_event(clock: str, message: str) -> LogEvent:
    return LogEvent(at(clock), message, STREAM)


# --- a Lambda function's log group: platform lines and Python runtime lines -----------------

E1_START = f"START RequestId: {R1} Version: $LATEST\n"
E2_KEYERROR = f"[ERROR]\t2024-05-01T12:00:01.200Z\t{R1}\tKeyError: 'order_id'\n"
E3_END = f"END RequestId: {R1}\n"
E4_REPORT = (
    f"REPORT RequestId: {R1}\tDuration: 300.50 ms\tBilled Duration: 301 ms\t"
    "Memory Size: 128 MB\tMax Memory Used: 80 MB\t\n"
)
E5_THROTTLED = (
    f"[ERROR]\t2024-05-01T12:03:20.000Z\t{R2}\tbotocore.exceptions.ClientError: An error "
    "occurred (ThrottlingException) when calling the Query operation: Rate exceeded\n"
)
E6_FAILED = f"[WARNING]\t2024-05-01T12:04:59.999Z\t{R3}\tpayment provider call failed, retrying\n"
E7_TIMED_OUT = f"2024-05-01T12:05:00.000Z {R4} Task timed out after 6.01 seconds\n"
E8_CONNECT = (
    f"[ERROR]\t2024-05-01T12:07:30.000Z\t{R5}\tConnectTimeoutError: Connect timeout on "
    'endpoint URL: "https://dynamodb.us-east-1.amazonaws.com/"\n'
)
E9_INFO = f"[INFO]\t2024-05-01T12:08:00.000Z\t{R6}\tOrder 42 processed\n"
E10_UNHANDLED = (
    f"[ERROR]\t2024-05-01T12:15:10.000Z\t{R7}\tUnhandled exception: ValueError: "
    "Failed to parse request\n"
)

LAMBDA_APP_LINES = [
    lambda_event("12:00:01.000", E1_START),
    lambda_event("12:00:01.200", E2_KEYERROR),
    lambda_event("12:00:01.300", E3_END),
    lambda_event("12:00:01.301", E4_REPORT),
    lambda_event("12:03:20.000", E5_THROTTLED),
    lambda_event("12:04:59.999", E6_FAILED),
    lambda_event("12:05:00.000", E7_TIMED_OUT),
    lambda_event("12:07:30.000", E8_CONNECT),
    lambda_event("12:08:00.000", E9_INFO),
    lambda_event("12:15:10.000", E10_UNHANDLED),
]


def test_error_counts_per_five_minutes() -> None:
    # Matching lines (case-insensitive error|exception|fail|timed out|timeout): E2, E5, E6 in
    # the 12:00 bin; E7, E8 in the 12:05 bin; E10 in the 12:15 bin. START/END/REPORT and E9
    # mention none of the words. Per line, lower-cased with "timed out" -> "timeout":
    #   E2  "[error] ... keyerror"                      error
    #   E5  "[error] ... exceptions.clienterror ... throttlingexception"  error, exception
    #   E6  "[warning] ... call failed"                 fail
    #   E7  "task timeout after 6.01 seconds"           timeout
    #   E8  "[error] ... connecttimeouterror: connect timeout"  error, timeout
    #   E10 "[error] ... unhandled exception: valueerror: failed"  error, exception, fail
    # No line in 12:10-12:15, so no row for that bin.
    rows = evaluate(queries.ERROR_COUNTS, LAMBDA_APP_LINES, LAMBDA_GROUP)
    assert rows == [
        {
            "period": "2024-05-01 12:00:00.000",
            "matches": "3",
            "errors": "2",
            "exceptions": "1",
            "failures": "1",
            "timeouts": "0",
        },
        {
            "period": "2024-05-01 12:05:00.000",
            "matches": "2",
            "errors": "1",
            "exceptions": "0",
            "failures": "0",
            "timeouts": "2",
        },
        {
            "period": "2024-05-01 12:15:00.000",
            "matches": "1",
            "errors": "1",
            "exceptions": "1",
            "failures": "1",
            "timeouts": "0",
        },
    ]
    assert queries.parse_error_counts(rows)[1] == {
        "period": "2024-05-01T12:05:00Z",
        "matches": 2,
        "errors": 1,
        "exceptions": 0,
        "failures": 0,
        "timeouts": 2,
    }


def test_recent_errors_newest_first_with_request_ids() -> None:
    # The six matching lines, newest first; the runtime lines carry their request id.
    rows = evaluate(queries.RECENT_ERRORS, LAMBDA_APP_LINES, LAMBDA_GROUP)
    assert rows == [
        {
            "@timestamp": "2024-05-01 12:15:10.000",
            "@message": E10_UNHANDLED,
            "@logStream": STREAM,
            "@requestId": R7,
        },
        {
            "@timestamp": "2024-05-01 12:07:30.000",
            "@message": E8_CONNECT,
            "@logStream": STREAM,
            "@requestId": R5,
        },
        {
            "@timestamp": "2024-05-01 12:05:00.000",
            "@message": E7_TIMED_OUT,
            "@logStream": STREAM,
            "@requestId": R4,
        },
        {
            "@timestamp": "2024-05-01 12:04:59.999",
            "@message": E6_FAILED,
            "@logStream": STREAM,
            "@requestId": R3,
        },
        {
            "@timestamp": "2024-05-01 12:03:20.000",
            "@message": E5_THROTTLED,
            "@logStream": STREAM,
            "@requestId": R2,
        },
        {
            "@timestamp": "2024-05-01 12:00:01.200",
            "@message": E2_KEYERROR,
            "@logStream": STREAM,
            "@requestId": R1,
        },
    ]


# --- REPORT lines ----------------------------------------------------------------------------

RA = "7a1b2c3d-0000-4000-8000-00000000000a"
RB = "7a1b2c3d-0000-4000-8000-00000000000b"
RC = "7a1b2c3d-0000-4000-8000-00000000000c"
RD = "7a1b2c3d-0000-4000-8000-00000000000d"
RE = "7a1b2c3d-0000-4000-8000-00000000000e"

REPORTS = [
    # 300.5 ms, 80 of 128 MB = 62.5 %: fine.
    lambda_event(
        "12:00:01.301",
        f"REPORT RequestId: {RA}\tDuration: 300.50 ms\tBilled Duration: 301 ms\t"
        "Memory Size: 128 MB\tMax Memory Used: 80 MB\t\n",
    ),
    # Exactly 10 s (not > 10 s); 115 of 128 MB = 89.84375 % (not > 90 %): fine.
    lambda_event(
        "12:01:00.000",
        f"REPORT RequestId: {RB}\tDuration: 10000.00 ms\tBilled Duration: 10000 ms\t"
        "Memory Size: 128 MB\tMax Memory Used: 115 MB\t\n",
    ),
    # Slow cold start: 12.03 s; 400 of 1024 MB = 39.0625 %.
    lambda_event(
        "12:02:00.000",
        f"REPORT RequestId: {RC}\tDuration: 12034.56 ms\tBilled Duration: 12035 ms\t"
        "Memory Size: 1024 MB\tMax Memory Used: 400 MB\tInit Duration: 812.33 ms\t\n",
    ),
    # Fast but 470 of 512 MB = 91.796875 %.
    lambda_event(
        "12:03:00.000",
        f"REPORT RequestId: {RD}\tDuration: 850.25 ms\tBilled Duration: 851 ms\t"
        "Memory Size: 512 MB\tMax Memory Used: 470 MB\t\n",
    ),
    # A timeout that also ran out of memory: 128 of 128 MB = 100 %.
    lambda_event(
        "12:05:00.000",
        f"REPORT RequestId: {RE}\tDuration: 6006.61 ms\tBilled Duration: 6000 ms\t"
        "Memory Size: 128 MB\tMax Memory Used: 128 MB\tStatus: timeout\n",
    ),
    # Not a REPORT line, even though it says Duration: @type is missing, the filter is false.
    lambda_event(
        "12:06:00.000",
        f"[INFO]\t2024-05-01T12:06:00.000Z\t{RA}\tbatch done Duration: 20000.00 ms\n",
    ),
]


def test_slow_or_memory_bound_invocations() -> None:
    # Flagged: RC (12034.56 ms > 10000), RD (91.8 % > 90), RE (100 % > 90); slowest first.
    # memorySizeMB/maxMemoryUsedMB divide the discovered bytes (MB x 1e6) back to MB.
    rows = evaluate(queries.LAMBDA_SLOW_OR_MEMORY_BOUND, REPORTS, LAMBDA_GROUP)
    assert rows == [
        {
            "@timestamp": "2024-05-01 12:02:00.000",
            "@requestId": RC,
            "@logStream": STREAM,
            "@duration": "12034.56",
            "@billedDuration": "12035",
            "@initDuration": "812.33",
            "memorySizeMB": "1024",
            "maxMemoryUsedMB": "400",
            "memoryUsedPercent": "39.0625",
        },
        {
            "@timestamp": "2024-05-01 12:05:00.000",
            "@requestId": RE,
            "@logStream": STREAM,
            "@duration": "6006.61",
            "@billedDuration": "6000",
            "memorySizeMB": "128",
            "maxMemoryUsedMB": "128",
            "memoryUsedPercent": "100",
        },
        {
            "@timestamp": "2024-05-01 12:03:00.000",
            "@requestId": RD,
            "@logStream": STREAM,
            "@duration": "850.25",
            "@billedDuration": "851",
            "memorySizeMB": "512",
            "maxMemoryUsedMB": "470",
            "memoryUsedPercent": "91.796875",
        },
    ]
    first = queries.parse_slow_invocations(rows)[0]
    assert first == {
        "timestamp": "2024-05-01T12:02:00Z",
        "request_id": RC,
        "log_stream": STREAM,
        "duration_ms": 12034.56,
        "billed_duration_ms": 12035.0,
        "init_duration_ms": 812.33,
        "memory_size_mb": 1024.0,
        "max_memory_used_mb": 400.0,
        "memory_used_percent": 39.0625,
    }


def test_slow_invocations_thresholds_are_parameters() -> None:
    # > 800 ms or > 95 %: RC 12034.56, RB 10000, RE 6006.61, RD 850.25; the 2 slowest.
    query = queries.slow_or_memory_bound_invocations(duration_ms=800, memory_percent=95, limit=2)
    rows = evaluate(query, REPORTS, LAMBDA_GROUP)
    assert [(r["@requestId"], r["@duration"]) for r in rows] == [
        (RC, "12034.56"),
        (RB, "10000"),
    ]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"duration_ms": 0},
        {"duration_ms": True},
        {"memory_percent": 101},
        {"limit": 10_001},
        {"duration_ms": "10000 or 1=1"},
    ],
)
def test_slow_invocations_rejects_bad_thresholds(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        queries.slow_or_memory_bound_invocations(**kwargs)  # type: ignore[arg-type]


# --- API Gateway access logs -------------------------------------------------------------------

API_GROUP = "/aws/apigateway/orders-api/access"


def access_log(clock: str, **fields: object) -> LogEvent:
    return LogEvent(at(clock), json.dumps(fields), "0d5a3b2c1e4f")


def rest(
    request_id: str, method: str, resource: str, path: str, status: str, **latency: str
) -> dict[str, str]:
    return {
        "requestId": request_id,
        "ip": "203.0.113.50",
        "requestTime": "01/May/2024:12:00:00 +0000",
        "httpMethod": method,
        "resourcePath": resource,
        "path": path,
        "status": status,
        "protocol": "HTTP/1.1",
        "responseLength": "112",
        **latency,
    }


API_LINES = [
    access_log(
        "12:00:01.000",
        **rest(
            "a1",
            "GET",
            "/orders/{id}",
            "/orders/1",
            "200",
            responseLatency="45",
            integrationLatency="40",
        ),
    ),
    access_log(
        "12:00:02.000",
        **rest("a2", "GET", "/login", "/login", "302", responseLatency="5", integrationLatency="4"),
    ),
    access_log(
        "12:00:03.000",
        **rest(
            "a3",
            "POST",
            "/orders",
            "/orders",
            "502",
            responseLatency="29010",
            integrationLatency="29000",
        ),
    ),
    access_log(
        "12:00:04.000",
        **rest(
            "a4",
            "POST",
            "/orders",
            "/orders",
            "502",
            responseLatency="29050",
            integrationLatency="29001",
        ),
    ),
    access_log(
        "12:00:05.000",
        **rest(
            "a5",
            "POST",
            "/orders",
            "/orders",
            "502",
            responseLatency="29600",
            integrationLatency="-",
        ),
    ),
    access_log(
        "12:00:06.000",
        **rest(
            "a6",
            "GET",
            "/orders/{id}",
            "/orders/7",
            "404",
            responseLatency="12",
            integrationLatency="10",
        ),
    ),
    access_log(
        "12:00:07.000",
        **rest(
            "a7",
            "GET",
            "/orders/{id}",
            "/orders/8",
            "404",
            responseLatency="18",
            integrationLatency="14",
        ),
    ),
    # An HTTP API writes routeKey instead of resourcePath; this format logs numbers unquoted.
    access_log(
        "12:00:08.000",
        requestId="a8",
        routeKey="POST /checkout",
        path="/checkout",
        status=400,
        responseLatency=7,
        integrationLatency="-",
    ),
]


def test_api_gateway_errors_by_status_and_route() -> None:
    # status >= 400: a3-a5 (502 POST /orders), a6-a7 (404 /orders/{id}), a8 (400, routeKey).
    # 502: latency (29010 + 29050 + 29600) / 3 = 29220; integration "-" is not a number, so
    #      (29000 + 29001) / 2 = 29000.5.
    # 404: (12 + 18) / 2 = 15 and (10 + 14) / 2 = 12.
    # 400: 7, and no integration latency at all, so that cell is left out.
    rows = evaluate(queries.API_GATEWAY_ERRORS, API_LINES, API_GROUP)
    assert rows == [
        {
            "status": "502",
            "route": "/orders",
            "requests": "3",
            "avgResponseLatencyMs": "29220",
            "avgIntegrationLatencyMs": "29000.5",
        },
        {
            "status": "404",
            "route": "/orders/{id}",
            "requests": "2",
            "avgResponseLatencyMs": "15",
            "avgIntegrationLatencyMs": "12",
        },
        {
            "status": "400",
            "route": "POST /checkout",
            "requests": "1",
            "avgResponseLatencyMs": "7",
        },
    ]
    assert queries.parse_api_gateway_errors(rows)[2] == {
        "status": 400,
        "route": "POST /checkout",
        "requests": 1,
        "avg_response_latency_ms": 7.0,
        "avg_integration_latency_ms": None,
    }


# --- ECS task state changes delivered by EventBridge to a log group ------------------------

ECS_GROUP = "/aws/events/IncidentRunbook/ecs-tasks-stopped"
CLUSTER_ARN = "arn:aws:ecs:us-east-1:123456789012:cluster/"
TASK = "arn:aws:ecs:us-east-1:123456789012:task/"


def task_change(
    clock: str,
    task: str,
    last: str,
    stop_code: str,
    reason: str,
    *,
    cluster: str = "prod",
    group: str = "service:orders",
) -> LogEvent:
    detail = {
        "clusterArn": CLUSTER_ARN + cluster,
        "taskArn": f"{TASK}{cluster}/{task}",
        "group": group,
        "lastStatus": last,
        "desiredStatus": "STOPPED",
        "stopCode": stop_code,
        "stoppedReason": reason,
        "containers": [
            {"name": "app", "lastStatus": "STOPPED", "exitCode": 137, "reason": "OutOfMemory"}
        ],
    }
    event = {
        "version": "0",
        "id": f"e-{task}",
        "detail-type": "ECS Task State Change",
        "source": "aws.ecs",
        "account": ACCOUNT,
        "time": f"2024-05-01T{clock[:8]}Z",
        "region": "us-east-1",
        "resources": [detail["taskArn"]],
        "detail": detail,
    }
    return LogEvent(at(clock), json.dumps(event), "ecs-events")


ESSENTIAL = "Essential container in task exited"
PULL_NOT_FOUND = (
    "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to "
    "resolve ref 123456789012.dkr.ecr.us-east-1.amazonaws.com/orders:v42: not found"
)
PULL_FORBIDDEN = (
    "CannotPullContainerError: ref pull has been retried 5 time(s): failed to copy: "
    "httpReadSeeker: failed open: unexpected status code 403 Forbidden"
)
ELB = (
    "Task failed ELB health checks in (target-group arn:aws:elasticloadbalancing:us-east-1:"
    "123456789012:targetgroup/orders/0123456789abcdef)"
)
SCALING = "Scaling activity initiated by (deployment ecs-svc/1234567890123456789)"

# The stack's rule delivers every STOPPED task of the account and region to one log group:
# the incident's service (orders in cluster prod) shares it with other services.
ECS_LINES = [
    task_change("12:01:00.000", "t1", "STOPPED", "EssentialContainerExited", ESSENTIAL),
    task_change("12:01:05.000", "t2", "STOPPED", "EssentialContainerExited", ESSENTIAL),
    # ECS may report the same stopped task twice: counted once.
    task_change("12:01:06.000", "t2", "STOPPED", "EssentialContainerExited", ESSENTIAL),
    task_change("12:02:00.000", "t3", "STOPPED", "TaskFailedToStart", PULL_NOT_FOUND),
    task_change("12:02:30.000", "t4", "STOPPED", "TaskFailedToStart", PULL_FORBIDDEN),
    task_change("12:03:00.000", "t5", "STOPPED", "ServiceSchedulerInitiated", ELB),
    # Still stopping: not counted.
    task_change("12:03:30.000", "t6", "DEPROVISIONING", "ServiceSchedulerInitiated", SCALING),
    task_change("12:04:00.000", "t8", "STOPPED", "EssentialContainerExited", ESSENTIAL),
    # Another service of the same cluster.
    task_change(
        "12:04:10.000", "t9", "STOPPED", "TaskFailedToStart", PULL_NOT_FOUND,
        group="service:payments",
    ),
    # A service of the same name in a cluster whose name starts with the incident's.
    task_change(
        "12:04:20.000", "t10", "STOPPED", "EssentialContainerExited", ESSENTIAL,
        cluster="prod-eu",
    ),
]  # fmt: skip


def test_ecs_stopped_reasons_of_the_incident_service_counted_by_kind() -> None:
    # orders in prod: t1, t2 (twice), t8 essential-exit -> 3 distinct tasks; t3, t4 pull
    # errors whose reasons differ after the colon but share "CannotPullContainerError" -> 2;
    # t5 ELB health checks, cut before "(" and the trailing space -> 1. t6 is not STOPPED
    # yet; t9 is payments' task; t10 is orders' in cluster prod-eu, whose ARN ends in
    # "cluster/prod-eu", not "cluster/prod".
    query = queries.ecs_stopped_reasons([("prod", "orders")])
    rows = evaluate(query, ECS_LINES, ECS_GROUP)
    assert rows == [
        {
            "detail.stopCode": "EssentialContainerExited",
            "reason": "Essential container in task exited",
            "tasks": "3",
        },
        {
            "detail.stopCode": "TaskFailedToStart",
            "reason": "CannotPullContainerError",
            "tasks": "2",
        },
        {
            "detail.stopCode": "ServiceSchedulerInitiated",
            "reason": "Task failed ELB health checks in",
            "tasks": "1",
        },
    ]
    assert queries.parse_ecs_stopped_reasons(rows)[1] == {
        "stop_code": "TaskFailedToStart",
        "reason": "CannotPullContainerError",
        "tasks": 2,
    }


def test_ecs_stopped_reasons_of_several_services() -> None:
    # orders in prod as above, and orders in prod-eu (t10, essential exit): 3 + 1 = 4
    # essential exits, 2 pull errors, 1 ELB; payments' t9 stays out.
    query = queries.ecs_stopped_reasons([("prod", "orders"), ("prod-eu", "orders")])
    rows = evaluate(query, ECS_LINES, ECS_GROUP)
    assert [(r["detail.stopCode"], r["tasks"]) for r in rows] == [
        ("EssentialContainerExited", "4"),
        ("TaskFailedToStart", "2"),
        ("ServiceSchedulerInitiated", "1"),
    ]


def test_ecs_stopped_reasons_across_every_service_of_the_group() -> None:
    # ECS_STOPPED_REASONS (no narrowing): t1, t2, t8 and prod-eu's t10 essential exits -> 4;
    # t3, t4 and payments' t9 pull errors -> 3; t5 ELB -> 1.
    rows = evaluate(queries.ECS_STOPPED_REASONS, ECS_LINES, ECS_GROUP)
    assert rows == [
        {
            "detail.stopCode": "EssentialContainerExited",
            "reason": "Essential container in task exited",
            "tasks": "4",
        },
        {
            "detail.stopCode": "TaskFailedToStart",
            "reason": "CannotPullContainerError",
            "tasks": "3",
        },
        {
            "detail.stopCode": "ServiceSchedulerInitiated",
            "reason": "Task failed ELB health checks in",
            "tasks": "1",
        },
    ]


def test_ecs_stopped_reasons_names_the_services_in_the_filter() -> None:
    query = queries.ecs_stopped_reasons([("prod", "orders"), ("default", "web_2")])
    assert query.splitlines()[:3] == [
        'filter detail.lastStatus = "STOPPED"',
        '| filter (detail.group = "service:orders" and detail.clusterArn like /:cluster\\/prod$/)',
        '    or (detail.group = "service:web_2" and detail.clusterArn like /:cluster\\/default$/)',
    ]
    assert query.splitlines()[3:] == queries.ECS_STOPPED_REASONS.splitlines()[1:]
    longest = [("c" * 255, "s" * 255)] * queries.MAX_ECS_SERVICES
    assert len(queries.ecs_stopped_reasons(longest)) < 10_000  # Logs Insights' limit


@pytest.mark.parametrize(
    "services",
    [
        [],
        [("prod", 'orders" or detail.group like "')],
        [("prod", "orders/x")],
        [("prod$/ or /x", "orders")],
        [("prod", "orders | display @message")],
        [("", "orders")],
        [("prod", "s" * 256)],
        [("prod", None)],
        "prod/orders",
        [("prod", f"s{i}") for i in range(queries.MAX_ECS_SERVICES + 1)],
    ],
)
def test_ecs_stopped_reasons_refuses_anything_but_ecs_names(services: object) -> None:
    with pytest.raises(ValueError):
        queries.ecs_stopped_reasons(services)  # type: ignore[arg-type]


# --- VPC flow logs, default format (version 2) ------------------------------------------------

FLOW_GROUP = "/vpc/flow-logs/prod"
ENI = "eni-0a1b2c3d4e5f67890"


def flow(line: str) -> LogEvent:
    return LogEvent(at("12:01:00.000"), line, f"{ENI}-all")


FLOW_LINES = [
    flow(
        f"2 {ACCOUNT} {ENI} 203.0.113.12 10.0.1.25 49152 22 6 3 180 1714564800 1714564860 REJECT OK"
    ),
    flow(
        f"2 {ACCOUNT} {ENI} 203.0.113.12 10.0.1.25 49153 22 6 5 300 1714564800 1714564860 REJECT OK"
    ),
    flow(
        f"2 {ACCOUNT} {ENI} 203.0.113.12 10.0.1.25 49154 22 6 2 120 1714564860 1714564920 REJECT OK"
    ),
    flow(
        f"2 {ACCOUNT} {ENI} 10.0.2.14 10.0.1.25 51000 5432 6 10 600 1714564800 1714564860 REJECT OK"
    ),
    flow(
        f"2 {ACCOUNT} {ENI} 10.0.2.14 10.0.1.25 51001 5432 6 4 240 1714564860 1714564920 REJECT OK"
    ),
    flow(
        f"2 {ACCOUNT} {ENI} 10.0.1.25 10.0.2.14 443 51002 6 20 9000 1714564800 1714564860 ACCEPT OK"
    ),
    flow(
        f"2 {ACCOUNT} {ENI} 198.51.100.7 10.0.1.25 5353 53 17 1 76 1714564800 1714564860 REJECT OK"
    ),
    flow(f"2 {ACCOUNT} {ENI} - - - - - - - 1714564800 1714564860 - NODATA"),
    flow(f"2 {ACCOUNT} {ENI} - - - - - - - 1714564860 1714564920 - SKIPDATA"),
]


def test_vpc_flow_rejects_by_source_destination_port() -> None:
    # REJECT records: three SSH attempts from 203.0.113.12 (3 + 5 + 2 = 10 packets), two
    # Postgres attempts from 10.0.2.14 (10 + 4 = 14), one DNS/UDP from 198.51.100.7 (1).
    # The ACCEPT, NODATA and SKIPDATA records drop out.
    rows = evaluate(queries.VPC_FLOW_REJECTS, FLOW_LINES, FLOW_GROUP)
    assert rows == [
        {
            "sourceIp": "203.0.113.12",
            "destIp": "10.0.1.25",
            "destPort": "22",
            "protocolNumber": "6",
            "rejects": "3",
            "packets": "10",
        },
        {
            "sourceIp": "10.0.2.14",
            "destIp": "10.0.1.25",
            "destPort": "5432",
            "protocolNumber": "6",
            "rejects": "2",
            "packets": "14",
        },
        {
            "sourceIp": "198.51.100.7",
            "destIp": "10.0.1.25",
            "destPort": "53",
            "protocolNumber": "17",
            "rejects": "1",
            "packets": "1",
        },
    ]
    assert queries.parse_flow_rejects(rows)[2] == {
        "source": "198.51.100.7",
        "destination": "10.0.1.25",
        "port": 53,
        "protocol": 17,
        "rejects": 1,
        "packets": 1,
    }


# --- error spikes ---------------------------------------------------------------------------


def burst(minute: str, errors: int, infos: int) -> list[LogEvent]:
    lines = [
        lambda_event(f"{minute}:{second:02d}.000", f"[ERROR]\t{R1}\tupstream error {second}\n")
        for second in range(errors)
    ]
    lines += [
        lambda_event(f"{minute}:{59 - second:02d}.500", f"[INFO]\t{R1}\tok {second}\n")
        for second in range(infos)
    ]
    return lines


def test_error_spikes_over_the_default_threshold() -> None:
    # 12:00 has 11 error lines (> 10), 12:01 exactly 10 (not > 10), 12:02 has 12; 12:03 only
    # info lines. Filtering after stats keeps the minutes over the threshold.
    events = (
        burst("12:00", 11, 5)
        + burst("12:01", 10, 30)
        + burst("12:02", 12, 0)
        + burst("12:03", 0, 9)
    )
    rows = evaluate(queries.ERROR_SPIKES, events, LAMBDA_GROUP)
    assert rows == [
        {"minute": "2024-05-01 12:00:00.000", "errors": "11"},
        {"minute": "2024-05-01 12:02:00.000", "errors": "12"},
    ]
    assert queries.parse_error_spikes(rows) == [
        {"minute": "2024-05-01T12:00:00Z", "errors": 11},
        {"minute": "2024-05-01T12:02:00Z", "errors": 12},
    ]


def test_error_spikes_threshold_zero_lists_every_minute_with_errors() -> None:
    # The matching lines of the Lambda sample fall in six different minutes, one each.
    rows = evaluate(queries.error_spikes(threshold=0), LAMBDA_APP_LINES, LAMBDA_GROUP)
    assert rows == [
        {"minute": "2024-05-01 12:00:00.000", "errors": "1"},
        {"minute": "2024-05-01 12:03:00.000", "errors": "1"},
        {"minute": "2024-05-01 12:04:00.000", "errors": "1"},
        {"minute": "2024-05-01 12:05:00.000", "errors": "1"},
        {"minute": "2024-05-01 12:07:00.000", "errors": "1"},
        {"minute": "2024-05-01 12:15:00.000", "errors": "1"},
    ]


@pytest.mark.parametrize("threshold", [-1, 1.5, "10 | display @message", None])
def test_error_spikes_rejects_bad_thresholds(threshold: object) -> None:
    with pytest.raises(ValueError):
        queries.error_spikes(threshold)  # type: ignore[arg-type]


# --- correlation across log groups ----------------------------------------------------------

TRACE = "1-66322a40-0f1e2d3c4b5a69788796a5b4"
OTHER_TRACE = "1-66322a41-aaaaaaaaaaaaaaaaaaaaaaaa"
C_START = f"START RequestId: {R1} Version: $LATEST\n"
C_APP = f"[ERROR]\t2024-05-01T12:00:01.200Z\t{R1}\tKeyError: 'order_id'\n"
C_OTHER = f"[INFO]\t2024-05-01T12:00:01.250Z\t{R2}\tunrelated request\n"
C_POWERTOOLS = json.dumps(
    {
        "level": "ERROR",
        "location": "handler:42",
        "message": "order lookup failed",
        "timestamp": "2024-05-01 12:00:01,260+0000",
        "service": "orders",
        "function_request_id": R1,
        "xray_trace_id": TRACE,
    }
)
C_END = f"END RequestId: {R1}\n"
C_REPORT = (
    f"REPORT RequestId: {R1}\tDuration: 310.00 ms\tBilled Duration: 311 ms\t"
    "Memory Size: 128 MB\tMax Memory Used: 81 MB\t\n"
    f"XRAY TraceId: {TRACE}\tSegmentId: 0a1b2c3d4e5f6a7b\tSampled: true\t\n"
)
C_ACCESS = json.dumps(
    {
        "requestId": "Fz3kQjRcoAMEbHg=",
        "integrationRequestId": R1,
        "xrayTraceId": TRACE,
        "status": "502",
        "resourcePath": "/orders",
    }
)
C_ACCESS_OTHER = json.dumps(
    {"requestId": "Fz3kQjRcoAMEbHh=", "xrayTraceId": OTHER_TRACE, "status": "200"}
)

CORRELATION_EVENTS = {
    LAMBDA_GROUP: [
        lambda_event("12:00:01.000", C_START),
        lambda_event("12:00:01.200", C_APP),
        lambda_event("12:00:01.250", C_OTHER),
        lambda_event("12:00:01.260", C_POWERTOOLS),
        lambda_event("12:00:01.300", C_END),
        lambda_event("12:00:01.301", C_REPORT),
    ],
    API_GROUP: [
        LogEvent(at("12:00:01.320"), C_ACCESS, "0d5a3b2c1e4f"),
        LogEvent(at("12:00:01.400"), C_ACCESS_OTHER, "0d5a3b2c1e4f"),
    ],
}


def fetch(group: str, start: int, end: int) -> list[LogEvent]:
    return CORRELATION_EVENTS.get(group, [])


def test_by_request_id_across_groups_in_time_order() -> None:
    # Lambda's own lines carry @requestId; Powertools' JSON and the access log mention the id.
    outcome = run_query(
        queries.by_request_id(R1),
        [LAMBDA_GROUP, API_GROUP],
        at("12:00:00.000") // 1000,
        at("12:01:00.000") // 1000,
        fetch,
    )
    lambda_log = f"{ACCOUNT}:{LAMBDA_GROUP}"
    assert outcome.rows == [
        {
            "@timestamp": "2024-05-01 12:00:01.000",
            "@log": lambda_log,
            "@logStream": STREAM,
            "@requestId": R1,
            "@message": C_START,
        },
        {
            "@timestamp": "2024-05-01 12:00:01.200",
            "@log": lambda_log,
            "@logStream": STREAM,
            "@requestId": R1,
            "@message": C_APP,
        },
        {
            "@timestamp": "2024-05-01 12:00:01.260",
            "@log": lambda_log,
            "@logStream": STREAM,
            "@message": C_POWERTOOLS,
        },
        {
            "@timestamp": "2024-05-01 12:00:01.300",
            "@log": lambda_log,
            "@logStream": STREAM,
            "@requestId": R1,
            "@message": C_END,
        },
        {
            "@timestamp": "2024-05-01 12:00:01.301",
            "@log": lambda_log,
            "@logStream": STREAM,
            "@requestId": R1,
            "@message": C_REPORT,
        },
        {
            "@timestamp": "2024-05-01 12:00:01.320",
            "@log": f"{ACCOUNT}:{API_GROUP}",
            "@logStream": "0d5a3b2c1e4f",
            "@message": C_ACCESS,
        },
    ]
    assert outcome.records_scanned == 8
    assert outcome.records_matched == 6
    lines = queries.parse_correlated_lines(outcome.get_query_results()["results"])
    assert [(line["log_group"], line["request_id"]) for line in lines] == [
        (LAMBDA_GROUP, R1),
        (LAMBDA_GROUP, R1),
        (LAMBDA_GROUP, ""),
        (LAMBDA_GROUP, R1),
        (LAMBDA_GROUP, R1),
        (API_GROUP, ""),
    ]


def test_by_trace_id_finds_report_powertools_and_access_log_lines() -> None:
    # The trace id appears in Powertools' xray_trace_id, the REPORT line's XRAY TraceId and
    # the access log's xrayTraceId; the other request and the other trace do not match.
    outcome = run_query(
        queries.by_trace_id(TRACE),
        [LAMBDA_GROUP, API_GROUP],
        at("12:00:00.000") // 1000,
        at("12:01:00.000") // 1000,
        fetch,
    )
    assert [(row["@timestamp"], row["@message"]) for row in outcome.rows] == [
        ("2024-05-01 12:00:01.260", C_POWERTOOLS),
        ("2024-05-01 12:00:01.301", C_REPORT),
        ("2024-05-01 12:00:01.320", C_ACCESS),
    ]


@pytest.mark.parametrize(
    "request_id",
    [
        "",
        'abc" or @message like "',
        "abc/ | display @message",
        "abc\\",
        "abc | stats count(*)",
        "-leading-dash",
        "x" * 129,
        None,
    ],
)
def test_by_request_id_refuses_anything_but_an_id(request_id: object) -> None:
    with pytest.raises(ValueError):
        queries.by_request_id(request_id)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "trace_id",
    [
        "Root=1-66322a40-0f1e2d3c4b5a69788796a5b4",
        "1-66322a40-0f1e2d3c4b5a69788796a5b",
        "1-66322A40-0F1E2D3C4B5A69788796A5B4",
        '1-66322a40-0f1e2d3c4b5a69788796a5b4"',
        "2-66322a40-0f1e2d3c4b5a69788796a5b4",
    ],
)
def test_by_trace_id_refuses_anything_but_a_trace_id(trace_id: str) -> None:
    with pytest.raises(ValueError):
        queries.by_trace_id(trace_id)


def test_request_ids_of_other_services_are_accepted() -> None:
    assert '"Fz3kQjRcoAMEbHg="' in queries.by_request_id("Fz3kQjRcoAMEbHg=")
    assert "limit 20" in queries.by_request_id(R1, limit=20)
