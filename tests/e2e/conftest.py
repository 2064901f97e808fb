"""The e2e tier: one local emulator for the whole package, with the CDK-synthesised stack
deployed into it (exactly what ``runbook local up`` does), torn down after the last e2e test.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from runbook.local.emulator import LocalEmulator
from runbook.local.server import free_port

from .probe import probe_zip

# Long enough never to fire while a test is still working its way to the OK signal.
RECOVERY_TIMEOUT_SECONDS = 120


@pytest.fixture(scope="package")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalEmulator]:
    workdir = tmp_path_factory.mktemp("emulator")
    local = LocalEmulator(
        free_port(), workdir, {"recoveryTimeoutSeconds": RECOVERY_TIMEOUT_SECONDS}
    )
    local.start()
    try:
        local.deploy()
        yield local
    finally:
        local.stop()


@pytest.fixture(scope="package")
def aws(emulator: LocalEmulator) -> Callable[[str], Any]:
    """boto3 clients pointed at the emulator's endpoint."""
    return emulator.client


@pytest.fixture(scope="package")
def outputs(emulator: LocalEmulator) -> dict[str, str]:
    return emulator.outputs


def subscribe_queue(aws: Callable[[str], Any], topic_arn: str, name: str) -> str:
    """An SQS queue subscribed to ``topic_arn`` (how the tests watch SNS)."""
    sqs = aws("sqs")
    queue_url: str = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    aws("sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return queue_url


@pytest.fixture(scope="package")
def pager_queue(aws: Callable[[str], Any], outputs: dict[str, str]) -> str:
    """What on-call's pager would receive: the critical and high topics, to one queue."""
    queue = subscribe_queue(aws, outputs["PagingTopicArn"], "e2e-pager")
    subscribe_queue(aws, outputs["HighTopicArn"], "e2e-pager")
    return queue


@pytest.fixture(scope="package")
def escalation_queue(aws: Callable[[str], Any], outputs: dict[str, str]) -> str:
    """What the escalation contacts would receive."""
    return subscribe_queue(aws, outputs["EscalationTopicArn"], "e2e-escalation")


@pytest.fixture
def unique() -> str:
    """A short suffix that keeps names of one test apart from another's."""
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="package")
def probe_bucket(aws: Callable[[str], Any]) -> str:
    name = "e2e-probe-traces"
    aws("s3").create_bucket(Bucket=name)
    return name


@pytest.fixture(scope="package")
def make_probe(aws: Callable[[str], Any], probe_bucket: str) -> Callable[..., dict[str, Any]]:
    """Create a probe function; returns its configuration."""
    role = aws("iam").create_role(
        RoleName="e2e-probe-role",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    code = probe_zip()

    def make(name: str, value: str = "", timeout: int = 10) -> dict[str, Any]:
        config: dict[str, Any] = aws("lambda").create_function(
            FunctionName=name,
            Runtime="python3.13",
            Role=role,
            Handler="handlers.probe.lambda_handler",
            Code={"ZipFile": code},
            Timeout=timeout,
            MemorySize=256,
            Environment={"Variables": {"PROBE_VALUE": value, "PROBE_BUCKET": probe_bucket}},
        )
        return config

    return make
