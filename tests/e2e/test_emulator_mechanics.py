"""The emulator's own mechanics, with a throwaway probe function instead of the runbook's steps:
in-process Lambda (environment, errors, timeouts, warm workers), EventBridge delivery to Lambda
and Step Functions targets, and CloudWatch alarm state-change events.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from runbook.local.emulator import LocalEmulator

from .helpers import drain, s3_keys, wait_for

pytestmark = pytest.mark.e2e


def invoke(aws: Callable[[str], Any], name: str, event: dict[str, Any], **kwargs: Any) -> Any:
    return aws("lambda").invoke(FunctionName=name, Payload=json.dumps(event).encode(), **kwargs)


def result_of(response: Any) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(response["Payload"].read())
    return loaded


def test_each_function_runs_in_its_own_environment(
    aws: Callable[[str], Any], emulator: LocalEmulator, make_probe: Callable[..., Any]
) -> None:
    first = make_probe("e2e-env-first", value="first")
    make_probe("e2e-env-second", value="second")
    sleep = {"action": "sleep", "seconds": 0.5}
    with ThreadPoolExecutor(max_workers=2) as pool:
        a, b = pool.map(
            lambda name: result_of(invoke(aws, name, sleep)), ["e2e-env-first", "e2e-env-second"]
        )
    assert (a["value"], b["value"]) == ("first", "second")
    assert a["pid"] != b["pid"]
    assert a["function_name"] == "e2e-env-first"
    assert a["invoked_function_arn"] == first["FunctionArn"]
    assert a["memory_limit_in_mb"] == "256"
    assert 0 < a["remaining_ms"] <= 10_000
    assert a["endpoint"] == emulator.endpoint_url
    assert a["region"] == emulator.region
    assert a["trace_disabled"] == "true"


def test_handler_exception_is_an_unhandled_function_error(
    aws: Callable[[str], Any], make_probe: Callable[..., Any]
) -> None:
    make_probe("e2e-fails")
    response = invoke(
        aws, "e2e-fails", {"action": "fail", "message": "dependency down"}, LogType="Tail"
    )
    assert response["FunctionError"] == "Unhandled"
    error = result_of(response)
    assert error["errorType"] == "TransientDependencyError"
    assert error["errorMessage"] == "dependency down"
    assert any("handlers/probe.py" in frame for frame in error["stackTrace"])
    tail = base64.b64decode(response["LogResult"]).decode()
    assert "[ERROR] TransientDependencyError: dependency down" in tail
    assert "REPORT RequestId:" in tail


def test_workers_stay_warm_and_scale_out_when_busy(
    aws: Callable[[str], Any], make_probe: Callable[..., Any]
) -> None:
    make_probe("e2e-warm")
    cold = result_of(invoke(aws, "e2e-warm", {}))
    warm = result_of(invoke(aws, "e2e-warm", {}))
    assert warm["pid"] == cold["pid"]
    assert warm["aws_request_id"] != cold["aws_request_id"]
    sleep = {"action": "sleep", "seconds": 0.5}
    with ThreadPoolExecutor(max_workers=2) as pool:
        both = list(pool.map(lambda _: result_of(invoke(aws, "e2e-warm", sleep)), range(2)))
    assert both[0]["pid"] != both[1]["pid"]
    assert cold["pid"] in {r["pid"] for r in both}


def test_configuration_change_gets_a_fresh_worker(
    aws: Callable[[str], Any], make_probe: Callable[..., Any], probe_bucket: str
) -> None:
    make_probe("e2e-reconfigured", value="before")
    before = result_of(invoke(aws, "e2e-reconfigured", {}))
    aws("lambda").update_function_configuration(
        FunctionName="e2e-reconfigured",
        Environment={"Variables": {"PROBE_VALUE": "after", "PROBE_BUCKET": probe_bucket}},
    )
    after = result_of(invoke(aws, "e2e-reconfigured", {}))
    assert (before["value"], after["value"]) == ("before", "after")
    assert after["pid"] != before["pid"]


def test_timeout_ends_the_invocation(
    aws: Callable[[str], Any], make_probe: Callable[..., Any]
) -> None:
    make_probe("e2e-slow", timeout=1)
    started = time.monotonic()
    response = invoke(aws, "e2e-slow", {"action": "sleep", "seconds": 5})
    assert time.monotonic() - started < 4
    assert response["FunctionError"] == "Unhandled"
    error = result_of(response)
    assert error["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in error["errorMessage"]
    assert result_of(invoke(aws, "e2e-slow", {}))["function_name"] == "e2e-slow"


def test_async_invoke_runs_in_the_background(
    aws: Callable[[str], Any], make_probe: Callable[..., Any], probe_bucket: str
) -> None:
    make_probe("e2e-async")
    response = invoke(
        aws, "e2e-async", {"action": "put", "key": "async/done"}, InvocationType="Event"
    )
    assert response["StatusCode"] == 202
    s3 = aws("s3")
    wait_for("the async invocation", lambda: s3_keys(s3, probe_bucket, "async/done"), timeout=20)


def test_eventbridge_delivers_to_lambda_step_functions_and_sqs_once(
    aws: Callable[[str], Any], make_probe: Callable[..., Any], probe_bucket: str, unique: str
) -> None:
    function = make_probe("e2e-event-target")
    sfn = aws("stepfunctions")
    machine = sfn.create_state_machine(
        name=f"e2e-event-target-{unique}",
        definition=json.dumps(
            {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}
        ),
        roleArn="arn:aws:iam::123456789012:role/e2e",
    )["stateMachineArn"]
    sqs = aws("sqs")
    queue_url = sqs.create_queue(QueueName=f"e2e-events-{unique}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    events = aws("events")
    rule = f"e2e-probe-{unique}"
    events.put_rule(
        Name=rule,
        EventPattern=json.dumps({"source": ["e2e.probe"], "detail": {"run": [unique]}}),
    )
    events.put_targets(
        Rule=rule,
        Targets=[
            {"Id": "lambda", "Arn": function["FunctionArn"]},
            {"Id": "states", "Arn": machine, "RoleArn": "arn:aws:iam::123456789012:role/e2e"},
            {"Id": "queue", "Arn": queue_arn},
        ],
    )
    events.put_events(
        Entries=[
            {"Source": "e2e.probe", "DetailType": "Probe", "Detail": json.dumps({"run": unique})},
            {"Source": "e2e.probe", "DetailType": "Probe", "Detail": json.dumps({"run": "other"})},
        ]
    )

    s3 = aws("s3")
    keys = wait_for("the Lambda target", lambda: s3_keys(s3, probe_bucket, "events/e2e.probe/"))
    delivered = json.loads(s3.get_object(Bucket=probe_bucket, Key=keys[0])["Body"].read())
    assert delivered["source"] == "e2e.probe"
    assert delivered["detail"] == {"run": unique}
    assert delivered["time"].endswith("Z")  # ISO-8601, as EventBridge sends it

    executions = wait_for(
        "the Step Functions target",
        lambda: sfn.list_executions(stateMachineArn=machine)["executions"],
    )
    execution = sfn.describe_execution(executionArn=executions[0]["executionArn"])
    assert json.loads(execution["input"])["id"] == delivered["id"]
    queued = wait_for("the SQS target", lambda: drain(sqs, queue_url, wait_seconds=1))

    time.sleep(1)  # anything delivered twice would show up by now
    assert len(s3_keys(s3, probe_bucket, "events/e2e.probe/")) == 1
    assert len(sfn.list_executions(stateMachineArn=machine)["executions"]) == 1
    assert len(queued) + len(drain(sqs, queue_url, wait_seconds=0)) == 1


def test_alarm_state_changes_become_events_shaped_like_aws(
    aws: Callable[[str], Any], make_probe: Callable[..., Any], probe_bucket: str, unique: str
) -> None:
    """Delivered to a Lambda target (as the runbook's ingest receives them): one event per
    actual state change, in the documented shape."""
    alarm = f"e2e-shape-{unique}"
    function = make_probe(f"e2e-alarm-target-{unique}")
    events = aws("events")
    events.put_rule(
        Name=f"e2e-alarm-{unique}",
        EventPattern=json.dumps(
            {
                "source": ["aws.cloudwatch"],
                "detail-type": ["CloudWatch Alarm State Change"],
                "detail": {"alarmName": [alarm]},
            }
        ),
    )
    events.put_targets(
        Rule=f"e2e-alarm-{unique}", Targets=[{"Id": "probe", "Arn": function["FunctionArn"]}]
    )
    s3 = aws("s3")

    def delivered() -> list[dict[str, Any]]:
        found = []
        for key in s3_keys(s3, probe_bucket, "events/aws.cloudwatch/"):
            event = json.loads(s3.get_object(Bucket=probe_bucket, Key=key)["Body"].read())
            if event["detail"]["alarmName"] == alarm:
                found.append(event)
        return sorted(found, key=lambda e: e["detail"]["state"]["timestamp"])

    cloudwatch = aws("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName=alarm,
        AlarmDescription="probe alarm",
        Namespace="AWS/Lambda",
        MetricName="Errors",
        Dimensions=[{"Name": "FunctionName", "Value": "orders-api"}],
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    described = cloudwatch.describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]
    assert described["StateValue"] == "INSUFFICIENT_DATA"  # as on AWS; creation is no event

    cloudwatch.set_alarm_state(
        AlarmName=alarm,
        StateValue="ALARM",
        StateReason="Threshold Crossed",
        StateReasonData=json.dumps({"version": "1.0"}),
    )
    (event,) = wait_for("the ALARM event", delivered)
    assert event["version"] == "0"
    assert event["source"] == "aws.cloudwatch"
    assert event["detail-type"] == "CloudWatch Alarm State Change"
    assert event["account"] == "123456789012"
    assert event["region"] == "us-east-1"
    assert event["resources"] == [described["AlarmArn"]]
    assert event["id"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", event["time"])
    detail = event["detail"]
    assert detail["alarmName"] == alarm
    assert detail["state"]["value"] == "ALARM"
    assert detail["state"]["reason"] == "Threshold Crossed"
    assert json.loads(detail["state"]["reasonData"]) == {"version": "1.0"}
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000", detail["state"]["timestamp"]
    )
    assert detail["previousState"]["value"] == "INSUFFICIENT_DATA"
    configuration = detail["configuration"]
    assert configuration["description"] == "probe alarm"
    (metric,) = configuration["metrics"]
    assert metric["returnData"] is True and metric["id"]
    assert metric["metricStat"] == {
        "metric": {
            "namespace": "AWS/Lambda",
            "name": "Errors",
            "dimensions": {"FunctionName": "orders-api"},
        },
        "period": 60,
        "stat": "Sum",
    }

    # The same state again is no change, so no event; OK is.
    cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="still")
    cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="recovered")
    wait_for("the OK event", lambda: len(delivered()) > 1)
    time.sleep(1)  # a spurious event for the repeated ALARM would show up by now
    both = delivered()
    assert [e["detail"]["state"]["value"] for e in both] == ["ALARM", "OK"]
    assert both[1]["detail"]["previousState"]["value"] == "ALARM"


def test_logs_insights_queries_the_functions_logs(
    aws: Callable[[str], Any], make_probe: Callable[..., Any], unique: str
) -> None:
    name = f"e2e-insights-{unique}"
    make_probe(name)
    for _ in range(2):
        invoke(aws, name, {})
    logs = aws("logs")
    group = f"/aws/lambda/{name}"

    def report_count() -> str | None:
        now = int(time.time())
        if not logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]:
            return None  # the first log events create the group, as on AWS
        query = logs.start_query(
            logGroupName=group,
            startTime=now - 300,
            endTime=now,
            queryString='filter @type = "REPORT" | stats count(*) as invocations',
        )
        results = logs.get_query_results(queryId=query["queryId"])
        assert results["status"] == "Complete"
        rows = results["results"]
        value = rows[0][0]["value"] if rows else None
        return value if value == "2" else None

    wait_for("both REPORT lines in Logs Insights", report_count, timeout=10)
    with pytest.raises(logs.exceptions.MalformedQueryException):
        logs.start_query(logGroupName=group, startTime=0, endTime=1, queryString="fields | |")


def test_health_answers_like_an_account_without_a_support_plan(
    aws: Callable[[str], Any],
) -> None:
    health = aws("health")
    with pytest.raises(health.exceptions.ClientError) as raised:
        health.describe_events(filter={"services": ["LAMBDA"]})
    assert raised.value.response["Error"]["Code"] == "SubscriptionRequiredException"
