"""create_postmortem against moto: the Markdown and its graph in S3, the incident record closed
with the link and a summary, the link published on the notification topic and posted in the
incident channel. GetMetricWidgetImage is stubbed (botocore Stubber) for the success path; moto
lacks it, like the local emulator, which gives the fallback path."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws

from handlers import create_postmortem
from shared import aws
from tests.fakes.slack_api import FakeSlackApi

REGION = "us-east-1"
ACCOUNT = "123456789012"
INCIDENT_ID = "inc-20240501-140307-0badcafe"
ALARM = "orders-api-errors"
ALARM_ARN = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{ALARM}"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
STATE_INCIDENT = {
    "incident_id": INCIDENT_ID,
    "title": "orders-api-errors is in ALARM",
    "description": "Threshold Crossed: <script>x</script> | [phish](http://evil)",
    "severity": "critical",
    "severity_rule": "tag: Severity=critical",
    "source": "aws.cloudwatch",
    "alarm_name": ALARM,
    "alarm_arn": ALARM_ARN,
    "resources": [{"type": "AWS::Lambda::Function", "id": "orders-api"}],
    "account": ACCOUNT,
    "region": REGION,
    "opened_at": "2024-05-01T14:03:07Z",
}
QUERY = "fields @timestamp, @message\n| filter @message like /ERROR/\n| limit 50"
VERDICT = {
    "domain": "application",
    "headline": "The application: Lambda invocations timed out",
    "scope": "1 of 1 functions",
    "causes": [
        {
            "code": "lambda.task_timed_out",
            "domain": "application",
            "title": "Lambda invocations timed out",
            "fix": "Find the slow call in the traces.",
            "scope": "1 of 1 functions",
            "resources": ["orders-api"],
            "evidence": ["Task timed out after 3.00 seconds"],
        }
    ],
    "ruled_out": [],
    "other_evidence": [],
    "sources_failed": [],
}
EVIDENCE = {
    "incident_id": INCIDENT_ID,
    "window": {"start": "2024-05-01T13:33:07Z", "end": "2024-05-01T14:03:40Z"},
    "verdict": VERDICT,
    "support_case": {},
    "findings": [
        {
            "source": "logs_insights",
            "target": "recent_errors: /aws/lambda/orders-api",
            "status": "ok",
            "message": "1 error lines",
            "summary": {"query": "recent_errors", "matches": 1, "sample": ["<b>ERROR</b> ```"]},
            "evidence": {"query": QUERY, "log_groups": ["/aws/lambda/orders-api"]},
            "causes": [],
        }
    ],
}
RECOVERED = {"status": "recovered", "by": f"alarm:{ALARM}", "at": "2024-05-01T14:33:07Z"}
METRIC_ALARM = {
    "AlarmName": ALARM,
    "AlarmArn": ALARM_ARN,
    "Namespace": "AWS/Lambda",
    "MetricName": "Errors",
    "Dimensions": [{"Name": "FunctionName", "Value": "orders-api"}],
    "Statistic": "Sum",
    "Period": 60,
    "EvaluationPeriods": 1,
    "Threshold": 5.0,
    "ComparisonOperator": "GreaterThanOrEqualToThreshold",
}


@pytest.fixture
def moto(aws_env: None) -> Iterator[None]:
    """Overrides the shared fixture: executions really run, so their history is real."""
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield


@pytest.fixture
def finished_execution(sfn_role_arn: str) -> str:
    """An execution through states named like the real workflow's, run to its end."""
    names = ["ClassifyIncident", "CollectDiagnostics", "MonitorRecovery", "DocumentIncident"]
    states = {
        name: {"Type": "Pass", **({"Next": names[i + 1]} if i + 1 < len(names) else {"End": True})}
        for i, name in enumerate(names)
    }
    sfn = boto3.client("stepfunctions", region_name=REGION)
    machine = sfn.create_state_machine(
        name="IncidentResponse",
        definition=json.dumps({"StartAt": names[0], "States": states}),
        roleArn=sfn_role_arn,
    )["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine, name=INCIDENT_ID, input="{}")[
        "executionArn"
    ]
    for _ in range(100):
        if sfn.describe_execution(executionArn=execution)["status"] != "RUNNING":
            return str(execution)
        time.sleep(0.05)
    raise AssertionError("execution did not finish")


