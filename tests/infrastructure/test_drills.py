"""Drills in the template (docs/drills.md): the drill topic always; the schedule, its role, the
dead-man's switch and its own topic only when `drill.schedule` is set (cdk-nag clean either way:
synth_template raises on an unacknowledged finding)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from moto.events.models import EventPattern

from stacks.settings import Settings, SettingsError

from .conftest import Synth, synth_template

SCHEDULED = {
    "drill": {
        "schedule": "rate(1 day)",
        "deadMansWindowHours": 26,
        "deadManSubscriptions": [{"protocol": "sms", "endpoint": "+15555550100"}],
    }
}


def _of(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


@pytest.fixture(scope="module")
def scheduled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return synth_template(tmp_path_factory.mktemp("drills"), SCHEDULED)


def test_off_by_default_no_schedule_no_switch(synth: Synth) -> None:
    assert not synth.resources("AWS::Scheduler::Schedule")
    assert not synth.resources("AWS::CloudWatch::Alarm")
    outputs = synth.template["Outputs"]
    assert outputs["DrillTarget"]["Value"] == "topic"
    assert "DeadMansSwitchTopicArn" not in outputs


def test_a_schedule_puts_the_drill_event_on_the_default_bus(scheduled: dict[str, Any]) -> None:
    ((_, schedule),) = _of(scheduled, "AWS::Scheduler::Schedule").items()
    props = schedule["Properties"]
    assert props["ScheduleExpression"] == "rate(1 day)"
    assert props["State"] == "ENABLED"
    target = props["Target"]
    assert "event-bus/default" in json.dumps(target["Arn"])
    assert target["EventBridgeParameters"] == {
        "DetailType": "Incident Drill",
        "Source": "incident-runbook.drill",
    }
    detail = json.loads(target["Input"])
    assert detail["target"] == "topic"
    assert detail["drill_id"] == "scheduled-<aws.scheduler.execution-id>"
    # Its role may put events on the default bus and nothing else.
    role_id = target["RoleArn"]["Fn::GetAtt"][0]
    policies = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in _of(scheduled, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in p["Properties"]["Roles"]
    ]
    assert policies == [
        [
            {
                "Action": "events:PutEvents",
                "Effect": "Allow",
                "Resource": target["Arn"],
            }
        ]
    ]
    trust = scheduled["Resources"][role_id]["Properties"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": "scheduler.amazonaws.com"}


def test_the_switch_breaches_on_missing_drills_and_notifies_its_own_topic(
    scheduled: dict[str, Any],
) -> None:
    ((_, alarm),) = _of(scheduled, "AWS::CloudWatch::Alarm").items()
    props = alarm["Properties"]
    assert props["AlarmName"] == "IncidentRunbook-drill-dead-mans-switch"
    assert (props["Namespace"], props["MetricName"]) == ("IncidentRunbook", "DrillsCompleted")
    assert props["Dimensions"] == [{"Name": "service", "Value": "incident-runbook"}]
    assert props["TreatMissingData"] == "breaching"
    assert (props["Period"], props["EvaluationPeriods"], props["DatapointsToAlarm"]) == (
        3600,
        26,
        26,
    )
    assert (props["ComparisonOperator"], props["Threshold"]) == ("LessThanThreshold", 1)
    assert props["ActionsEnabled"] is True
    outputs = scheduled["Outputs"]
    topic = outputs["DeadMansSwitchTopicArn"]["Value"]
    assert props["AlarmActions"] == [topic] and props["OKActions"] == [topic]
    # Its topic is not one of the runbook's, and is subscribed directly.
    runbook_topics = [
        outputs[k]["Value"]
        for k in ("CriticalTopicArn", "HighTopicArn", "NotificationTopicArn", "EscalationTopicArn")
    ]
    assert topic not in runbook_topics
    subscriptions = [
        s["Properties"]
        for s in _of(scheduled, "AWS::SNS::Subscription").values()
        if s["Properties"]["TopicArn"] == topic
    ]
    assert subscriptions == [{"Protocol": "sms", "TopicArn": topic, "Endpoint": "+15555550100"}]


def test_ingest_sets_the_switch_aside_and_the_alarm_rules_drop_nothing(
    scheduled: dict[str, Any],
) -> None:
    """The alarm rules match every alarm event (a malformed one must reach ingest and become
    an error record); ingest is told the runbook's own alarms' prefix and sets them aside."""

    def event(detail: dict[str, Any]) -> dict[str, Any]:
        return {
            "source": "aws.cloudwatch",
            "detail-type": "CloudWatch Alarm State Change",
            "detail": detail,
        }

    alarm_rules = [
        r["Properties"]["EventPattern"]
        for r in _of(scheduled, "AWS::Events::Rule").values()
        if r["Properties"].get("EventPattern", {}).get("source") == ["aws.cloudwatch"]
    ]
    assert len(alarm_rules) == 2
    for pattern in alarm_rules:
        matcher = EventPattern(json.dumps(pattern), pattern)
        state = pattern["detail"]["state"]["value"][0]
        for detail in (
            {"alarmName": "IncidentRunbook-drill-dead-mans-switch", "state": {"value": state}},
            {"alarmName": 7, "state": {"value": state}},
            {"state": {"value": state}},
        ):
            assert matcher.matches_event(event(detail))
    (ingest,) = [
        f
        for f in _of(scheduled, "AWS::Lambda::Function").values()
        if f["Properties"]["Handler"] == "handlers.ingest.lambda_handler"
    ]
    variables = ingest["Properties"]["Environment"]["Variables"]
    assert variables["IGNORED_ALARM_PREFIX"] == "IncidentRunbook-drill-"


def test_paused_creates_the_schedule_disabled_and_the_switch_silent(tmp_path: Path) -> None:
    template = synth_template(
        tmp_path, {"drill": {**SCHEDULED["drill"], "paused": True, "target": "rotation"}}
    )
    ((_, schedule),) = _of(template, "AWS::Scheduler::Schedule").items()
    assert schedule["Properties"]["State"] == "DISABLED"
    assert json.loads(schedule["Properties"]["Target"]["Input"])["target"] == "rotation"
    ((_, alarm),) = _of(template, "AWS::CloudWatch::Alarm").items()
    assert alarm["Properties"]["ActionsEnabled"] is False
    assert template["Outputs"]["DrillTarget"]["Value"] == "rotation"


@pytest.mark.parametrize(
    ("bad", "named"),
    [
        ({"schedule": "every day"}, "drill.schedule"),
        ({"schedule": "at(2026-01-01T00:00:00)"}, "drill.schedule"),
        ({"target": "pager"}, "$.drill.target"),
        ({"deadMansWindowHours": 0}, "$.drill.deadMansWindowHours"),
        ({"deadMansWindowHours": 169}, "$.drill.deadMansWindowHours"),
        ({"sechedule": "rate(1 day)"}, "sechedule"),
    ],
)
def test_bad_drill_settings_name_the_key(bad: dict[str, Any], named: str) -> None:
    with pytest.raises(SettingsError, match=named.replace("$", r"\$")):
        Settings.from_context({"drill": bad})
