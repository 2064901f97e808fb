"""Whole incidents on the local emulator, driven only through AWS APIs (as on AWS).

The state machine that runs is the one the CDK app synthesised and the emulator deployed
through CloudFormation; the Lambda steps are the real handlers in functions/.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer

from runbook.cli import main as runbook_cli
from runbook.local.emulator import LocalEmulator

from .helpers import (
    drain,
    entered_states,
    failed_tasks,
    finished,
    history,
    output_of,
    page_for,
    s3_keys,
    wait_for,
    waiting_at,
)

pytestmark = pytest.mark.e2e

ACCOUNT = "123456789012"
REGION = "us-east-1"
ASL_FILE = Path(__file__).resolve().parents[2] / "statemachines" / "incident_response.asl.json"
INCIDENT_ID = re.compile(r"^inc-\d{8}-\d{6}-[0-9a-f]{8}$")
REQUIRED_OUTPUTS = (
    "StateMachineArn",
    "IncidentTableName",
    "ArtifactBucketName",
    "PagingTopicArn",
    "CriticalTopicArn",
    "NotificationTopicArn",
)


class Pager:
    """Accumulates what the paging queue received, so tests can look for their own page."""

    def __init__(self, aws: Callable[[str], Any], queue_url: str) -> None:
        self._sqs = aws("sqs")
        self._queue_url = queue_url
        self.received: list[dict[str, Any]] = []

    def page_for(self, incident_id: str, timeout: float = 30) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            self.received.extend(drain(self._sqs, self._queue_url, wait_seconds=0))
            return page_for(self.received, incident_id)

        return wait_for(f"the page for {incident_id}", probe, timeout=timeout)


@pytest.fixture
def pager(aws: Callable[[str], Any], pager_queue: str) -> Pager:
    return Pager(aws, pager_queue)


def put_lambda_errors_alarm(aws: Callable[[str], Any], name: str, function: str) -> str:
    """The alarm an SRE would put on a function's Errors; returns its ARN."""
    cloudwatch = aws("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        AlarmDescription=f"{function} is failing",
        Namespace="AWS/Lambda",
        MetricName="Errors",
        Dimensions=[{"Name": "FunctionName", "Value": function}],
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    alarm = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
    return str(alarm["AlarmArn"])


def incident_for_alarm(
    aws: Callable[[str], Any], outputs: dict[str, str], alarm_arn: str
) -> dict[str, Any]:
    """Wait for the incident the alarm opened (the table's by_alarm index)."""
    table = aws("dynamodb")
    table_name = outputs["IncidentTableName"]

    def probe() -> dict[str, Any] | None:
        items = table.query(
            TableName=table_name,
            IndexName="by_alarm",
            KeyConditionExpression="alarm_arn = :a",
            ExpressionAttributeValues={":a": {"S": alarm_arn}},
        )["Items"]
        if not items or "execution_arn" not in items[0]:
            return None
        deserializer = TypeDeserializer()
        return {k: deserializer.deserialize(v) for k, v in items[0].items()}

    return wait_for(f"an incident for {alarm_arn}", probe, timeout=30)


def test_stack_outputs_and_the_executable_state_machine(
    aws: Callable[[str], Any], emulator: LocalEmulator
) -> None:
    stack = aws("cloudformation").describe_stacks(StackName="IncidentRunbook")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert set(REQUIRED_OUTPUTS) <= set(outputs)
    assert all(outputs[key] for key in REQUIRED_OUTPUTS)

    aws("dynamodb").describe_table(TableName=outputs["IncidentTableName"])
    aws("s3").head_bucket(Bucket=outputs["ArtifactBucketName"])
    for topic in ("PagingTopicArn", "NotificationTopicArn"):
        aws("sns").get_topic_attributes(TopicArn=outputs[topic])

    # StateMachineArn names the executable machine, with the synthesised definition (the
    # repository's ASL with every ${Substitution} resolved to a deployed resource).
    machine = aws("stepfunctions").describe_state_machine(
        stateMachineArn=outputs["StateMachineArn"]
    )
    definition = json.loads(machine["definition"])
    source = json.loads(ASL_FILE.read_text(encoding="utf-8"))
    assert definition["States"].keys() == source["States"].keys()
    assert "${" not in machine["definition"]
    deployed_functions = {f["FunctionArn"] for f in aws("lambda").list_functions()["Functions"]}
    invoked = {
        state["Parameters"]["FunctionName"]
        for state in definition["States"].values()
        if state.get("Resource", "").startswith("arn:aws:states:::lambda:invoke")
    }
    assert invoked and invoked <= deployed_functions
    assert (
        definition["States"]["DocumentIncident"]["Parameters"]["FunctionName"] in deployed_functions
    )


def test_alarm_pages_diagnoses_waits_and_writes_the_postmortem(
    aws: Callable[[str], Any],
    outputs: dict[str, str],
    pager: Pager,
    unique: str,
    make_probe: Callable[..., Any],
) -> None:
    # A function that really fails on the emulator: its errors reach CloudWatch metrics and its
    # log group, where the diagnostics step looks (GetMetricData, Logs Insights).
    function = f"orders-api-{unique}"
    make_probe(function)
    for _ in range(3):
        failed = aws("lambda").invoke(
            FunctionName=function,
            Payload=json.dumps({"action": "fail", "message": f"{function} exploded"}).encode(),
        )
        assert failed["FunctionError"] == "Unhandled"
    alarm_name = f"{function}-critical-errors"
    alarm_arn = put_lambda_errors_alarm(aws, alarm_name, function)
    cloudwatch = aws("cloudwatch")
    sfn = aws("stepfunctions")
    s3 = aws("s3")
    bucket = outputs["ArtifactBucketName"]

    cloudwatch.set_alarm_state(
        AlarmName=alarm_name, StateValue="ALARM", StateReason="Threshold Crossed: Errors >= 1"
    )
    incident = incident_for_alarm(aws, outputs, alarm_arn)
    incident_id = incident["incident_id"]
    execution_arn = incident["execution_arn"]
    assert INCIDENT_ID.match(incident_id)
    assert execution_arn.endswith(f":{incident_id}")  # execution name == incident id
    assert sfn.describe_execution(executionArn=execution_arn)["name"] == incident_id

    page = pager.page_for(incident_id)
    assert page["Subject"].startswith("[CRITICAL]")
    assert alarm_name in page["Message"]

    evidence_key = f"incidents/{incident_id}/diagnostics.json"
    wait_for("the diagnostics evidence", lambda: s3_keys(s3, bucket, evidence_key))
    evidence = json.loads(s3.get_object(Bucket=bucket, Key=evidence_key)["Body"].read())
    assert evidence["incident_id"] == incident_id
    # Every diagnostics source got an answer from the emulator (none errored), and the
    # function's error lines were found in its logs through Logs Insights.
    assert [f["source"] for f in evidence["findings"] if f["status"] == "error"] == []
    assert f"{function} exploded" in json.dumps(evidence)

    wait_for("MonitorRecovery", lambda: waiting_at(sfn, execution_arn, "MonitorRecovery"))

    cloudwatch.set_alarm_state(
        AlarmName=alarm_name, StateValue="OK", StateReason="Threshold no longer crossed"
    )
    described = wait_for("the execution to end", lambda: finished(sfn, execution_arn))
    assert described["status"] == "SUCCEEDED"
    result = output_of(described)
    assert result["response"]["page"]["status"] == "sent"
    assert result["response"]["diagnostics"]["status"] != "failed"
    assert result["response"]["diagnostics"]["evidence_uri"] == f"s3://{bucket}/{evidence_key}"
    assert result["recovery"]["status"] == "recovered"
    postmortem_key = f"incidents/{incident_id}/postmortem.md"
    assert result["postmortem"]["uri"] == f"s3://{bucket}/{postmortem_key}"
    postmortem = s3.get_object(Bucket=bucket, Key=postmortem_key)["Body"].read().decode()
    assert incident_id in postmortem

    # As on AWS: the steps' logs are in their log groups, their EMF metrics in CloudWatch.
    logs = aws("logs")
    (group,) = [
        g["logGroupName"]
        for g in logs.describe_log_groups(logGroupNamePrefix="IncidentRunbook-FunctionsClassify")[
            "logGroups"
        ]
    ]

    def classify_logged() -> bool:
        found = logs.filter_log_events(logGroupName=group)["events"]
        return any(incident_id in event["message"] for event in found)

    wait_for("the classify step's log events", classify_logged, timeout=10)
    wait_for(
        "the steps' EMF metrics",
        lambda: aws("cloudwatch").list_metrics(Namespace="IncidentRunbook")["Metrics"],
        timeout=10,
    )


def test_failed_diagnostics_still_page_and_write_the_postmortem(
    aws: Callable[[str], Any], outputs: dict[str, str], pager: Pager, unique: str
) -> None:
    """The artifact bucket refuses the diagnostics evidence (a bucket policy denies exactly
    that write, as a misapplied policy would): CollectDiagnostics fails, its Catch records
    it, and paging, the recovery wait and the postmortem go on."""
    s3 = aws("s3")
    bucket = outputs["ArtifactBucketName"]
    original_policy = s3.get_bucket_policy(Bucket=bucket)["Policy"]
    policy = json.loads(original_policy)
    policy["Statement"].append(
        {
            "Sid": "E2EDenyDiagnosticsEvidence",
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": "s3:PutObject",
            "Resource": f"arn:aws:s3:::{bucket}/incidents/*/diagnostics.json",
        }
    )
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    try:
        alarm_name = f"payments-critical-{unique}"
        alarm_arn = put_lambda_errors_alarm(aws, alarm_name, "payments")
        sfn = aws("stepfunctions")
        aws("cloudwatch").set_alarm_state(
            AlarmName=alarm_name, StateValue="ALARM", StateReason="Threshold Crossed"
        )
        incident = incident_for_alarm(aws, outputs, alarm_arn)
        incident_id = incident["incident_id"]
        execution_arn = incident["execution_arn"]

        pager.page_for(incident_id)
        wait_for("MonitorRecovery", lambda: waiting_at(sfn, execution_arn, "MonitorRecovery"))
        events = history(sfn, execution_arn)
        assert "DiagnosticsFailed" in entered_states(events)
        assert any("403" in (f.get("cause") or "") for f in failed_tasks(events))
        assert not s3_keys(s3, bucket, f"incidents/{incident_id}/diagnostics.json")
    finally:
        s3.put_bucket_policy(Bucket=bucket, Policy=original_policy)

    aws("cloudwatch").set_alarm_state(AlarmName=alarm_name, StateValue="OK", StateReason="ok")
    described = wait_for("the execution to end", lambda: finished(sfn, execution_arn))
    assert described["status"] == "SUCCEEDED"
    result = output_of(described)
    assert result["response"]["page"]["status"] == "sent"
    assert result["response"]["diagnostics"]["status"] == "failed"
    assert result["recovery"]["status"] == "recovered"
    assert s3_keys(s3, bucket, f"incidents/{incident_id}/postmortem.md")


def test_operator_start_and_resolve(
    aws: Callable[[str], Any],
    outputs: dict[str, str],
    emulator: LocalEmulator,
    pager: Pager,
    unique: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An operator starts the runbook from the console/API and resolves it with the CLI."""
    from incidents.ids import incident_id

    body = {
        "title": f"Checkout latency through the roof ({unique})",
        "severity": "high",
        "resources": [{"type": "AWS::Lambda::Function", "id": "checkout"}],
    }
    name = incident_id(datetime.now(UTC), f"operator|{unique}")
    sfn = aws("stepfunctions")
    execution_arn = sfn.start_execution(
        stateMachineArn=outputs["StateMachineArn"], name=name, input=json.dumps(body)
    )["executionArn"]

    page = pager.page_for(name)
    assert page["Subject"].startswith("[HIGH]")
    wait_for("MonitorRecovery", lambda: waiting_at(sfn, execution_arn, "MonitorRecovery"))
    item = aws("dynamodb").get_item(
        TableName=outputs["IncidentTableName"], Key={"incident_id": {"S": name}}
    )["Item"]
    assert item["title"]["S"] == body["title"]
    assert item["severity"]["S"] == "high"

    code = runbook_cli(
        [
            "resolve",
            name,
            "--note",
            "rolled back",
            "--by",
            "e2e",
            "--endpoint-url",
            emulator.endpoint_url,
        ]
    )
    assert code == 0, capsys.readouterr().err

    described = wait_for("the execution to end", lambda: finished(sfn, execution_arn))
    assert described["status"] == "SUCCEEDED"
    result = output_of(described)
    assert result["response"]["channel"]["status"] == "skipped"
    assert result["recovery"]["status"] == "resolved"
    assert s3_keys(aws("s3"), outputs["ArtifactBucketName"], f"incidents/{name}/postmortem.md")
    table = aws("dynamodb")
    resolved = table.get_item(
        TableName=outputs["IncidentTableName"], Key={"incident_id": {"S": name}}
    )["Item"]
    assert resolved["status"]["S"] == "RESOLVED"