@pytest.fixture
def topic_queue(moto: None, monkeypatch: pytest.MonkeyPatch) -> str:
    """The notification topic (NOTIFICATION_TOPIC_ARN) with an SQS queue subscribed."""
    sns = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    topic = sns.create_topic(Name="notifications")["TopicArn"]
    queue = sqs.create_queue(QueueName="notifications")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    monkeypatch.setenv("NOTIFICATION_TOPIC_ARN", topic)
    return str(queue)


@pytest.fixture
def evidence_uri(artifact_bucket: str) -> str:
    key = f"incidents/{INCIDENT_ID}/diagnostics.json"
    boto3.client("s3", region_name=REGION).put_object(
        Bucket=artifact_bucket, Key=key, Body=json.dumps(EVIDENCE).encode()
    )
    return f"s3://{artifact_bucket}/{key}"


def _response(evidence: str = "s3://elsewhere/incidents/x/diagnostics.json") -> dict[str, Any]:
    return {
        "page": {"status": "sent", "message_id": "m-1"},
        "diagnostics": {
            "status": "completed",
            "summary": {"window": EVIDENCE["window"], "verdict": VERDICT, "sources": []},
            "evidence_uri": evidence,
        },
        "channel": {"status": "skipped", "reason": "Slack not configured"},
    }


def _payload(execution: str, recovery: dict[str, Any], response: dict[str, Any]) -> dict:
    return {
        "incident": STATE_INCIDENT,
        "response": response,
        "recovery": recovery,
        "execution_arn": execution,
    }


def _store(table: Any, **extra: Any) -> None:
    table.put_item(
        Item={
            **STATE_INCIDENT,
            "status": "MONITORING",
            "task_token": "stale-token",
            "timeline": [
                {"at": "2024-05-01T14:03:07Z", "event": "opened", "detail": "aws.cloudwatch"},
                {"at": "2024-05-01T14:05:00Z", "event": "alarm fired again", "detail": "x"},
            ],
            **extra,
        }
    )


def _read(bucket: str, key: str) -> bytes:
    s3 = boto3.client("s3", region_name=REGION)
    return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def _keys(bucket: str) -> list[str]:
    found = boto3.client("s3", region_name=REGION).list_objects_v2(Bucket=bucket)
    return sorted(o["Key"] for o in found.get("Contents", []))


def _messages(queue: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name=REGION)
    received = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in received.get("Messages", [])]


def _stub_graph(stub: Stubber) -> None:
    stub.add_response(
        "describe_alarms",
        {"MetricAlarms": [METRIC_ALARM], "CompositeAlarms": []},
        {"AlarmNames": [ALARM], "AlarmTypes": ["MetricAlarm", "CompositeAlarm"]},
    )
    stub.add_response(
        "get_metric_widget_image",
        {"MetricWidgetImage": PNG},
        {"MetricWidget": ANY, "OutputFormat": "png"},
    )


