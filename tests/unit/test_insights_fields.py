"""Discovered fields: the system fields, Lambda's platform and runtime lines, JSON events."""

from __future__ import annotations

from runbook.insights import LogEvent, discover, evaluate
from runbook.insights.values import Timestamp

T0 = 1_714_564_800_000  # 2024-05-01 12:00:00.000 UTC
LAMBDA = "/aws/lambda/orders-api"
RID = "0b6f3e2a-1c4d-4e5f-8a9b-0c1d2e3f4a5b"


def fields_of(message: str, group: str = LAMBDA) -> dict[str, object]:
    return discover(LogEvent(T0, message, "stream-1", T0 + 250), group, "111122223333")


def test_system_fields() -> None:
    assert fields_of("hello", "/app/x") == {
        "@timestamp": Timestamp(T0),
        "@ingestionTime": Timestamp(T0 + 250),
        "@message": "hello",
        "@logStream": "stream-1",
        "@log": "111122223333:/app/x",
    }


def test_system_fields_print_as_times() -> None:
    rows = evaluate(
        "fields @timestamp, @ingestionTime, @log",
        [LogEvent(T0 + 7, "m", "s", T0 + 1_007)],
        "/app/x",
    )
    assert rows == [
        {
            "@timestamp": "2024-05-01 12:00:00.007",
            "@ingestionTime": "2024-05-01 12:00:01.007",
            "@log": "123456789012:/app/x",
        }
    ]


def test_ingestion_time_defaults_to_the_timestamp() -> None:
    assert discover(LogEvent(T0, "m"), "/g")["@ingestionTime"] == Timestamp(T0)


def test_report_line_fields_in_ms_and_bytes() -> None:
    report = (
        f"REPORT RequestId: {RID}\tDuration: 102.25 ms\tBilled Duration: 103 ms\t"
        "Memory Size: 128 MB\tMax Memory Used: 74 MB\tInit Duration: 243.33 ms\t\n"
        "XRAY TraceId: 1-66322a40-0f1e2d3c4b5a69788796a5b4\tSegmentId: 0a1b2c3d4e5f6a7b\t"
        "Sampled: true\t\n"
    )
    found = fields_of(report)
    assert found["@type"] == "REPORT"
    assert found["@requestId"] == RID
    assert found["@duration"] == 102.25
    assert found["@billedDuration"] == 103.0
    assert found["@initDuration"] == 243.33
    assert found["@memorySize"] == 128_000_000.0
    assert found["@maxMemoryUsed"] == 74_000_000.0
    assert found["@xrayTraceId"] == "1-66322a40-0f1e2d3c4b5a69788796a5b4"
    assert found["@xraySegmentId"] == "0a1b2c3d4e5f6a7b"


def test_report_fields_print_as_logs_insights_does() -> None:
    report = (
        f"REPORT RequestId: {RID}\tDuration: 102.25 ms\tBilled Duration: 103 ms\t"
        "Memory Size: 128 MB\tMax Memory Used: 74 MB\t\n"
    )
    rows = evaluate(
        "fields @type, @duration, @billedDuration, @memorySize, @maxMemoryUsed, @initDuration",
        [LogEvent(T0, report, "s")],
        LAMBDA,
    )
    # Bytes print in Go's %g form; a warm start has no @initDuration.
    assert rows == [
        {
            "@type": "REPORT",
            "@duration": "102.25",
            "@billedDuration": "103",
            "@memorySize": "1.28e+08",
            "@maxMemoryUsed": "7.4e+07",
        }
    ]


def test_start_and_end_lines() -> None:
    start = fields_of(f"START RequestId: {RID} Version: $LATEST\n")
    end = fields_of(f"END RequestId: {RID}\n")
    assert (start["@type"], start["@requestId"]) == ("START", RID)
    assert (end["@type"], end["@requestId"]) == ("END", RID)
    assert "@duration" not in start


def test_runtime_lines_carry_the_request_id() -> None:
    python = fields_of(f"[ERROR]\t2024-05-01T12:00:01.200Z\t{RID}\tKeyError: 'x'\n")
    node = fields_of(f"2024-05-01T12:00:01.200Z\t{RID}\tERROR\tInvoke Error\n")
    timeout = fields_of(f"2024-05-01T12:00:07.000Z {RID} Task timed out after 6.01 seconds\n")
    assert python["@requestId"] == node["@requestId"] == timeout["@requestId"] == RID
    assert "@type" not in python


def test_lambda_fields_need_lambda_lines() -> None:
    assert "@requestId" not in fields_of(f"[ERROR]\t2024-05-01T12:00:01.200Z\t{RID}\tx", "/app/x")
    assert "@requestId" not in fields_of(f"user asked about RequestId: {RID}")
    assert "@type" not in fields_of("STARTED the job")


def test_json_fields_nested_with_dots_and_lists_by_index() -> None:
    message = (
        '{"detail": {"lastStatus": "STOPPED", "containers": [{"exitCode": 137}, '
        '{"exitCode": 0, "ok": true}]}, "count": 2, "ratio": 0.5, "gone": null, "@id": "x"}'
    )
    found = fields_of(message, "/aws/events/ecs")
    assert found["detail.lastStatus"] == "STOPPED"
    assert found["detail.containers.0.exitCode"] == 137
    assert found["detail.containers.1.exitCode"] == 0
    assert found["detail.containers.1.ok"] is True
    assert found["count"] == 2
    assert found["ratio"] == 0.5
    assert "gone" not in found
    assert found["@@id"] == "x"


def test_json_after_leading_whitespace() -> None:
    assert fields_of('  {"a": 1}\n', "/app/x")["a"] == 1


def test_json_embedded_in_a_lambda_text_line_counts_once() -> None:
    line = f'2024-05-01T12:00:01.200Z\t{RID}\tINFO\t{{"order": 42, "state": "paid"}} {{"x": 1}}\n'
    found = fields_of(line)
    assert (found["order"], found["state"]) == (42, "paid")
    assert "x" not in found
    assert "order" not in fields_of(line, "/app/other")


def test_broken_or_non_object_json_adds_nothing() -> None:
    assert set(fields_of('{"a": 1', "/app/x")) == {
        "@timestamp",
        "@ingestionTime",
        "@message",
        "@logStream",
        "@log",
    }
    assert "0" not in fields_of("[1, 2]", "/app/x")


def test_json_cannot_overwrite_system_fields() -> None:
    found = fields_of('{"@message": "forged", "@timestamp": 1}', "/app/x")
    assert found["@message"] == '{"@message": "forged", "@timestamp": 1}'
    assert found["@@message"] == "forged"


def test_log_event_from_the_api_shape() -> None:
    api = {"timestamp": T0, "message": "m", "logStreamName": "s", "ingestionTime": T0 + 5}
    assert LogEvent.from_dict(api) == LogEvent(T0, "m", "s", T0 + 5)
    assert LogEvent.from_dict({"timestamp": T0, "message": "m"}) == LogEvent(T0, "m")
