"""CREATE_COMPLETE on the emulator means what it means on AWS: every resource is live.

A new user's script waits for ``IncidentRunbook`` to be CREATE_COMPLETE (``aws cloudformation
wait stack-create-complete``) and then, at once, uses the stack. Here ``python -m runbook local
up`` runs in its own process and this test polls DescribeStacks as fast as it can; the first
answer that says CREATE_COMPLETE must already mean the state machine, the pieces the emulator
fills in after moto's CloudFormation (subscriptions, policies, alarms, async invoke configs) and
the functions' runtime answer. No sleep between the status and the calls.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError

from runbook.local.server import free_port

from .helpers import wait_for

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
STACK = "IncidentRunbook"
BANNER = "Incident Runbook emulator:"


def _clients(port: int) -> Any:
    def client(service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=30),
        )

    return client


def _first_complete(cloudformation: Any, deadline: float) -> dict[str, Any]:
    """Poll DescribeStacks without pause; the first answer whose status is CREATE_COMPLETE."""
    seen: list[str] = []
    while time.monotonic() < deadline:
        try:
            stacks = cloudformation.describe_stacks(StackName=STACK)["Stacks"]
        except EndpointConnectionError:
            time.sleep(0.05)  # the server is not listening yet: nothing to race
            continue
        except ClientError as err:
            if "does not exist" not in str(err):
                raise
            continue
        status = stacks[0]["StackStatus"]
        if not seen or seen[-1] != status:
            seen.append(status)
        if status == "CREATE_COMPLETE":
            stack: dict[str, Any] = stacks[0]
            stack["_seen"] = seen
            return stack
        assert status == "CREATE_IN_PROGRESS", f"stack went {seen}"
    raise AssertionError(f"stack never reached CREATE_COMPLETE (statuses seen: {seen})")


def _template(workdir: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(
        (workdir / "cdk.out" / f"{STACK}.template.json").read_text(encoding="utf-8")
    )
    return loaded


def _of_type(template: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    return [r for r in template["Resources"].values() if r.get("Type") == resource_type]


def test_create_complete_means_every_resource_answers(tmp_path: Path) -> None:
    port = free_port()
    command = ["local", "up", "--port", str(port), "--workdir", str(tmp_path)]
    process = subprocess.Popen(
        [sys.executable, "-m", "runbook", *command],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: list[str] = []
    banner = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if line.startswith(BANNER):
                banner.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    aws = _clients(port)
    try:
        stack = _first_complete(aws("cloudformation"), time.monotonic() + 240)
        # -- at once, no sleep: what the stack says exists must answer ------------------
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        for key in ("StateMachineArn", "IncidentTableName", "ArtifactBucketName", "PagingTopicArn"):
            assert key in outputs, f"CREATE_COMPLETE without output {key}: {sorted(outputs)}"
        sfn = aws("stepfunctions")
        machine_arn = outputs["StateMachineArn"]
        described = sfn.describe_state_machine(stateMachineArn=machine_arn)
        assert described["status"] == "ACTIVE"
        assert sfn.list_executions(stateMachineArn=machine_arn)["executions"] == []
        listed = [m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]]
        assert machine_arn in listed

        template = _template(tmp_path)
        alarms = aws("cloudwatch").describe_alarms(MaxRecords=100)["MetricAlarms"]
        assert len(alarms) >= len(_of_type(template, "AWS::CloudWatch::Alarm"))
        subscriptions = aws("sns").list_subscriptions()["Subscriptions"]
        assert len(subscriptions) >= len(_of_type(template, "AWS::SNS::Subscription"))
        policy = aws("s3").get_bucket_policy(Bucket=outputs["ArtifactBucketName"])["Policy"]
        assert json.loads(policy)["Statement"]
        topic = aws("sns").get_topic_attributes(TopicArn=outputs["PagingTopicArn"])
        assert "Policy" in topic["Attributes"]
        invoke_configs = _of_type(template, "AWS::Lambda::EventInvokeConfig")
        assert invoke_configs
        lambda_ = aws("lambda")
        functions = {f["FunctionName"] for f in lambda_.list_functions()["Functions"]}
        configured = [
            name
            for name in functions
            if _has_invoke_config(lambda_, name)  # the gap filler's PutFunctionEventInvokeConfig
        ]
        assert len(configured) >= len(invoke_configs)

        # -- and an alarm set to ALARM at once starts the workflow -----------------------
        cloudwatch = aws("cloudwatch")
        name = f"ready-{uuid.uuid4().hex[:8]}-errors"
        cloudwatch.put_metric_alarm(
            AlarmName=name,
            Namespace="AWS/Lambda",
            MetricName="Errors",
            Dimensions=[{"Name": "FunctionName", "Value": "orders-api"}],
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
            Tags=[{"Key": "Severity", "Value": "critical"}],
        )
        cloudwatch.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="Errors >= 1")
        executions = wait_for(
            "the ingest Lambda to start the workflow",
            lambda: sfn.list_executions(stateMachineArn=machine_arn)["executions"],
            timeout=60,
        )
        assert len(executions) == 1
        # The ready line comes after the stack is complete, never before.
        assert banner.wait(timeout=30), "".join(lines)
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=30)
        reader.join(timeout=5)
    assert code == 0, "".join(lines)


def _has_invoke_config(lambda_: Any, name: str) -> bool:
    try:
        lambda_.get_function_event_invoke_config(FunctionName=name)
    except ClientError:
        return False
    return True
