"""A real waitForTaskToken task on moto's executing Step Functions (its token goes to an SQS
queue), shared by the recovery, escalation and Slack-button tests."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
from moto import mock_aws

REGION = "us-east-1"
INCIDENT_ID = "inc-20191002-170440-549f6068"
ALARM_ARN = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:orders-api-errors"


def executing_moto() -> Iterator[None]:
    """For a module's `moto` fixture override: executions that really run."""
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield


class Workflow:
    """A state machine whose WaitForRecovery task sends its token to an SQS queue."""

    def __init__(self, role_arn: str) -> None:
        self.sfn = boto3.client("stepfunctions", region_name=REGION)
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.queue = self.sqs.create_queue(QueueName="tokens")["QueueUrl"]
        definition = {
            "StartAt": "WaitForRecovery",
            "States": {
                "WaitForRecovery": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                    "Parameters": {
                        "QueueUrl": self.queue,
                        "MessageBody": {"task_token.$": "$$.Task.Token"},
                    },
                    "ResultPath": "$.recovery",
                    "End": True,
                }
            },
        }
        self.arn = self.sfn.create_state_machine(
            name="IncidentResponse", definition=json.dumps(definition), roleArn=role_arn
        )["stateMachineArn"]

    def start(self) -> tuple[str, str]:
        """Start an execution; returns (execution ARN, its task token)."""
        execution = self.sfn.start_execution(
            stateMachineArn=self.arn, name=INCIDENT_ID, input=json.dumps({"x": 1})
        )["executionArn"]
        for _ in range(100):
            messages = self.sqs.receive_message(QueueUrl=self.queue).get("Messages", [])
            if messages:
                return execution, json.loads(messages[0]["Body"])["task_token"]
            time.sleep(0.05)
        raise AssertionError("the execution never reached its waitForTaskToken task")

    def finish(self, execution: str) -> dict[str, Any]:
        for _ in range(100):
            described = self.sfn.describe_execution(executionArn=execution)
            if described["status"] != "RUNNING":
                return described
            time.sleep(0.05)
        raise AssertionError("the execution did not resume")
