"""The emulator's newer gap fillers on the running emulator, as issues 13-15 use them: a
dead-man's-switch alarm from a template pages people straight through SNS when its heartbeats
stop, an EventBridge Scheduler schedule from a template invokes a Lambda function, OpsItems and
Automation executions answer real clients, and an injected fault reaches an Automation step.

Every stack, schedule and alarm made here is removed afterwards, so nothing keeps firing for
the tests that follow."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from runbook.local.emulator import LocalEmulator
from runbook.local.faults import Fault
from runbook.local.synth import StackArtifact

from .helpers import s3_keys, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.filterwarnings("ignore:Tried to parse AWS::")]

PHONE, EMAIL = "+15555550188", "oncall@example.com"


def deploy(emulator: LocalEmulator, tmp_path: Path, name: str, template: dict[str, Any]) -> Any:
    path = tmp_path / f"{name}.template.json"
    path.write_text(json.dumps(template), encoding="utf-8")
    return emulator.deploy(StackArtifact(name, path, ()))


@pytest.fixture
def ingest_paused(aws: Callable[[str], Any]) -> Iterator[None]:
    """The runbook's own alarm rule off while the test's alarm goes to ALARM: the switch must
    page by itself, and must not open an incident that could fold into another test's."""
    events = aws("events")
    rules = [r["Name"] for r in events.list_rules()["Rules"] if "AlarmRule" in r["Name"]]
    assert rules, "the runbook's alarm rule is missing"
    for rule in rules:
        events.disable_rule(Name=rule)
    try:
        yield
    finally:
        for rule in rules:
            events.enable_rule(Name=rule)


def test_a_dead_mans_switch_pages_people_directly_when_heartbeats_stop(
    emulator: LocalEmulator,
    aws: Callable[[str], Any],
    tmp_path: Path,
    unique: str,
    ingest_paused: None,
) -> None:
    alarm_name = f"e2e-drill-switch-{unique}"
    dimensions = [{"Name": "run", "Value": unique}]
    template = {
        "Resources": {
            "Topic": {"Type": "AWS::SNS::Topic"},
            "Sms": {
                "Type": "AWS::SNS::Subscription",
                "Properties": {"TopicArn": {"Ref": "Topic"}, "Protocol": "sms", "Endpoint": PHONE},
            },
            "Email": {
                "Type": "AWS::SNS::Subscription",
                "Properties": {
                    "TopicArn": {"Ref": "Topic"},
                    "Protocol": "email",
                    "Endpoint": EMAIL,
                },
            },
            "Switch": {
                "Type": "AWS::CloudWatch::Alarm",
                "Properties": {
                    "AlarmName": alarm_name,
                    "Namespace": "IncidentRunbook/E2E",
                    "MetricName": "DrillCompleted",
                    "Dimensions": dimensions,
                    "Statistic": "Sum",
                    "Period": 60,  # one wall second at the emulator's time scale (60)
                    "EvaluationPeriods": 1,
                    "Threshold": 1,
                    "ComparisonOperator": "LessThanThreshold",
                    "TreatMissingData": "breaching",
                    "AlarmActions": [{"Ref": "Topic"}],
                    "OKActions": [{"Ref": "Topic"}],
                },
            },
        },
        "Outputs": {"TopicArn": {"Value": {"Ref": "Topic"}}},
    }
    cloudwatch = aws("cloudwatch")
    beating = threading.Event()
    beating.set()
    stop = threading.Event()

    def heartbeats() -> None:
        while not stop.wait(0.25):
            if beating.is_set():
                cloudwatch.put_metric_data(
                    Namespace="IncidentRunbook/E2E",
                    MetricData=[
                        {"MetricName": "DrillCompleted", "Dimensions": dimensions, "Value": 1}
                    ],
                )

    thread = threading.Thread(target=heartbeats, daemon=True)
    thread.start()
    try:
        topic = deploy(emulator, tmp_path, f"E2ESwitch{unique}", template).outputs["TopicArn"]
        assert (emulator.account, emulator.region, alarm_name) in emulator.alarm_evaluator.watched

        def state() -> str:
            alarms = cloudwatch.describe_alarms(AlarmNames=[alarm_name])["MetricAlarms"]
            return str(alarms[0]["StateValue"])

        wait_for("the switch to see the heartbeats", lambda: state() == "OK", timeout=15)
        for _ in range(12):  # three seconds: several compressed periods, all with data
            assert state() == "OK"
            threading.Event().wait(0.25)

        before = len(emulator.deliveries(topic=topic))
        beating.clear()
        wait_for("the switch to fire", lambda: state() == "ALARM", timeout=15)
        alarm = cloudwatch.describe_alarms(AlarmNames=[alarm_name])["MetricAlarms"][0]
        assert "treated as [Breaching]" in alarm["StateReason"]

        def paged() -> list[dict[str, Any]]:
            # The first ALARM notice after the heartbeats stopped: a loaded machine may have
            # fired the switch before the first heartbeat was seen, or see a late heartbeat
            # flip it back and fire again; neither notice is this one.
            found = [
                d for d in emulator.deliveries(topic=topic)[before:] if '"ALARM"' in d["message"]
            ]
            return found[:2] if len(found) >= 2 else []

        pages = wait_for("the pages", paged, timeout=10)
        assert {(p["protocol"], p["endpoint"]) for p in pages} == {("sms", PHONE), ("email", EMAIL)}
        assert all(p["subject"] == f'ALARM: "{alarm_name}" in US East (N. Virginia)' for p in pages)
        notice = json.loads(pages[0]["message"])
        assert (notice["OldStateValue"], notice["NewStateValue"]) == ("OK", "ALARM")
        logged = [
            json.loads(line)
            for line in (emulator.log_dir / "deliveries.log").read_text().splitlines()
            if topic in line
        ]
        assert {line["protocol"] for line in logged} == {"sms", "email"}
        changes = [
            json.loads(line)
            for line in (emulator.log_dir / "alarms.log").read_text().splitlines()
            if alarm_name in line and '"reason"' in line
        ]
        assert [c["state"] for c in changes][-2:] == ["OK", "ALARM"]
    finally:
        stop.set()
        thread.join(5)
        cloudwatch.delete_alarms(AlarmNames=[alarm_name])
        emulator.alarm_evaluator.unwatch(alarm_name, emulator.account, emulator.region)


