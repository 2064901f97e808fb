"""Resource types moto's CloudFormation skips are still created when the emulator deploys.

The runbook's own stack uses only some of them today (bucket/topic/queue policies); this
template covers the rest, so a stack change that adds one does not silently lose it locally.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from runbook.local.emulator import LocalEmulator
from runbook.local.synth import StackArtifact

from .helpers import drain, wait_for

pytestmark = pytest.mark.e2e

TEMPLATE: dict[str, Any] = {
    "Resources": {
        "Topic": {"Type": "AWS::SNS::Topic"},
        "Queue": {"Type": "AWS::SQS::Queue"},
        "Subscription": {
            "Type": "AWS::SNS::Subscription",
            "Properties": {
                "TopicArn": {"Ref": "Topic"},
                "Protocol": "sqs",
                "Endpoint": {"Fn::GetAtt": ["Queue", "Arn"]},
                "RawMessageDelivery": True,
            },
        },
        "Secret": {
            "Type": "AWS::SecretsManager::Secret",
            "Properties": {
                "Name": "e2e-gaps/slack",
                "GenerateSecretString": {
                    "SecretStringTemplate": '{"user": "bot"}',
                    "GenerateStringKey": "token",
                },
            },
        },
        "Alarm": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "AlarmName": "e2e-gaps-alarm",
                "Namespace": "AWS/Lambda",
                "MetricName": "Errors",
                "Dimensions": [{"Name": "FunctionName", "Value": "orders-api"}],
                "Statistic": "Sum",
                "Period": 60,
                "EvaluationPeriods": 1,
                "Threshold": 1,
                "ComparisonOperator": "GreaterThanOrEqualToThreshold",
                "AlarmActions": [{"Ref": "Topic"}],
            },
        },
        "Bucket": {"Type": "AWS::S3::Bucket"},
        "BucketPolicy": {
            "Type": "AWS::S3::BucketPolicy",
            "Properties": {
                "Bucket": {"Ref": "Bucket"},
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Deny",
                            "Principal": {"AWS": "*"},
                            "Action": "s3:*",
                            "Resource": [
                                {"Fn::GetAtt": ["Bucket", "Arn"]},
                                {"Fn::Join": ["", [{"Fn::GetAtt": ["Bucket", "Arn"]}, "/*"]]},
                            ],
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        }
                    ],
                },
            },
        },
    },
    "Outputs": {
        "TopicArn": {"Value": {"Ref": "Topic"}},
        "QueueUrl": {"Value": {"Ref": "Queue"}},
        "BucketName": {"Value": {"Ref": "Bucket"}},
    },
}


def test_skipped_resource_types_are_created_through_their_apis(
    emulator: LocalEmulator, aws: Callable[[str], Any], tmp_path: Path
) -> None:
    template = tmp_path / "gaps.template.json"
    template.write_text(json.dumps(TEMPLATE), encoding="utf-8")
    deployment = emulator.deploy(StackArtifact("E2EGaps", template, ()))
    outputs = deployment.outputs

    aws("sns").publish(TopicArn=outputs["TopicArn"], Message="hello")
    received = wait_for("the subscription", lambda: drain(aws("sqs"), outputs["QueueUrl"]))
    assert [m["Body"] for m in received] == ["hello"]  # raw delivery, as configured

    secret = json.loads(
        aws("secretsmanager").get_secret_value(SecretId="e2e-gaps/slack")["SecretString"]
    )
    assert secret["user"] == "bot" and secret["token"]

    alarm = aws("cloudwatch").describe_alarms(AlarmNames=["e2e-gaps-alarm"])["MetricAlarms"][0]
    assert alarm["StateValue"] == "INSUFFICIENT_DATA"
    assert alarm["AlarmActions"] == [outputs["TopicArn"]]

    s3 = aws("s3")
    policy = json.loads(s3.get_bucket_policy(Bucket=outputs["BucketName"])["Policy"])
    assert policy["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    # The emulator stands in for HTTPS endpoints: the enforce-SSL statement does not bite.
    s3.put_object(Bucket=outputs["BucketName"], Key="k", Body=b"v")
    assert set(deployment.resources) >= {"Subscription", "Secret", "Alarm", "BucketPolicy"}
