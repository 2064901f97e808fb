"""The emulator's hold on a stack's completion (runbook/local/stack_readiness.py), on moto."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import WaiterError
from moto import mock_aws

from runbook.local import stack_readiness

TEMPLATE = json.dumps(
    {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {"TopicArn": {"Value": {"Ref": "Topic"}}},
    }
)
TEMPLATE_V2 = json.dumps(
    {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}, "Queue": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {"TopicArn": {"Value": {"Ref": "Topic"}}},
    }
)


@pytest.fixture
def cloudformation() -> Iterator[Any]:
    with mock_aws():
        stack_readiness.install()
        try:
            yield boto3.client("cloudformation", region_name="us-east-1")
        finally:
            stack_readiness.remove()


def _stack(cloudformation: Any, name: str = "Held") -> dict[str, Any]:
    stack: dict[str, Any] = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    return stack


def _statuses(cloudformation: Any, name: str = "Held") -> list[str]:
    events = cloudformation.describe_stack_events(StackName=name)["StackEvents"]
    return [
        e["ResourceStatus"] for e in events if e["ResourceType"] == "AWS::CloudFormation::Stack"
    ]


def test_a_held_create_stays_in_progress_without_outputs_until_released(
    cloudformation: Any,
) -> None:
    with stack_readiness.hold("Held") as held:
        cloudformation.create_stack(StackName="Held", TemplateBody=TEMPLATE)
        stack = _stack(cloudformation)
        assert stack["StackStatus"] == "CREATE_IN_PROGRESS"
        assert "Outputs" not in stack
        assert "CREATE_COMPLETE" not in _statuses(cloudformation)
        held.release()
        stack = _stack(cloudformation)
        assert stack["StackStatus"] == "CREATE_COMPLETE"
        assert stack["Outputs"][0]["OutputKey"] == "TopicArn"
    assert _statuses(cloudformation).count("CREATE_COMPLETE") == 1


def test_other_stacks_are_not_held(cloudformation: Any) -> None:
    with stack_readiness.hold("Held"):
        cloudformation.create_stack(StackName="Other", TemplateBody=TEMPLATE)
        assert _stack(cloudformation, "Other")["StackStatus"] == "CREATE_COMPLETE"


def test_a_held_update_completes_on_release(cloudformation: Any) -> None:
    cloudformation.create_stack(StackName="Held", TemplateBody=TEMPLATE)
    with stack_readiness.hold("Held") as held:
        cloudformation.update_stack(StackName="Held", TemplateBody=TEMPLATE_V2)
        assert _stack(cloudformation)["StackStatus"] == "UPDATE_IN_PROGRESS"
        assert "UPDATE_COMPLETE" not in _statuses(cloudformation)
        held.release()
    assert _stack(cloudformation)["StackStatus"] == "UPDATE_COMPLETE"
    assert _statuses(cloudformation).count("UPDATE_COMPLETE") == 1


def test_an_error_while_held_fails_the_stack_with_its_reason(cloudformation: Any) -> None:
    with pytest.raises(ValueError, match="gap filler broke"), stack_readiness.hold("Held"):
        cloudformation.create_stack(StackName="Held", TemplateBody=TEMPLATE)
        raise ValueError("gap filler broke")
    assert _stack(cloudformation)["StackStatus"] == "CREATE_FAILED"
    events = cloudformation.describe_stack_events(StackName="Held")["StackEvents"]
    assert any(e.get("ResourceStatusReason") == "gap filler broke" for e in events)
    waiter = cloudformation.get_waiter("stack_create_complete")
    with pytest.raises(WaiterError, match=r"terminal failure state"):
        waiter.wait(StackName="Held", WaiterConfig={"Delay": 0, "MaxAttempts": 2})


def test_release_before_moto_finished_is_an_error(cloudformation: Any) -> None:
    with stack_readiness.hold("Held") as held, pytest.raises(RuntimeError, match="did not finish"):
        held.release()


def test_remove_restores_moto(cloudformation: Any) -> None:
    stack_readiness.remove()
    with pytest.raises(RuntimeError, match="install"), stack_readiness.hold("Held"):
        pass
    cloudformation.create_stack(StackName="Plain", TemplateBody=TEMPLATE)
    assert _stack(cloudformation, "Plain")["StackStatus"] == "CREATE_COMPLETE"
    stack_readiness.install()
