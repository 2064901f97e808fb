"""EventBridge Scheduler on the emulator (runbook/local/scheduler.py and the
AWS::Scheduler::* gap fillers): moto stores schedules and never fires them, and its
CloudFormation does not create them. Against moto's server; Lambda targets go to a recording
stand-in for the emulator's runtime."""

from __future__ import annotations

import datetime as dt
import io
import json
import time
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from runbook.local.cloudformation_gaps import GapContext, fill_gaps, moto_stack
from runbook.local.scheduler import ScheduleRunner, parse_expression
from runbook.local.server import MotoServer, free_port

pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS::")
ACCOUNT, REGION = "123456789012", "us-east-1"
WINDOW = {"Mode": "OFF"}
CONTEXT_INPUT = json.dumps(
    {
        "schedule": "<aws.scheduler.schedule-arn>",
        "at": "<aws.scheduler.scheduled-time>",
        "attempt": "<aws.scheduler.attempt-number>",
    }
)
ROLE = f"arn:aws:iam::{ACCOUNT}:role/scheduler"


class RecordingInvoker:
    """Stands in for LambdaRuntime: what would have been invoked asynchronously."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def invoke_async(self, fn: Any, payload: str | bytes | None) -> None:
        self.calls.append((fn.function_name, str(payload)))


@pytest.fixture(scope="module")
def server() -> Iterator[MotoServer]:
    moto = MotoServer(free_port())
    moto.start()
    try:
        yield moto
    finally:
        moto.stop()


def client(server: MotoServer, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=server.endpoint_url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}),
    )


@pytest.fixture
def runner(tmp_path: Path) -> ScheduleRunner:
    return ScheduleRunner(RecordingInvoker(), ACCOUNT, REGION, tmp_path / "schedule.log")


@pytest.fixture
def scheduler(server: MotoServer) -> Iterator[Any]:
    """The Scheduler API; every schedule a test makes is deleted afterwards."""
    api = client(server, "scheduler")
    yield api
    for schedule in api.list_schedules()["Schedules"]:
        api.delete_schedule(Name=schedule["Name"], GroupName=schedule["GroupName"])


def queue(server: MotoServer, name: str) -> tuple[str, str]:
    sqs = client(server, "sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return url, arn


def bodies(server: MotoServer, url: str) -> list[str]:
    sqs = client(server, "sqs")
    found = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        for message in batch:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            found.append(message["Body"])
    return found


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("rate(1 day)", "rate"),
        ("cron(0 9 * * ? *)", "cron"),
        ("at(2026-03-01T09:00:00)", "at"),
        ("at(tomorrow)", None),
        ("rate(5 seconds)", None),
    ],
)
def test_expressions(text: str, kind: str | None) -> None:
    parsed = parse_expression(text)
    assert (parsed.kind if parsed else None) == kind


def test_enabled_schedules_deliver_their_input_to_each_kind_of_target(
    server: MotoServer, runner: ScheduleRunner, scheduler: Any
) -> None:
    url, queue_arn = queue(server, "scheduler-targets")
    # An event bus target: a rule on the bus forwards what the schedule puts to the queue.
    events = client(server, "events")
    bus_arn = events.create_event_bus(Name="drills")["EventBusArn"]
    events.put_rule(
        Name="drill-events",
        EventBusName="drills",
        EventPattern=json.dumps({"source": ["incident-runbook.drill"]}),
    )
    events.put_targets(
        Rule="drill-events", EventBusName="drills", Targets=[{"Id": "q", "Arn": queue_arn}]
    )
    # A Lambda target and a state machine target.
    iam = client(server, "iam")
    role = iam.create_role(RoleName=f"fn-{uuid.uuid4().hex[:6]}", AssumeRolePolicyDocument="{}")[
        "Role"
    ]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return event\n")
    function = client(server, "lambda").create_function(
        FunctionName="drill-runner",
        Runtime="python3.13",
        Role=role,
        Handler="index.handler",
        Code={"ZipFile": code.getvalue()},
    )["FunctionArn"]
    machine = client(server, "stepfunctions").create_state_machine(
        name="drill-flow",
        definition=json.dumps(
            {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}
        ),
        roleArn=role,
    )["stateMachineArn"]

    scheduler.create_schedule(
        Name="to-queue",
        ScheduleExpression="rate(1 day)",
        FlexibleTimeWindow=WINDOW,
        Target={
            "Arn": queue_arn,
            "RoleArn": ROLE,
            "Input": CONTEXT_INPUT,
        },
    )
    scheduler.create_schedule(
        Name="to-bus",
        ScheduleExpression="cron(0 9 * * ? *)",
        FlexibleTimeWindow=WINDOW,
        Target={
            "Arn": bus_arn,
            "RoleArn": ROLE,
            "Input": json.dumps({"drill": True}),
            "EventBridgeParameters": {
                "Source": "incident-runbook.drill",
                "DetailType": "Drill Requested",
            },
        },
    )
    scheduler.create_schedule(
        Name="to-lambda",
        ScheduleExpression="rate(1 hour)",
        FlexibleTimeWindow=WINDOW,
        Target={"Arn": function, "RoleArn": ROLE},
    )
    scheduler.create_schedule(
        Name="to-machine",
        ScheduleExpression="rate(1 hour)",
        FlexibleTimeWindow=WINDOW,
        Target={
            "Arn": machine,
            "RoleArn": ROLE,
            "Input": '{"run": "<aws.scheduler.execution-id>"}',
        },
    )
    scheduler.create_schedule(
        Name="off",
        ScheduleExpression="rate(1 minute)",
        FlexibleTimeWindow=WINDOW,
        State="DISABLED",
        Target={"Arn": queue_arn, "RoleArn": ROLE},
    )

    fired = {f["schedule"].rsplit("/", 1)[-1]: f for f in runner.fire_schedules()}
    assert set(fired) == {"to-queue", "to-bus", "to-lambda", "to-machine"}
    assert all(not f["outcome"].startswith("failed") for f in fired.values()), fired

    received = [json.loads(b) for b in bodies(server, url)]
    direct = next(r for r in received if "schedule" in r)
    assert direct["schedule"] == f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/default/to-queue"
    assert direct["attempt"] == "1" and direct["at"].endswith("Z")
    event = next(r for r in received if "detail-type" in r)
    assert (event["source"], event["detail-type"], event["detail"]) == (
        "incident-runbook.drill",
        "Drill Requested",
        {"drill": True},
    )

    assert runner.invoker.calls == [("drill-runner", "{}")]  # type: ignore[union-attr]
    sfn = client(server, "stepfunctions")
    (started,) = sfn.list_executions(stateMachineArn=machine)["executions"]
    described = sfn.describe_execution(executionArn=started["executionArn"])
    assert json.loads(described["input"]) == {"run": fired["to-machine"]["execution"]}

    logged = {line["schedule"]: line for line in runner.log.read()}
    assert logged["default/to-queue"]["outcome"] == "sent"
    assert logged["default/to-bus"]["target"] == bus_arn


def test_one_time_schedules_fire_once_and_windows_are_honoured(
    server: MotoServer, runner: ScheduleRunner, scheduler: Any
) -> None:
    url, queue_arn = queue(server, "scheduler-once")
    target = {"Arn": queue_arn, "RoleArn": ROLE, "Input": "once"}
    scheduler.create_schedule(
        Name="once",
        ScheduleExpression="at(2030-01-01T00:00:00)",
        FlexibleTimeWindow=WINDOW,
        Target=target,
        ActionAfterCompletion="DELETE",
    )
    scheduler.create_schedule(
        Name="once-kept",
        ScheduleExpression="at(2030-01-01T00:00:00)",
        FlexibleTimeWindow=WINDOW,
        Target={**target, "Input": "kept"},
    )
    scheduler.create_schedule(
        Name="ended",
        ScheduleExpression="rate(1 minute)",
        FlexibleTimeWindow=WINDOW,
        Target={**target, "Input": "late"},
        EndDate=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1),
    )
    scheduler.create_schedule(
        Name="broken", ScheduleExpression="every day", FlexibleTimeWindow=WINDOW, Target=target
    )

    assert sorted(bodies(server, url) or []) == []
    runner.fire_schedules()
    assert sorted(bodies(server, url)) == ["kept", "late", "once"]
    names = {s["Name"] for s in scheduler.list_schedules()["Schedules"]}
    assert "once" not in names and "once-kept" in names  # ActionAfterCompletion DELETE

    time.sleep(1.2)  # past the EndDate
    runner.fire_schedules()
    assert bodies(server, url) == []
    skipped = [line for line in runner.log.read() if line["outcome"].startswith("skipped")]
    assert [line["schedule"] for line in skipped] == ["default/broken"]  # once, not per tick


TEMPLATE: dict[str, Any] = {
    "Resources": {
        "Queue": {"Type": "AWS::SQS::Queue"},
        "Group": {"Type": "AWS::Scheduler::ScheduleGroup", "Properties": {"Name": "drills"}},
        "Daily": {
            "Type": "AWS::Scheduler::Schedule",
            "Properties": {
                "Description": "Daily drill",
                "GroupName": {"Ref": "Group"},
                "ScheduleExpression": "rate(1 day)",
                "ScheduleExpressionTimezone": "Europe/Paris",
                "FlexibleTimeWindow": {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 15},
                "State": "ENABLED",
                "Target": {
                    "Arn": {"Fn::GetAtt": ["Queue", "Arn"]},
                    "RoleArn": ROLE,
                    "Input": {"Fn::Sub": '{"group": "${Group}", "queue": "${Queue.QueueName}"}'},
                    "RetryPolicy": {"MaximumRetryAttempts": 2},
                },
            },
        },
        "Switch": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "Namespace": "IncidentRunbook",
                "MetricName": "DrillCompleted",
                "Statistic": "Sum",
                "Period": 86400,
                "EvaluationPeriods": 1,
                "Threshold": 1,
                "ComparisonOperator": "LessThanThreshold",
                "TreatMissingData": "breaching",
            },
        },
    },
}


def test_the_gap_fillers_create_schedules_and_groups_from_the_template(
    server: MotoServer, runner: ScheduleRunner, scheduler: Any
) -> None:
    cloudformation = client(server, "cloudformation")
    cloudformation.create_stack(StackName="SchedulerGaps", TemplateBody=json.dumps(TEMPLATE))
    gaps = fill_gaps(
        GapContext(
            clients=lambda service: client(server, service),
            account=ACCOUNT,
            region=REGION,
            stack_name="SchedulerGaps",
            moto_stack=moto_stack(ACCOUNT, REGION, "SchedulerGaps"),
        ),
        TEMPLATE,
    )
    assert gaps.created["Group"] == "drills"
    assert gaps.arns["Group"] == f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule-group/drills"
    assert gaps.alarms == [gaps.created["Switch"]] and gaps.created["Switch"].startswith(
        "SchedulerGaps-Switch"
    )

    daily = scheduler.get_schedule(Name=gaps.created["Daily"], GroupName="drills")
    assert gaps.created["Daily"].startswith("SchedulerGaps-Daily-")
    assert daily["ScheduleExpressionTimezone"] == "Europe/Paris"
    assert daily["FlexibleTimeWindow"] == {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 15}
    assert json.loads(daily["Target"]["Input"])["group"] == "drills"  # Ref to a filled resource

    (fired,) = [f for f in runner.fire_schedules() if f["schedule"] == gaps.arns["Daily"]]
    assert fired["outcome"] == "sent"
    queue_url = client(server, "sqs").get_queue_url(
        QueueName=json.loads(daily["Target"]["Input"])["queue"]
    )["QueueUrl"]
    assert [json.loads(b)["group"] for b in bodies(server, queue_url)] == ["drills"]

    # A redeploy updates what is there instead of failing on the existing names.
    fill_gaps(
        GapContext(
            clients=lambda service: client(server, service),
            account=ACCOUNT,
            region=REGION,
            stack_name="SchedulerGaps",
            moto_stack=moto_stack(ACCOUNT, REGION, "SchedulerGaps"),
        ),
        {"Resources": {k: v for k, v in TEMPLATE["Resources"].items() if k != "Daily"}},
    )
    assert (
        scheduler.get_schedule(Name=gaps.created["Daily"], GroupName="drills")["Name"]
        == gaps.created["Daily"]
    )