def test_a_schedule_from_the_template_invokes_its_lambda_target(
    emulator: LocalEmulator,
    aws: Callable[[str], Any],
    make_probe: Callable[..., dict[str, Any]],
    probe_bucket: str,
    tmp_path: Path,
    unique: str,
) -> None:
    function = make_probe(f"e2e-drill-{unique}")
    prefix = f"scheduled/{unique}/"
    template = {
        "Resources": {
            "Drill": {
                "Type": "AWS::Scheduler::Schedule",
                "Properties": {
                    "Name": f"e2e-drill-{unique}",
                    "ScheduleExpression": "rate(1 day)",
                    "FlexibleTimeWindow": {"Mode": "OFF"},
                    "Target": {
                        "Arn": function["FunctionArn"],
                        "RoleArn": f"arn:aws:iam::{emulator.account}:role/scheduler",
                        "Input": json.dumps(
                            {"action": "put", "key": prefix + "<aws.scheduler.execution-id>"}
                        ),
                    },
                },
            }
        }
    }
    scheduler = aws("scheduler")
    deploy(emulator, tmp_path, f"E2ESchedule{unique}", template)
    try:
        fired = [f for f in emulator.fire_schedules() if f["target"] == function["FunctionArn"]]
        assert [f["outcome"] for f in fired] == ["invoked"]
        s3 = aws("s3")
        mine = prefix + fired[0]["execution"]  # the background tick may fire it too
        wait_for("the scheduled invocation", lambda: mine in s3_keys(s3, probe_bucket, prefix))
        # The background tick (every 5 s) fires it without help as well.
        wait_for(
            "a background firing",
            lambda: len(s3_keys(s3, probe_bucket, prefix)) > 1,
            timeout=20,
        )
        schedule_log = (emulator.log_dir / "schedule.log").read_text()
        assert f"default/e2e-drill-{unique}" in schedule_log
    finally:
        scheduler.delete_schedule(Name=f"e2e-drill-{unique}")


def test_ops_items_and_automation_answer_and_faults_reach_automation_steps(
    emulator: LocalEmulator, aws: Callable[[str], Any], unique: str
) -> None:
    ssm = aws("ssm")
    item_id = ssm.create_ops_item(
        Title=f"e2e incident {unique}",
        Source="IncidentRunbook",
        Description="opened by the e2e test",
        OperationalData={"incident": {"Value": unique, "Type": "SearchableString"}},
    )["OpsItemId"]
    ssm.update_ops_item(OpsItemId=item_id, Status="Resolved")
    found = ssm.describe_ops_items(
        OpsItemFilters=[
            {"Key": "OperationalDataValue", "Values": [unique], "Operator": "Equal"},
            {"Key": "Status", "Values": ["Resolved"], "Operator": "Equal"},
        ]
    )["OpsItemSummaries"]
    assert [s["OpsItemId"] for s in found] == [item_id]
    assert item_id in {i["OpsItemId"] for i in emulator.opscenter.ops_items()}

    ec2 = aws("ec2")
    instance_id = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)["Instances"][0][
        "InstanceId"
    ]

    def restart() -> dict[str, Any]:
        execution_id = ssm.start_automation_execution(
            DocumentName="AWS-RestartEC2Instance", Parameters={"InstanceId": [instance_id]}
        )["AutomationExecutionId"]
        emulator.automation.wait(execution_id, timeout=30)
        described: dict[str, Any] = ssm.get_automation_execution(
            AutomationExecutionId=execution_id
        )["AutomationExecution"]
        return described

    assert restart()["AutomationExecutionStatus"] == "Success"
    rule = emulator.faults.add(
        Fault("ec2", "StopInstances", "UnauthorizedOperation", 403, contains=(instance_id,))
    )
    failed = restart()
    assert rule.fired == 1
    assert failed["AutomationExecutionStatus"] == "Failed"
    assert "UnauthorizedOperation" in failed["FailureMessage"]
    assert [s["StepStatus"] for s in failed["StepExecutions"]] == ["Failed"]
    lines = (emulator.log_dir / "automation.log").read_text()
    assert failed["AutomationExecutionId"] in lines
