"""create_postmortem: Markdown in S3 with a timeline from a real (moto-executed) execution
history, and the incident closed RESOLVED/UNRESOLVED."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from handlers import create_postmortem
from shared import aws

REGION = "us-east-1"
INCIDENT_ID = "inc-20240501-140307-0badcafe"
STATE_INCIDENT = {
    "incident_id": INCIDENT_ID,
    "title": "orders-api-errors is in ALARM",
    "description": "Threshold Crossed: <script>x</script>",
    "severity": "critical",
    "severity_rule": "tag: Severity=critical",
    "source": "aws.cloudwatch",
    "alarm_name": "orders-api-errors",
    "resources": [{"type": "AWS::Lambda::Function", "id": "orders-api"}],
    "account": "123456789012",
    "region": REGION,
    "opened_at": "2024-05-01T14:03:07Z",
}
RESPONSE = {
    "page": {"status": "sent", "message_id": "m-1"},
    "diagnostics": {
        "status": "completed",
        "summary": {"sources": []},
        "evidence_uri": f"s3://bucket/incidents/{INCIDENT_ID}/diagnostics.json",
    },
    "channel": {"status": "skipped", "reason": "Slack not configured"},
}
RECOVERED = {"status": "recovered", "by": "alarm:orders-api-errors", "at": "2024-05-01T14:33:07Z"}


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


def _payload(execution: str, recovery: dict) -> dict:
    return {
        "incident": STATE_INCIDENT,
        "response": RESPONSE,
        "recovery": recovery,
        "execution_arn": execution,
    }


def _read(bucket: str, uri: str) -> str:
    key = uri.split("/", 3)[3]
    return (
        boto3.client("s3", region_name=REGION)
        .get_object(Bucket=bucket, Key=key)["Body"]
        .read()
        .decode()
    )


def test_postmortem_with_history_and_resolved_record(
    finished_execution, incident_table, artifact_bucket, lambda_context
) -> None:
    incident_table.put_item(
        Item={
            **STATE_INCIDENT,
            "status": "MONITORING",
            "task_token": "stale-token",
            "timeline": [{"at": "2024-05-01T14:03:07Z", "event": "opened", "detail": ""}],
        }
    )

    result = create_postmortem.lambda_handler(
        _payload(finished_execution, RECOVERED), lambda_context
    )

    uri = f"s3://{artifact_bucket}/incidents/{INCIDENT_ID}/postmortem.md"
    assert result == {"status": "written", "uri": uri}
    text = _read(artifact_bucket, uri)
    assert "# Postmortem: orders-api-errors is in ALARM" in text
    assert "| Status | RESOLVED |" in text
    assert "| Time to recover | 0h 30m 00s |" in text
    assert "&lt;script&gt;x&lt;/script&gt;" in text and "<script>" not in text
    for step in ("ClassifyIncident", "CollectDiagnostics", "MonitorRecovery"):
        assert f"| workflow | step {step} |" in text
    assert "| workflow | workflow started |" in text
    assert "| incident | opened |" in text
    item = incident_table.get_item(Key={"incident_id": INCIDENT_ID})["Item"]
    assert item["status"] == "RESOLVED"
    assert item["postmortem_uri"] == uri
    assert item["diagnostics_uri"] == RESPONSE["diagnostics"]["evidence_uri"]
    assert "task_token" not in item
    assert item["timeline"][-1]["event"] == "postmortem"


def test_timed_out_incident_without_a_record_is_closed_unresolved(
    finished_execution, incident_table, artifact_bucket, lambda_context
) -> None:
    recovery = {"status": "timed_out", "by": "timeout", "error": "States.Timeout"}
    result = create_postmortem.lambda_handler(
        _payload(finished_execution, recovery), lambda_context
    )

    assert "| Status | UNRESOLVED |" in _read(artifact_bucket, result["uri"])
    item = incident_table.get_item(Key={"incident_id": INCIDENT_ID})["Item"]
    assert item["status"] == "UNRESOLVED"
    assert item["title"] == STATE_INCIDENT["title"]


def test_unreadable_history_still_writes_the_postmortem(
    moto, incident_table, artifact_bucket, lambda_context
) -> None:
    sfn = aws.client("stepfunctions")
    with Stubber(sfn) as stub:
        stub.add_client_error("get_execution_history", "AccessDeniedException")
        result = create_postmortem.lambda_handler(
            _payload("arn:aws:states:us-east-1:123456789012:execution:X:y", RECOVERED),
            lambda_context,
        )
    text = _read(artifact_bucket, result["uri"])
    assert "| workflow |" not in text
    assert "## Timeline (UTC)" in text


def test_throttled_history_is_retried_by_the_state_machine(
    moto, incident_table, artifact_bucket, lambda_context
) -> None:
    sfn = aws.client("stepfunctions")
    with Stubber(sfn) as stub, pytest.raises(Exception) as caught:
        stub.add_client_error("get_execution_history", "ThrottlingException")
        create_postmortem.lambda_handler(
            _payload("arn:aws:states:us-east-1:123456789012:execution:X:y", RECOVERED),
            lambda_context,
        )
    assert type(caught.value).__name__ == "TransientDependencyError"
