"""SSM Automation executions on the emulator (runbook/local/automation.py): moto stores
documents but runs none. Real boto3 clients against moto's server with the layer in front;
SSM's responses are checked against botocore's model. Steps act on moto's EC2 and RDS."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import boto3
import pytest
import yaml
from moto import mock_aws
from moto.ssm.responses import SimpleSystemManagerResponse

from runbook.local.automation import Automation

from .ssm_gaps import SsmGaps

RESTART = "AWS-RestartEC2Instance"
AMI = "ami-12c6146b"  # one of moto's default AMIs


def instance(ssm_gaps: SsmGaps) -> str:
    ec2 = ssm_gaps.client("ec2")
    reservation = ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1, InstanceType="t3.micro")
    return str(reservation["Instances"][0]["InstanceId"])


def state_of(ssm_gaps: SsmGaps, instance_id: str) -> str:
    described = ssm_gaps.client("ec2").describe_instances(InstanceIds=[instance_id])
    return str(described["Reservations"][0]["Instances"][0]["State"]["Name"])


def execution(ssm: Any, execution_id: str) -> dict[str, Any]:
    found: dict[str, Any] = ssm.get_automation_execution(AutomationExecutionId=execution_id)[
        "AutomationExecution"
    ]
    return found


def until(probe: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("timed out")


def finished(ssm: Any, execution_id: str) -> dict[str, Any]:
    return until(  # type: ignore[no-any-return]
        lambda: (
            found
            if (found := execution(ssm, execution_id))["AutomationExecutionStatus"]
            in ("Success", "Failed", "TimedOut", "Cancelled")
            else None
        )
    )


def test_restart_stops_then_starts_the_instance_step_by_step(ssm_gaps: SsmGaps) -> None:
    ssm = ssm_gaps.client("ssm")
    instance_id = instance(ssm_gaps)
    execution_id = ssm.start_automation_execution(
        DocumentName=RESTART, Parameters={"InstanceId": [instance_id]}
    )["AutomationExecutionId"]
    assert len(execution_id) == 36

    statuses, instance_states = [], []
    while True:
        found = execution(ssm, execution_id)
        statuses.append(found["AutomationExecutionStatus"])
        instance_states.append(state_of(ssm_gaps, instance_id))
        if statuses[-1] not in ("Pending", "InProgress"):
            break
        time.sleep(0.02)
    assert statuses[0] == "Pending" and "InProgress" in statuses and statuses[-1] == "Success"
    assert "stopped" in instance_states and instance_states[-1] == "running"

    assert found["DocumentName"] == RESTART
    assert found["Parameters"] == {"InstanceId": [instance_id]}
    assert found["ExecutedBy"] == "arn:aws:sts::123456789012:user/moto"
    assert found["ExecutionEndTime"] >= found["ExecutionStartTime"]
    steps = found["StepExecutions"]
    assert [(s["StepName"], s["Action"], s["StepStatus"]) for s in steps] == [
        ("stopInstances", "aws:changeInstanceState", "Success"),
        ("startInstances", "aws:changeInstanceState", "Success"),
    ]
    assert steps[0]["Inputs"] == {
        "InstanceIds": json.dumps([instance_id]),
        "DesiredState": json.dumps("stopped"),
    }
    assert steps[0]["ExecutionEndTime"] <= steps[1]["ExecutionStartTime"]


def test_stop_and_start_documents_leave_the_instance_in_their_state(ssm_gaps: SsmGaps) -> None:
    ssm = ssm_gaps.client("ssm")
    instance_id = instance(ssm_gaps)
    stop = ssm.start_automation_execution(
        DocumentName="AWS-StopEC2Instance", Parameters={"InstanceId": [instance_id]}
    )["AutomationExecutionId"]
    assert finished(ssm, stop)["AutomationExecutionStatus"] == "Success"
    assert state_of(ssm_gaps, instance_id) == "stopped"
    start = ssm.start_automation_execution(
        DocumentName="AWS-StartEC2Instance", Parameters={"InstanceId": [instance_id]}
    )["AutomationExecutionId"]
    assert finished(ssm, start)["AutomationExecutionStatus"] == "Success"
    assert state_of(ssm_gaps, instance_id) == "running"


def test_rds_reboot_runs_its_two_steps_and_fails_for_an_unknown_instance(
    ssm_gaps: SsmGaps,
) -> None:
    ssm = ssm_gaps.client("ssm")
    ssm_gaps.client("rds").create_db_instance(
        DBInstanceIdentifier="orders-db",
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        MasterUsername="admin",
        MasterUserPassword="secret-password",
        AllocatedStorage=20,
    )
    done = finished(
        ssm,
        ssm.start_automation_execution(
            DocumentName="AWS-RebootRdsInstance", Parameters={"InstanceId": ["orders-db"]}
        )["AutomationExecutionId"],
    )
    assert done["AutomationExecutionStatus"] == "Success"
    assert [s["StepName"] for s in done["StepExecutions"]] == [
        "RebootInstance",
        "WaitForAvailableState",
    ]

    failed = finished(
        ssm,
        ssm.start_automation_execution(
            DocumentName="AWS-RebootRdsInstance", Parameters={"InstanceId": ["absent-db"]}
        )["AutomationExecutionId"],
    )
    assert failed["AutomationExecutionStatus"] == "Failed"
    assert "DBInstanceNotFound" in failed["FailureMessage"]
    (step,) = failed["StepExecutions"]  # aborted: the wait never ran
    assert step["StepStatus"] == "Failed" and "absent-db" in step["FailureMessage"]
    assert step["FailureDetails"]["FailureType"] == "Action"


@pytest.mark.parametrize(
    ("document", "parameters", "code", "text"),
    [
        (
            RESTART,
            {"InstanceId": ["i-1"], "Force": ["true"]},
            "InvalidAutomationExecutionParametersException",
            "Force",
        ),
        (
            RESTART,
            {},
            "InvalidAutomationExecutionParametersException",
            "Missing required parameter: InstanceId",
        ),
        (
            "AWS-RebootRdsInstance",
            {"InstanceId": ["a", "b"]},
            "InvalidAutomationExecutionParametersException",
            "InstanceId",
        ),
        (
            "AWS-NoSuchRunbook",
            {"InstanceId": ["i-1"]},
            "AutomationDefinitionNotFoundException",
            "AWS-NoSuchRunbook",
        ),
    ],
)
def test_parameters_are_checked_against_the_document(
    ssm_gaps: SsmGaps, document: str, parameters: dict[str, list[str]], code: str, text: str
) -> None:
    ssm = ssm_gaps.client("ssm")
    kwargs: dict[str, Any] = {"DocumentName": document}
    if parameters:
        kwargs["Parameters"] = parameters
    with pytest.raises(ssm.exceptions.ClientError) as refused:
        ssm.start_automation_execution(**kwargs)
    assert refused.value.response["Error"]["Code"] == code
    assert text in refused.value.response["Error"]["Message"]


def test_a_scripted_step_says_what_happens_and_nothing_else_does(ssm_gaps: SsmGaps) -> None:
    ssm = ssm_gaps.client("ssm")
    instance_id = instance(ssm_gaps)
    rule = ssm_gaps.automation.script(
        RESTART,
        "stopInstances",
        outcome="Failed",
        message="Instance is in an invalid state for stop",
        times=1,
        contains=(instance_id,),
    )
    failed = finished(
        ssm,
        ssm.start_automation_execution(
            DocumentName=RESTART, Parameters={"InstanceId": [instance_id]}
        )["AutomationExecutionId"],
    )
    assert failed["AutomationExecutionStatus"] == "Failed"
    assert "Instance is in an invalid state for stop" in failed["FailureMessage"]
    assert [s["StepStatus"] for s in failed["StepExecutions"]] == ["Failed"]
    assert state_of(ssm_gaps, instance_id) == "running"  # the script replaced the effect
    assert rule.fired == 1

    # The script is used up: the next execution runs the real steps.
    again = finished(
        ssm,
        ssm.start_automation_execution(
            DocumentName=RESTART, Parameters={"InstanceId": [instance_id]}
        )["AutomationExecutionId"],
    )
    assert again["AutomationExecutionStatus"] == "Success"
    assert rule.fired == 1

    ssm_gaps.automation.script(
        RESTART, "startInstances", "TimedOut", outputs={"Note": "slow"}, contains=(instance_id,)
    )
    timed_out = finished(
        ssm,
        ssm.start_automation_execution(
            DocumentName=RESTART, Parameters={"InstanceId": [instance_id]}
        )["AutomationExecutionId"],
    )
    assert timed_out["AutomationExecutionStatus"] == "TimedOut"
    assert timed_out["StepExecutions"][1]["Outputs"] == {"Note": ["slow"]}
    ssm_gaps.automation.clear_scripts()


def test_stopping_cancels_the_running_step(ssm_gaps: SsmGaps) -> None:
    ssm = ssm_gaps.client("ssm")
    instance_id = instance(ssm_gaps)
    ssm_gaps.automation.script(
        RESTART, "stopInstances", delay_seconds=30, times=1, contains=(instance_id,)
    )
    execution_id = ssm.start_automation_execution(
        DocumentName=RESTART, Parameters={"InstanceId": [instance_id]}
    )["AutomationExecutionId"]
    until(lambda: execution(ssm, execution_id).get("CurrentStepName") == "stopInstances")
    ssm.stop_automation_execution(AutomationExecutionId=execution_id, Type="Cancel")
    assert ssm_gaps.automation.wait(execution_id, timeout=5) == "Cancelled"
    cancelled = execution(ssm, execution_id)
    assert [s["StepStatus"] for s in cancelled["StepExecutions"]] == ["Cancelled"]
    with pytest.raises(ssm.exceptions.InvalidAutomationStatusUpdateException):
        ssm.stop_automation_execution(AutomationExecutionId=execution_id)
    with pytest.raises(ssm.exceptions.AutomationExecutionNotFoundException):
        ssm.get_automation_execution(AutomationExecutionId="0" * 36)


REMEDIATE = {
    "schemaVersion": "0.3",
    "description": "Check an instance, wait for approval, then settle",
    "parameters": {
        "InstanceId": {"type": "String", "description": "(Required) The instance"},
        "Mode": {"type": "String", "default": "gentle", "allowedValues": ["gentle", "hard"]},
    },
    "mainSteps": [
        {
            "name": "describe",
            "action": "aws:executeAwsApi",
            "inputs": {
                "Service": "ec2",
                "Api": "DescribeInstances",
                "InstanceIds": ["{{ InstanceId }}"],
            },
            "outputs": [
                {
                    "Name": "State",
                    "Selector": "$.Reservations[0].Instances[0].State.Name",
                    "Type": "String",
                }
            ],
        },
        {"name": "approve", "action": "aws:approve", "inputs": {"Approvers": ["ops"]}},
        {
            "name": "custom",
            "action": "aws:executeScript",
            "onFailure": "Continue",
            "isCritical": False,
        },
        {"name": "settle", "action": "aws:sleep", "inputs": {"Duration": "PT1M"}},
    ],
    "outputs": ["describe.State"],
}


def test_user_documents_run_their_steps_and_wait_for_approval(ssm_gaps: SsmGaps) -> None:
    ssm = ssm_gaps.client("ssm")
    ssm.create_document(
        Name="Team-RemediateInstance",
        DocumentType="Automation",
        DocumentFormat="YAML",
        Content=yaml.safe_dump(REMEDIATE),
    )
    instance_id = instance(ssm_gaps)
    with pytest.raises(ssm.exceptions.InvalidAutomationExecutionParametersException) as refused:
        ssm.start_automation_execution(
            DocumentName="Team-RemediateInstance",
            Parameters={"InstanceId": [instance_id], "Mode": ["rough"]},
        )
    assert 'Parameter "Mode" has value "rough" not found in [gentle, hard].' in str(refused.value)

    def start() -> str:
        execution_id: str = ssm.start_automation_execution(
            DocumentName="Team-RemediateInstance", Parameters={"InstanceId": [instance_id]}
        )["AutomationExecutionId"]
        until(lambda: execution(ssm, execution_id)["AutomationExecutionStatus"] == "Waiting")
        return execution_id

    approved = start()
    waiting = execution(ssm, approved)
    assert waiting["CurrentStepName"] == "approve"
    assert waiting["Parameters"] == {"InstanceId": [instance_id], "Mode": ["gentle"]}
    with pytest.raises(ssm.exceptions.InvalidAutomationSignalException):
        ssm.send_automation_signal(AutomationExecutionId=approved, SignalType="Resume")
    ssm.send_automation_signal(
        AutomationExecutionId=approved, SignalType="Approve", Payload={"Comment": ["go"]}
    )
    done = finished(ssm, approved)
    # The emulator cannot run the script step: it fails, but it is not critical.
    assert done["AutomationExecutionStatus"] == "Success"
    assert done["Outputs"] == {"describe.State": ["running"]}
    assert [s["StepStatus"] for s in done["StepExecutions"]] == [
        "Success",
        "Success",
        "Failed",
        "Success",
    ]
    assert "does not run aws:executeScript" in done["StepExecutions"][2]["FailureMessage"]

    rejected = start()
    ssm.send_automation_signal(AutomationExecutionId=rejected, SignalType="Reject")
    assert finished(ssm, rejected)["AutomationExecutionStatus"] == "Failed"

    listed = ssm.describe_automation_executions(
        Filters=[{"Key": "DocumentNamePrefix", "Values": ["Team-Remediate"]}]
    )["AutomationExecutionMetadataList"]
    assert {m["AutomationExecutionId"] for m in listed} == {approved, rejected}
    only_failed = ssm.describe_automation_executions(
        Filters=[
            {"Key": "DocumentNamePrefix", "Values": ["Team-Remediate"]},
            {"Key": "ExecutionStatus", "Values": ["Failed"]},
        ]
    )["AutomationExecutionMetadataList"]
    assert [m["AutomationExecutionId"] for m in only_failed] == [rejected]

    steps = ssm.describe_automation_step_executions(
        AutomationExecutionId=approved, ReverseOrder=True
    )["StepExecutions"]
    assert [s["StepName"] for s in steps] == ["settle", "custom", "approve", "describe"]
    named = ssm.describe_automation_step_executions(
        AutomationExecutionId=approved, Filters=[{"Key": "StepName", "Values": ["describe"]}]
    )["StepExecutions"]
    assert named[0]["Outputs"] == {"State": ["running"]}


def test_the_same_operations_serve_moto_in_process(aws_env: None) -> None:
    """Handler tests under mock_aws get executions without a server."""
    automation = Automation(step_seconds=0.05)
    with mock_aws(), automation.in_moto(SimpleSystemManagerResponse):
        ec2 = boto3.client("ec2", region_name="us-east-1")
        instance_id = ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1)["Instances"][0][
            "InstanceId"
        ]
        ssm = boto3.client("ssm", region_name="us-east-1")
        execution_id = ssm.start_automation_execution(
            DocumentName="AWS-StopEC2Instance", Parameters={"InstanceId": [instance_id]}
        )["AutomationExecutionId"]
        assert automation.wait(execution_id, timeout=10) == "Success"
        described = ec2.describe_instances(InstanceIds=[instance_id])
        assert described["Reservations"][0]["Instances"][0]["State"]["Name"] == "stopped"
    assert not hasattr(SimpleSystemManagerResponse, "start_automation_execution")