def test_postmortem_with_graph_evidence_history_record_and_notification(
    finished_execution, incident_table, artifact_bucket, evidence_uri, topic_queue, lambda_context
) -> None:
    _store(incident_table)
    widgets: list[dict[str, Any]] = []
    cloudwatch = aws.client("cloudwatch")
    cloudwatch.meta.events.register(
        "provide-client-params.monitoring.GetMetricWidgetImage",
        lambda params, **_: widgets.append(json.loads(params["MetricWidget"])),
    )
    with Stubber(cloudwatch) as stub:
        _stub_graph(stub)
        result = create_postmortem.lambda_handler(
            _payload(finished_execution, RECOVERED, _response(evidence_uri)), lambda_context
        )
        stub.assert_no_pending_responses()

    key = f"incidents/{INCIDENT_ID}/postmortem.md"
    uri = f"s3://{artifact_bucket}/{key}"
    assert result["status"] == "written" and result["uri"] == uri
    assert result["delivery"]["topic"].startswith("published (")
    assert result["delivery"]["channel"] == "skipped: the incident has no channel"
    assert _keys(artifact_bucket) == [
        f"incidents/{INCIDENT_ID}/diagnostics.json",
        f"incidents/{INCIDENT_ID}/metric.png",
        key,
    ]
    assert _read(artifact_bucket, f"incidents/{INCIDENT_ID}/metric.png") == PNG
    s3 = boto3.client("s3", region_name=REGION)
    assert s3.head_object(Bucket=artifact_bucket, Key=key)["ContentType"].startswith(
        "text/markdown"
    )

    text = _read(artifact_bucket, key).decode()
    assert "# Postmortem: orders-api-errors is in ALARM" in text
    assert "- **Outcome:** RESOLVED at 2024-05-01 14:33:07 UTC, by alarm:orders-api-errors" in text
    assert "![orders-api-errors around the incident](metric.png)" in text
    assert "&lt;script&gt;x&lt;/script&gt;" in text and "<script>" not in text
    for step in ("ClassifyIncident", "CollectDiagnostics", "MonitorRecovery"):
        assert f"| step {step} |   | execution history |" in text
    assert "| Incident opened | workflow started | execution history |" in text
    assert "| Alarms and events absorbed | 2 |" in text
    assert f"```\n{QUERY}\n```" in text  # the query text from the evidence document
    assert "````text\n<b>ERROR</b> ```\n````" in text
    assert "#logsV2:logs-insights$3FqueryDetail$3D" in text

    (widget,) = widgets
    assert widget["metrics"][0][:4] == ["AWS/Lambda", "Errors", "FunctionName", "orders-api"]
    assert widget["start"] == "2024-05-01T13:33:07Z"
    assert widget["annotations"]["vertical"] == [
        {"label": "first signal", "value": "2024-05-01T14:03:07Z"},
        {"label": "recovered", "value": "2024-05-01T14:33:07Z"},
    ]

    item = incident_table.get_item(Key={"incident_id": INCIDENT_ID})["Item"]
    assert item["status"] == "RESOLVED"
    assert item["postmortem_uri"] == uri
    assert item["postmortem_summary"] == result["summary"]
    assert item["postmortem_summary"].startswith(
        "RESOLVED: critical incident orders-api-errors is in ALARM. Fault domain: The application"
    )
    assert item["diagnostics_uri"] == evidence_uri
    assert "task_token" not in item
    assert item["timeline"][-1]["event"] == "postmortem"

    (message,) = _messages(topic_queue)
    assert message["Subject"] == "[RESOLVED] Postmortem: orders-api-errors is in ALARM"
    assert uri in message["Message"] and result["summary"] in message["Message"]
    assert f"runbook postmortem {INCIDENT_ID} --out postmortem.md" in message["Message"]
    assert (
        "s3/object/incident-runbook-artifacts?region=us-east-1&prefix=incidents/"
        in (message["Message"])
    )
    assert message["MessageAttributes"]["incident_id"]["Value"] == INCIDENT_ID
    assert message["MessageAttributes"]["kind"]["Value"] == "postmortem"


def test_graph_falls_back_to_a_console_link_where_the_api_is_missing(
    moto, incident_table, artifact_bucket, lambda_context
) -> None:
    """moto, like the local emulator, has no GetMetricWidgetImage."""
    boto3.client("cloudwatch", region_name=REGION).put_metric_alarm(
        **{k: v for k, v in METRIC_ALARM.items() if k != "AlarmArn"}
    )
    _store(incident_table)
    result = create_postmortem.lambda_handler(
        _payload("arn:aws:states:us-east-1:123456789012:execution:X:y", RECOVERED, _response()),
        lambda_context,
    )
    text = _read(artifact_bucket, result["uri"].split("/", 3)[3]).decode()
    assert f"incidents/{INCIDENT_ID}/metric.png" not in _keys(artifact_bucket)
    assert "No graph here: GetMetricWidgetImage is not implemented by this endpoint." in text
    assert (
        "[the metric over the incident window](<https://us-east-1.console.aws.amazon.com/" in text
    )
    assert "#metricsV2:graph=~(metrics~(~(~'AWS*2FLambda~'Errors~'FunctionName~'orders-api" in text
    assert "| The metric graph | GetMetricWidgetImage is not implemented by this endpoint |" in text
    # The evidence is in a bucket this step may not read: said, and the summary is used.
    assert "| The diagnostics evidence document | it is in bucket elsewhere" in text
    assert "| The execution history | GetExecutionHistory failed (ExecutionDoesNotExist) |" in text
    assert result["delivery"]["topic"] == "skipped: no notification topic configured"


