"""Shared fixtures: a fake LambdaContext, fake AWS credentials, moto-backed resources shaped
like the stack's (docs/contracts.md), and AWS-documented sample events.

Nothing here is autouse: tests/unit and tests/integration opt in through their own conftest,
so other test tiers (e2e against the local emulator) keep their own environment.
"""

from __future__ import annotations

import copy
import io
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

# Powertools reads these when shared.observability is first imported.
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "incident-runbook")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "IncidentRunbook")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "1")

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
TABLE_NAME = "incident-runbook-incidents"
BUCKET_NAME = "incident-runbook-artifacts"


@dataclass
class FakeLambdaContext:
    """The attributes Powertools reads from a LambdaContext (its documented test pattern)."""

    function_name: str = "incident-runbook-test"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:incident-runbook-test"
    aws_request_id: str = "52fdfc07-2182-154f-163f-5f0f9a621d72"
    remaining_ms: int = 300_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fake credentials and region, no endpoint override, fresh config/client/metric caches."""
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "1")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "IncidentRunbook")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "incident-runbook")
    from chat import responders
    from incidents import policy
    from shared.config import ENV_NAMES

    # Every variable a step reads: the contract's, and the two read outside shared.config.
    for name in (*ENV_NAMES.values(), responders.ENV_NAME, policy.ENV_NAME):
        monkeypatch.delenv(name, raising=False)
    _reset_caches()
    yield
    _reset_caches()


def _reset_caches() -> None:
    from aws_lambda_powertools.metrics.provider import cold_start

    from chat.secret import clear_cache as clear_slack_secret
    from shared.aws import reset_clients
    from shared.config import reset_settings
    from shared.observability import metrics

    reset_settings()
    reset_clients()
    clear_slack_secret()
    metrics.clear_metrics()
    metrics.clear_default_dimensions()
    cold_start.is_cold_start = True


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """What the Powertools logger writes during the test (it keeps the stdout it started with,
    so capsys cannot see it)."""
    from shared.observability import logger

    stream = io.StringIO()
    handler = logger.registered_handler
    previous = handler.setStream(stream)
    yield stream
    handler.setStream(previous)


@pytest.fixture
def moto(aws_env: None) -> Iterator[None]:
    """Every AWS call in the test goes to moto's in-memory backends."""
    with mock_aws():
        yield


@pytest.fixture
def incident_table(moto: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The incidents table as contracts.md defines it (key, GSIs by_alarm and by_status)."""
    dynamodb = boto3.resource("dynamodb", region_name=REGION)
    table = dynamodb.create_table(
        TableName=TABLE_NAME,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "incident_id", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": name, "AttributeType": "S"}
            for name in ("incident_id", "alarm_arn", "opened_at", "status")
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by_alarm",
                "KeySchema": [
                    {"AttributeName": "alarm_arn", "KeyType": "HASH"},
                    {"AttributeName": "opened_at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                "IndexName": "by_status",
                "KeySchema": [
                    {"AttributeName": "status", "KeyType": "HASH"},
                    {"AttributeName": "opened_at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
        ],
    )
    monkeypatch.setenv("INCIDENT_TABLE_NAME", TABLE_NAME)
    return table


@pytest.fixture
def artifact_bucket(moto: None, monkeypatch: pytest.MonkeyPatch) -> str:
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET_NAME)
    monkeypatch.setenv("ARTIFACT_BUCKET_NAME", BUCKET_NAME)
    return BUCKET_NAME


@pytest.fixture
def sfn_role_arn(moto: None) -> str:
    """An IAM role moto accepts for CreateStateMachine."""
    iam = boto3.client("iam", region_name=REGION)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "states.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    return iam.create_role(RoleName="sfn-role", AssumeRolePolicyDocument=json.dumps(trust))["Role"][
        "Arn"
    ]


@pytest.fixture
def state_machine(sfn_role_arn: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A (non-executing) state machine for ingest to start executions of."""
    definition = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}
    arn = boto3.client("stepfunctions", region_name=REGION).create_state_machine(
        name="IncidentResponse", definition=json.dumps(definition), roleArn=sfn_role_arn
    )["stateMachineArn"]
    monkeypatch.setenv("STATE_MACHINE_ARN", arn)
    return str(arn)


# A CloudWatch Alarm State Change event exactly as AWS documents it
# (CloudWatch User Guide, "Alarm events and EventBridge"), for a Lambda errors alarm.
ALARM_EVENT: dict[str, Any] = {
    "version": "0",
    "id": "c4c1c1c9-6542-e61b-6ef0-8c4d36933a92",
    "detail-type": "CloudWatch Alarm State Change",
    "source": "aws.cloudwatch",
    "account": ACCOUNT,
    "time": "2019-10-02T17:04:40Z",
    "region": REGION,
    "resources": [f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:orders-api-errors"],
    "detail": {
        "alarmName": "orders-api-errors",
        "configuration": {
            "description": "Errors of the orders API function",
            "metrics": [
                {
                    "id": "30b6c6b2-a864-43a2-4877-c09a1afc3b87",
                    "metricStat": {
                        "metric": {
                            "dimensions": {"FunctionName": "orders-api"},
                            "name": "Errors",
                            "namespace": "AWS/Lambda",
                        },
                        "period": 60,
                        "stat": "Sum",
                    },
                    "returnData": True,
                }
            ],
        },
        "previousState": {
            "reason": (
                "Threshold Crossed: 1 out of the last 1 datapoints [0.0 (02/10/19 16:59:00)] "
                "was not greater than or equal to the threshold (5.0) "
                "(minimum 1 datapoint for ALARM -> OK transition)."
            ),
            "reasonData": "{}",
            "timestamp": "2019-10-02T16:59:40.985+0000",
            "value": "OK",
        },
        "state": {
            "reason": (
                "Threshold Crossed: 1 out of the last 1 datapoints [12.0 (02/10/19 17:03:00)] "
                "was greater than or equal to the threshold (5.0) "
                "(minimum 1 datapoint for OK -> ALARM transition)."
            ),
            "reasonData": "{}",
            "timestamp": "2019-10-02T17:04:40.985+0000",
            "value": "ALARM",
        },
    },
}


def make_alarm_event(
    state: str = "ALARM",
    alarm_name: str = "orders-api-errors",
    timestamp: str = "2019-10-02T17:04:40.985+0000",
    function_name: str = "orders-api",
) -> dict[str, Any]:
    """A copy of ALARM_EVENT for another alarm, state or moment."""
    event = copy.deepcopy(ALARM_EVENT)
    event["resources"] = [f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{alarm_name}"]
    detail = event["detail"]
    detail["alarmName"] = alarm_name
    detail["state"]["value"] = state
    detail["state"]["timestamp"] = timestamp
    detail["configuration"]["metrics"][0]["metricStat"]["metric"]["dimensions"] = {
        "FunctionName": function_name
    }
    if state == "OK":
        detail["previousState"]["value"] = "ALARM"
        detail["state"]["reason"] = "Threshold Crossed: 1 datapoint [0.0] was not greater."
    return event


@pytest.fixture
def alarm_event() -> Callable[..., dict[str, Any]]:
    """Factory of AWS-shaped alarm events: `alarm_event(state="OK")`."""
    return make_alarm_event
