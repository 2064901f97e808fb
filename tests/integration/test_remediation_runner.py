"""The automation runner (functions/remediation/runner.py) against botocore's Stubber, with
responses shaped as the SSM API reference documents StartAutomationExecution,
GetAutomationExecution, DescribeAutomationStepExecutions and StopAutomationExecution (the
Stubber checks every request and response against the service model). moto 5.2.5 has SSM
documents but no automation executions; what it does have is used below: the team document,
created the way the stack deploys it, reads back with the parameters the validation parsed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from remediation.documents import parse_document
from remediation.proposal import Proposal, new_proposal
from remediation.runner import (
    AutomationRunner,
    ExecutionNotFound,
    RemediationStartFailed,
    outcome_of,
)
from shared.errors import TransientDependencyError

REGION = "us-east-1"
EXECUTION = "4105a4fc-f944-11e6-9d32-0a1b2EXAMPLE"
ROLE = "arn:aws:iam::123456789012:role/IncidentRunbook-RemediationRole"
STARTED = datetime(2026, 3, 2, 10, 4, tzinfo=UTC)


def _proposal(timeout: int = 1800) -> Proposal:
    return new_proposal(
        incident_id="inc-20260302-web",
        rule_id="ec2-system-status",
        description="Stop and start",
        document="AWS-RestartEC2Instance",
        document_name="AWS-RestartEC2Instance",
        parameters={"InstanceId": ["i-0bbbbbbbbbbbbbbb2"], "AutomationAssumeRole": [ROLE]},
        severity="high",
        approvers=["U0ALICE01"],
        auto_approved=False,
        approval_timeout_seconds=900,
        execution_timeout_seconds=timeout,
        now=STARTED - timedelta(minutes=4),
    )


@pytest.fixture
def ssm() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("ssm", region_name=REGION)
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def _runner(client: Any, now: datetime = STARTED + timedelta(minutes=5)) -> AutomationRunner:
    return AutomationRunner(client, clock=lambda: now)


def _step(name: str, status: str, **extra: Any) -> dict[str, Any]:
    step: dict[str, Any] = {
        "StepName": name,
        "Action": "aws:changeInstanceState",
        "TimeoutSeconds": 3600,
        "OnFailure": "Abort",
        "MaxAttempts": 1,
        "StepStatus": status,
        "StepExecutionId": f"{name}-0a1b2c3d",
        "Inputs": {"InstanceIds": '["i-0bbbbbbbbbbbbbbb2"]'},
    }
    if status != "Pending":
        step["ExecutionStartTime"] = STARTED + timedelta(seconds=1)
    if status in ("Success", "Failed", "TimedOut", "Cancelled"):
        step["ExecutionEndTime"] = STARTED + timedelta(minutes=2)
    step.update(extra)
    return step


def _execution(status: str, steps: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    execution: dict[str, Any] = {
        "AutomationExecutionId": EXECUTION,
        "DocumentName": "AWS-RestartEC2Instance",
        "DocumentVersion": "1",
        "ExecutionStartTime": STARTED,
        "AutomationExecutionStatus": status,
        "StepExecutions": steps,
        "StepExecutionsTruncated": False,
        "Parameters": {"InstanceId": ["i-0bbbbbbbbbbbbbbb2"], "AutomationAssumeRole": [ROLE]},
        "Outputs": {},
        "Mode": "Auto",
        "ExecutedBy": "arn:aws:sts::123456789012:assumed-role/remediate/incident-runbook",
    }
    execution.update(extra)
    return {"AutomationExecution": execution}


GET = {"AutomationExecutionId": EXECUTION}


def _start_request(proposal: Proposal) -> dict[str, Any]:
    return {
        "DocumentName": "AWS-RestartEC2Instance",
        "Parameters": {"InstanceId": ["i-0bbbbbbbbbbbbbbb2"], "AutomationAssumeRole": [ROLE]},
        "ClientToken": proposal.client_token,
        "Tags": [
            {"Key": "incident-runbook:incident", "Value": "inc-20260302-web"},
            {"Key": "incident-runbook:rule", "Value": "ec2-system-status"},
        ],
    }


def test_start_sends_the_document_parameters_and_the_incidents_token(ssm) -> None:
    client, stubber = ssm
    proposal = _proposal()
    # A retry (the Lambda timed out after SSM accepted) sends the same token: one execution.
    for _ in range(2):
        stubber.add_response(
            "start_automation_execution",
            {"AutomationExecutionId": EXECUTION},
            _start_request(proposal),
        )
    runner = _runner(client)
    assert runner.start(proposal) == EXECUTION
    assert runner.start(proposal) == EXECUTION


@pytest.mark.parametrize(
    "code",
    [
        "InvalidAutomationExecutionParametersException",
        "AutomationDefinitionNotFoundException",
        "IdempotentParameterMismatch",
        "AccessDeniedException",
    ],
)
def test_a_refused_start_is_a_permanent_typed_error(ssm, code: str) -> None:
    client, stubber = ssm
    stubber.add_client_error(
        "start_automation_execution",
        code,
        "refused",
        400,
        expected_params=_start_request(_proposal()),
    )
    with pytest.raises(RemediationStartFailed) as caught:
        _runner(client).start(_proposal())
    assert caught.value.code == code
    assert str(caught.value) == f"{code}: refused"


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("ThrottlingException", 400),
        ("AutomationExecutionLimitExceededException", 400),
        ("InternalServerError", 500),
    ],
)
def test_a_start_that_may_work_later_is_transient(ssm, code: str, status: int) -> None:
    client, stubber = ssm
    stubber.add_client_error("start_automation_execution", code, "later", status)
    with pytest.raises(TransientDependencyError, match=code):
        _runner(client).start(_proposal())


def test_a_successful_run_records_steps_outputs_and_times(ssm) -> None:
    client, stubber = ssm
    steps = [
        _step("stopInstances", "Success"),
        _step("startInstances", "Success", Outputs={"InstanceStates": ["running"]}),
    ]
    response = _execution(
        "Success",
        steps,
        ExecutionEndTime=STARTED + timedelta(minutes=5),
        Outputs={"startInstances.InstanceStates": ["running"]},
    )
    stubber.add_response("get_automation_execution", response, GET)
    report = _runner(client).report(EXECUTION, 1800)
    assert (report.status, report.outcome, report.done) == ("Success", "success", True)
    assert report.started_at == "2026-03-02T10:04:00Z"
    assert report.ended_at == "2026-03-02T10:09:00Z"
    assert report.checked_at == "2026-03-02T10:09:00Z"
    assert [(s.name, s.status) for s in report.steps] == [
        ("stopInstances", "Success"),
        ("startInstances", "Success"),
    ]
    assert report.steps[1].outputs == {"InstanceStates": ["running"]}
    assert report.outputs == {"startInstances.InstanceStates": ["running"]}
    assert report.executed_by.endswith("/incident-runbook")


def test_a_failed_run_records_the_failing_step_and_why(ssm) -> None:
    client, stubber = ssm
    failing = _step(
        "startInstances",
        "Failed",
        FailureMessage="Step fails when it is changing the state of instances. "
        "You are not authorized to perform this operation.",
        FailureDetails={
            "FailureStage": "Invocation",
            "FailureType": "Verification",
            "Details": {"ExceptionMessage": ["UnauthorizedOperation"]},
        },
        ResponseCode="UnauthorizedOperation",
    )
    response = _execution(
        "Failed",
        [_step("stopInstances", "Success"), failing],
        ExecutionEndTime=STARTED + timedelta(minutes=3),
        FailureMessage="Step fails when it is changing the state of instances.",
    )
    stubber.add_response("get_automation_execution", response, GET)
    report = _runner(client).report(EXECUTION, 1800)
    assert report.outcome == "failed"
    assert report.failure_message == "Step fails when it is changing the state of instances."
    (failed,) = report.failed_steps
    assert failed.name == "startInstances"
    assert failed.failure_type == "Verification" and failed.failure_stage == "Invocation"
    assert "not authorized" in failed.failure_message


def test_a_truncated_step_list_is_read_page_by_page(ssm) -> None:
    client, stubber = ssm
    response = _execution("InProgress", [_step("s0", "Success")], StepExecutionsTruncated=True)
    stubber.add_response("get_automation_execution", response, GET)
    stubber.add_response(
        "describe_automation_step_executions",
        {"StepExecutions": [_step(f"s{n}", "Success") for n in range(50)], "NextToken": "page-2"},
        {"AutomationExecutionId": EXECUTION, "MaxResults": 50},
    )
    stubber.add_response(
        "describe_automation_step_executions",
        {"StepExecutions": [_step("s50", "InProgress")]},
        {"AutomationExecutionId": EXECUTION, "MaxResults": 50, "NextToken": "page-2"},
    )
    report = _runner(client).report(EXECUTION, 1800)
    assert report.outcome == "running"
    # Kept small for the state: the first 50 steps, and it says more ran.
    assert len(report.steps) == 50 and report.steps_truncated


def test_watch_within_the_timeout_only_looks(ssm) -> None:
    client, stubber = ssm
    stubber.add_response(
        "get_automation_execution",
        _execution("InProgress", [_step("stopInstances", "InProgress")]),
        GET,
    )
    report = _runner(client, now=STARTED + timedelta(minutes=29)).watch(_proposal(), EXECUTION)
    assert report.outcome == "running" and not report.stopped_by_runbook
    assert report.current_step == ""


def test_watch_past_the_timeout_stops_the_execution_and_it_ends_timed_out(ssm) -> None:
    client, stubber = ssm
    late = STARTED + timedelta(minutes=31)
    stubber.add_response(
        "get_automation_execution",
        _execution("InProgress", [_step("startInstances", "InProgress")]),
        GET,
    )
    stubber.add_response(
        "stop_automation_execution", {}, {"AutomationExecutionId": EXECUTION, "Type": "Cancel"}
    )
    stubber.add_response(
        "get_automation_execution",
        _execution("Cancelling", [_step("startInstances", "InProgress")]),
        GET,
    )
    report = _runner(client, now=late).watch(_proposal(), EXECUTION)
    assert report.stopped_by_runbook
    assert (report.status, report.outcome) == ("Cancelling", "running")
    # The next look (a later loop of the state machine): cancelled, past the deadline.
    cancelled = _execution(
        "Cancelled",
        [_step("startInstances", "Cancelled")],
        ExecutionEndTime=late + timedelta(seconds=20),
    )
    stubber.add_response("get_automation_execution", cancelled, GET)
    final = _runner(client, now=late + timedelta(minutes=1)).watch(_proposal(), EXECUTION)
    assert (final.status, final.outcome) == ("Cancelled", "timed_out")


def test_an_execution_that_ends_as_it_is_stopped_keeps_its_outcome(ssm) -> None:
    client, stubber = ssm
    late = STARTED + timedelta(minutes=31)
    stubber.add_response(
        "get_automation_execution",
        _execution("InProgress", [_step("startInstances", "InProgress")]),
        GET,
    )
    stubber.add_client_error(
        "stop_automation_execution",
        "InvalidAutomationStatusUpdateException",
        "The execution is already complete",
        400,
    )
    finished = _execution("Success", [_step("startInstances", "Success")], ExecutionEndTime=late)
    stubber.add_response("get_automation_execution", finished, GET)
    report = _runner(client, now=late).watch(_proposal(), EXECUTION)
    assert report.outcome == "success" and not report.stopped_by_runbook


def test_a_pending_execution_times_out_from_when_it_was_started(ssm) -> None:
    client, stubber = ssm
    pending = _execution("Pending", [])
    del pending["AutomationExecution"]["ExecutionStartTime"]
    stubber.add_response("get_automation_execution", pending, GET)
    stubber.add_response(
        "stop_automation_execution", {}, {"AutomationExecutionId": EXECUTION, "Type": "Cancel"}
    )
    stubber.add_response("get_automation_execution", pending, GET)
    runner = _runner(client, now=STARTED + timedelta(minutes=40))
    report = runner.watch(_proposal(), EXECUTION, started_at="2026-03-02T10:04:00Z")
    assert report.stopped_by_runbook


def test_an_unknown_execution_is_a_typed_error(ssm) -> None:
    client, stubber = ssm
    stubber.add_client_error(
        "get_automation_execution", "AutomationExecutionNotFoundException", "not found", 400
    )
    with pytest.raises(ExecutionNotFound):
        _runner(client).report(EXECUTION)


def test_a_throttled_look_is_transient(ssm) -> None:
    client, stubber = ssm
    stubber.add_client_error("get_automation_execution", "ThrottlingException", "slow down", 400)
    with pytest.raises(TransientDependencyError):
        _runner(client).report(EXECUTION)


def test_follow_polls_with_backoff_until_the_end(ssm) -> None:
    client, stubber = ssm
    for status in ("Pending", "InProgress", "InProgress"):
        stubber.add_response("get_automation_execution", _execution(status, []), GET)
    stubber.add_response(
        "get_automation_execution",
        _execution(
            "Success",
            [_step("startInstances", "Success")],
            ExecutionEndTime=STARTED + timedelta(minutes=4),
        ),
        GET,
    )
    slept: list[float] = []
    clock = [0.0]

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    report = _runner(client).follow(
        _proposal(),
        EXECUTION,
        budget_seconds=600,
        poll_seconds=5,
        sleep=sleep,
        monotonic=lambda: clock[0],
    )
    assert report.outcome == "success"
    assert slept == [5, 10, 20]


def test_follow_gives_back_the_running_report_when_its_budget_ends(ssm) -> None:
    client, stubber = ssm
    stubber.add_response("get_automation_execution", _execution("InProgress", []), GET)
    stubber.add_response("get_automation_execution", _execution("InProgress", []), GET)
    clock = [0.0]

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    report = _runner(client).follow(
        _proposal(),
        EXECUTION,
        budget_seconds=12,
        poll_seconds=5,
        sleep=sleep,
        monotonic=lambda: clock[0],
    )
    assert report.outcome == "running"


@pytest.mark.parametrize(
    ("status", "ended", "overdue", "outcome"),
    [
        ("Success", True, False, "success"),
        ("CompletedWithSuccess", True, False, "success"),
        ("Failed", True, False, "failed"),
        ("CompletedWithFailure", True, False, "failed"),
        ("TimedOut", True, False, "timed_out"),
        ("Cancelled", True, False, "cancelled"),
        ("Cancelled", True, True, "timed_out"),
        ("Rejected", True, False, "cancelled"),
        ("Waiting", False, False, "running"),
        ("PendingApproval", False, False, "running"),
        ("SomethingNew", False, False, "running"),
        ("SomethingNew", True, False, "failed"),
    ],
)
def test_every_status_has_an_outcome(status: str, ended: bool, overdue: bool, outcome: str) -> None:
    assert outcome_of(status, ended, overdue) == outcome


@mock_aws
def test_a_team_document_deploys_as_ssm_reads_it() -> None:
    content = {
        "schemaVersion": "0.3",
        "description": "Force a new deployment of an ECS service",
        "assumeRole": "{{ AutomationAssumeRole }}",
        "parameters": {
            "AutomationAssumeRole": {"type": "String", "default": ""},
            "Cluster": {"type": "String"},
            "Service": {"type": "String", "description": "The service to redeploy"},
        },
        "mainSteps": [
            {
                "name": "ForceNewDeployment",
                "action": "aws:executeAwsApi",
                "inputs": {"Service": "ecs", "Api": "UpdateService", "cluster": "{{ Cluster }}",
                           "service": "{{ Service }}", "forceNewDeployment": True},
            }
        ],
    }  # fmt: skip
    spec, problems = parse_document(content, "IncidentRunbook-restart-orders")
    assert problems == [] and spec is not None
    ssm = boto3.client("ssm", region_name=REGION)
    ssm.create_document(
        Content=json.dumps(content),
        Name=spec.name,
        DocumentType="Automation",
        DocumentFormat="JSON",
    )
    described = ssm.describe_document(Name=spec.name)["Document"]
    assert described["DocumentType"] == "Automation"
    read_back = {p["Name"]: "DefaultValue" not in p for p in described["Parameters"]}
    assert read_back == {p.name: p.required for p in spec.parameters}