def test_graph_falls_back_when_the_endpoint_answers_404(
    moto, incident_table, artifact_bucket, lambda_context
) -> None:
    _store(incident_table)
    with Stubber(aws.client("cloudwatch")) as stub:
        stub.add_response("describe_alarms", {"MetricAlarms": [METRIC_ALARM]})
        stub.add_client_error(
            "get_metric_widget_image", service_error_code="NotFound", http_status_code=404
        )
        result = create_postmortem.lambda_handler(
            _payload("arn:aws:states:us-east-1:123456789012:execution:X:y", RECOVERED, _response()),
            lambda_context,
        )
    text = _read(artifact_bucket, result["uri"].split("/", 3)[3]).decode()
    assert "No graph here: GetMetricWidgetImage failed (NotFound, HTTP 404)." in text
    assert "[the alarm and its history](<https://us-east-1.console.aws.amazon.com/" in text


def test_timed_out_incident_without_a_record_is_closed_unresolved(
    finished_execution, incident_table, artifact_bucket, topic_queue, lambda_context
) -> None:
    recovery = {"status": "timed_out", "by": "timeout", "error": "States.Timeout"}
    result = create_postmortem.lambda_handler(
        _payload(finished_execution, recovery, _response()), lambda_context
    )

    text = _read(artifact_bucket, result["uri"].split("/", 3)[3]).decode()
    assert "· **UNRESOLVED** ·" in text
    assert "| Whether and when the service recovered | nobody resolved the incident" in text
    item = incident_table.get_item(Key={"incident_id": INCIDENT_ID})["Item"]
    assert item["status"] == "UNRESOLVED"
    assert item["title"] == STATE_INCIDENT["title"]
    assert item["postmortem_summary"].startswith("UNRESOLVED: critical incident")
    (message,) = _messages(topic_queue)
    assert message["Subject"] == "[UNRESOLVED] Postmortem: orders-api-errors is in ALARM"


def test_failed_diagnostics_and_failed_response_still_write_and_deliver(
    moto, incident_table, artifact_bucket, topic_queue, lambda_context
) -> None:
    _store(incident_table)
    response = {"status": "failed", "error": "States.Runtime", "cause": "<b>branch</b> broke"}
    result = create_postmortem.lambda_handler(
        _payload("arn:aws:states:us-east-1:123456789012:execution:X:y", {}, response),
        lambda_context,
    )
    text = _read(artifact_bucket, result["uri"].split("/", 3)[3]).decode()
    assert "Diagnostics did not run: the response produced no diagnostics result." in text
    assert (
        "| The whole response (page, diagnostics, channel) | States.Runtime: &lt;b&gt;branch"
        in text
    )
    assert "| Whether and when the service recovered | no recovery result |" in text
    assert len(_messages(topic_queue)) == 1


def test_unreadable_history_still_writes_the_postmortem(
    moto, incident_table, artifact_bucket, lambda_context
) -> None:
    sfn = aws.client("stepfunctions")
    with Stubber(sfn) as stub:
        stub.add_client_error("get_execution_history", "AccessDeniedException")
        result = create_postmortem.lambda_handler(
            _payload("arn:aws:states:us-east-1:123456789012:execution:X:y", RECOVERED, _response()),
            lambda_context,
        )
    text = _read(artifact_bucket, result["uri"].split("/", 3)[3]).decode()
    assert "| step " not in text
    assert "| The execution history | GetExecutionHistory failed (AccessDeniedException) |" in text
    assert "## Timeline" in text


def test_throttled_history_is_retried_by_the_state_machine(
    moto, incident_table, artifact_bucket, lambda_context
) -> None:
    sfn = aws.client("stepfunctions")
    with Stubber(sfn) as stub, pytest.raises(Exception) as caught:
        stub.add_client_error("get_execution_history", "ThrottlingException")
        create_postmortem.lambda_handler(
            _payload("arn:aws:states:us-east-1:123456789012:execution:X:y", RECOVERED, _response()),
            lambda_context,
        )
    assert type(caught.value).__name__ == "TransientDependencyError"


def test_a_topic_that_refuses_is_reported_not_raised(
    moto, incident_table, artifact_bucket, lambda_context, monkeypatch
) -> None:
    monkeypatch.setenv("NOTIFICATION_TOPIC_ARN", f"arn:aws:sns:{REGION}:{ACCOUNT}:missing")
    _store(incident_table)
    result = create_postmortem.lambda_handler(
        _payload("arn:aws:states:us-east-1:123456789012:execution:X:y", RECOVERED, _response()),
        lambda_context,
    )
    assert result["status"] == "written"
    assert result["delivery"]["topic"] == "failed (NotFound)"


def test_link_is_posted_in_the_incident_channel(
    moto, incident_table, artifact_bucket, fake_slack: FakeSlackApi, lambda_context, monkeypatch
) -> None:
    fake_slack.add_channel("inc-x", "C0123")
    boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name="slack", SecretString=json.dumps({"bot_token": "xoxb-test"})
    )
    monkeypatch.setenv("SLACK_SECRET_NAME", "slack")
    monkeypatch.setenv("SLACK_API_URL", fake_slack.url)
    _store(incident_table, channel={"status": "created", "id": "C0123", "name": "inc-x"})
    result = create_postmortem.lambda_handler(
        _payload("arn:aws:states:us-east-1:123456789012:execution:X:y", RECOVERED, _response()),
        lambda_context,
    )
    assert result["delivery"]["channel"] == "posted"
    (call,) = fake_slack.calls("chat.postMessage")
    assert call["auth"] == "Bearer xoxb-test"
    assert call["body"]["channel"] == "C0123"
    text = call["body"]["text"]
    assert text.startswith("*[RESOLVED] Postmortem: orders-api-errors is in ALARM*")
    assert result["uri"] in text and "&amp;prefix=incidents/" in text


def test_slack_refusal_is_reported_not_raised(
    moto, incident_table, artifact_bucket, fake_slack: FakeSlackApi, lambda_context, monkeypatch
) -> None:
    boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name="slack", SecretString="xoxb-test"
    )
    monkeypatch.setenv("SLACK_SECRET_NAME", "slack")
    monkeypatch.setenv("SLACK_API_URL", fake_slack.url)
    fake_slack.fail("chat.postMessage", "channel_not_found")
    response = {
        **_response(),
        "channel": {"status": "created", "detail": {"status": "created", "channel_id": "C9"}},
    }
    _store(incident_table)
    result = create_postmortem.lambda_handler(
        _payload("arn:aws:states:us-east-1:123456789012:execution:X:y", RECOVERED, response),
        lambda_context,
    )
    assert result["status"] == "written"
    assert result["delivery"]["channel"] == "failed (SlackPostError)"
    assert fake_slack.calls("chat.postMessage")[0]["body"]["channel"] == "C9"


def test_an_old_run_finishing_after_a_reopen_leaves_the_reopened_incident_open(
    moto, incident_table, artifact_bucket, lambda_context
) -> None:
    """The incident was reopened (a newer run owns it) while the old run wrote its postmortem:
    the document is kept, the record is not closed under the new run."""
    newer = "arn:aws:states:us-east-1:123456789012:execution:X:" + INCIDENT_ID + "-r1"
    _store(incident_table, status="OPEN", execution_arn=newer, reopen_count=1)
    old = "arn:aws:states:us-east-1:123456789012:execution:X:" + INCIDENT_ID
    result = create_postmortem.lambda_handler(_payload(old, RECOVERED, _response()), lambda_context)
    assert result["status"] == "written"
    item = incident_table.get_item(Key={"incident_id": INCIDENT_ID})["Item"]
    assert item["status"] == "OPEN"
    assert "postmortem_uri" not in item
    assert item["execution_arn"] == newer
