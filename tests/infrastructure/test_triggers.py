"""The EventBridge rules: one per trigger, each to its function with retries and its own
dead-letter queue; their patterns checked against AWS-documented sample events (with moto's
pattern matcher, which implements the same operators); the ingest function's settings and
permissions."""

from __future__ import annotations

import json
from typing import Any

import pytest
from moto.events.models import EventPattern

from stacks.settings import Settings
from tests.unit.test_events_sources import (
    CODEDEPLOY_EVENT,
    COMPOSITE_ALARM_EVENT,
    ECS_TASK_EVENT,
    HEALTH_EC2_ISSUE,
    HEALTH_EC2_RETIREMENT,
    codedeploy_event,
    ecs_stopped,
    health_event,
)

from .conftest import Synth

EXPECTED = {
    ("aws.cloudwatch", "CloudWatch Alarm State Change", "ALARM"): "ingest",
    ("aws.cloudwatch", "CloudWatch Alarm State Change", "OK"): "recovery",
    ("aws.health", "AWS Health Event", None): "ingest",
    ("aws.ecs", "ECS Task State Change", None): "ingest",
    ("aws.codedeploy", "CodeDeploy Deployment State-change Notification", None): "ingest",
    ("incident-runbook.drill", "Incident Drill", None): "ingest",
}


def _rules(synth: Synth) -> dict[tuple[str, str, str | None], dict[str, Any]]:
    rules = {}
    for resource in synth.resources("AWS::Events::Rule").values():
        props = resource["Properties"]
        if "EventPattern" not in props:
            continue  # the recovery watch's schedule (see _schedules)
        if _is_log_group_target(props["Targets"][0]):
            continue  # stopped ECS tasks to their log group (test_ecs_task_events.py)
        pattern = props["EventPattern"]
        (source,), (detail_type,) = pattern["source"], pattern["detail-type"]
        state = pattern.get("detail", {}).get("state", {})
        alarm_state = state.get("value", [None])[0] if isinstance(state, dict) else None
        rules[(source, detail_type, alarm_state)] = props
    return rules


def _is_log_group_target(target: dict[str, Any]) -> bool:
    return ":logs:" in json.dumps(target["Arn"])


def _matches(props: dict[str, Any], event: dict[str, Any]) -> bool:
    pattern = props["EventPattern"]
    return EventPattern(json.dumps(pattern), pattern).matches_event(event)


def test_one_rule_per_trigger_to_the_right_function(synth: Synth) -> None:
    rules = _rules(synth)
    assert set(rules) == set(EXPECTED)
    for key, step in EXPECTED.items():
        (target,) = rules[key]["Targets"]
        function = synth.template["Resources"][target["Arn"]["Fn::GetAtt"][0]]
        assert function["Properties"]["Handler"] == f"handlers.{step}.lambda_handler"
        assert "EventBusName" not in rules[key]  # the default bus
        assert rules[key]["State"] == "ENABLED"


@pytest.mark.parametrize("key", list(EXPECTED))
def test_every_rule_retries_and_dead_letters(synth: Synth, key) -> None:
    (target,) = _rules(synth)[key]["Targets"]
    queue = synth.template["Resources"][target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]]
    assert queue["Type"] == "AWS::SQS::Queue"
    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 7200, "MaximumRetryAttempts": 8}


def test_alarm_rule_takes_metric_and_composite_alarms(synth: Synth, alarm_event) -> None:
    rule = _rules(synth)[("aws.cloudwatch", "CloudWatch Alarm State Change", "ALARM")]
    assert _matches(rule, alarm_event())
    assert _matches(rule, COMPOSITE_ALARM_EVENT)
    assert not _matches(rule, alarm_event(state="OK"))


def test_health_rule_takes_issues_and_scheduled_changes(synth: Synth) -> None:
    rule = _rules(synth)[("aws.health", "AWS Health Event", None)]
    assert rule["EventPattern"]["detail"] == {"eventTypeCategory": ["issue", "scheduledChange"]}
    assert _matches(rule, HEALTH_EC2_ISSUE)
    assert _matches(rule, HEALTH_EC2_RETIREMENT)
    assert _matches(rule, health_event(statusCode="closed"))  # closes the stored item
    assert not _matches(rule, health_event(eventTypeCategory="accountNotification"))


@pytest.mark.parametrize(
    ("event", "delivered"),
    [
        (ecs_stopped("TaskFailedToStart", "CannotPullContainerError", None), True),
        (ecs_stopped("SpotInterruption", "Your Spot Task was interrupted.", 143), True),
        (ecs_stopped("ServiceSchedulerInitiated", "Task failed ELB health checks in (tg)", 143),
         True),
        (ecs_stopped("ServiceSchedulerInitiated",
                     "Scaling activity initiated by (deployment ecs-svc/1)", 0), False),
        (ecs_stopped("UserInitiated", "Task stopped by user", 143), False),
        (ECS_TASK_EVENT, False),  # RUNNING
    ],
)  # fmt: skip
def test_ecs_rule_takes_only_abnormal_stops(synth: Synth, event, delivered) -> None:
    rule = _rules(synth)[("aws.ecs", "ECS Task State Change", None)]
    assert _matches(rule, event) is delivered


def test_ecs_rule_takes_essential_containers_exiting_non_zero(synth: Synth) -> None:
    detail = _rules(synth)[("aws.ecs", "ECS Task State Change", None)]["EventPattern"]["detail"]
    assert detail["lastStatus"] == ["STOPPED"]
    # EventBridge matches fields inside arrays of objects (containers[].exitCode); moto's
    # matcher does not, so this branch is checked by shape (ingest re-checks every event).
    assert {
        "stopCode": ["EssentialContainerExited"],
        "containers": {"exitCode": [{"anything-but": [0]}]},
    } in detail["$or"]


def test_codedeploy_rule_takes_failures(synth: Synth) -> None:
    rule = _rules(synth)[
        ("aws.codedeploy", "CodeDeploy Deployment State-change Notification", None)
    ]
    assert _matches(rule, codedeploy_event("FAILURE"))
    assert not _matches(rule, CODEDEPLOY_EVENT)  # the documented SUCCESS


def _ingest(synth: Synth) -> dict[str, Any]:
    (function,) = [
        r["Properties"]
        for r in synth.resources("AWS::Lambda::Function").values()
        if r["Properties"]["Handler"] == "handlers.ingest.lambda_handler"
    ]
    return function


def test_ingest_reads_the_ingest_and_severity_policies(synth: Synth) -> None:
    env = _ingest(synth)["Environment"]["Variables"]
    assert json.loads(env["INGEST_POLICY"]) == {
        "correlationWindowMinutes": 5,
        "reopenWindowMinutes": 30,
        "foldByResource": True,
    }
    policy = json.loads(env["SEVERITY_POLICY"])
    assert policy == json.loads(Settings().severity_policy_json())
    assert policy["sourceSeverity"]["aws.health/issue"] == "high"


def test_ingest_reads_alarm_tags_of_this_account_only(synth: Synth) -> None:
    role_id = _ingest(synth)["Role"]["Fn::GetAtt"][0]
    statements = [
        s
        for p in synth.resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in p["Properties"]["Roles"]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    (tags,) = [s for s in statements if s["Action"] == "cloudwatch:ListTagsForResource"]
    assert tags["Resource"] == "arn:aws:cloudwatch:us-east-1:123456789012:alarm:*"


@pytest.mark.parametrize("step", ["ingest", "recovery"])
def test_failed_async_invocations_are_kept_not_discarded(synth: Synth, step) -> None:
    functions = {
        logical_id: r["Properties"]["Handler"]
        for logical_id, r in synth.resources("AWS::Lambda::Function").items()
    }
    (config,) = [
        r["Properties"]
        for r in synth.resources("AWS::Lambda::EventInvokeConfig").values()
        if functions[r["Properties"]["FunctionName"]["Ref"]] == f"handlers.{step}.lambda_handler"
    ]
    assert config["MaximumRetryAttempts"] == 2
    assert config["Qualifier"] == "$LATEST"
    queue_id = config["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
    queue = synth.template["Resources"][queue_id]
    assert queue["Type"] == "AWS::SQS::Queue"
    assert queue["Properties"]["SqsManagedSseEnabled"] is True


def _schedules(synth: Synth) -> dict[str, dict[str, Any]]:
    return {
        logical_id: r["Properties"]
        for logical_id, r in synth.resources("AWS::Events::Rule").items()
        if "ScheduleExpression" in r["Properties"]
    }


def _handler(synth: Synth, function_ref: dict[str, Any]) -> str:
    logical_id = function_ref["Fn::GetAtt"][0] if "Fn::GetAtt" in function_ref else None
    if logical_id is None:
        logical_id = function_ref["Ref"]
    return str(synth.template["Resources"][logical_id]["Properties"]["Handler"])


def test_every_rule_is_an_event_pattern_or_the_one_schedule(synth: Synth) -> None:
    rules = synth.resources("AWS::Events::Rule")
    # One per trigger, the schedule, and the ECS task events' rule to its log group.
    assert len(rules) == len(EXPECTED) + 2
    assert len(_schedules(synth)) == 1
    for props in rules.values():
        assert ("EventPattern" in props["Properties"]) != (
            "ScheduleExpression" in props["Properties"]
        )


def test_the_schedule_runs_the_recovery_watch_every_minute_without_retries(synth: Synth) -> None:
    ((rule_id, rule),) = _schedules(synth).items()
    assert rule["ScheduleExpression"] == "rate(1 minute)"
    assert rule["State"] == "ENABLED"
    assert "EventBusName" not in rule  # schedules run on the default bus
    (target,) = rule["Targets"]
    assert _handler(synth, target["Arn"]) == "handlers.recovery_watch.lambda_handler"
    # A missed tick is repaired by the next one: no retries, no stale ticks, no DLQ to drain.
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 60, "MaximumRetryAttempts": 0}
    assert "DeadLetterConfig" not in target
    assert "Input" not in target  # the handler receives the Scheduled Event itself
    # EventBridge may invoke the function, from this rule only.
    (permission,) = [
        p["Properties"]
        for p in synth.resources("AWS::Lambda::Permission").values()
        if p["Properties"].get("SourceArn") == {"Fn::GetAtt": [rule_id, "Arn"]}
    ]
    assert permission["Principal"] == "events.amazonaws.com"
    assert permission["Action"] == "lambda:InvokeFunction"
    assert _handler(synth, permission["FunctionName"]) == "handlers.recovery_watch.lambda_handler"


def test_the_watch_is_the_only_function_on_a_schedule(synth: Synth) -> None:
    scheduled = {
        _handler(synth, target["Arn"])
        for rule in _schedules(synth).values()
        for target in rule["Targets"]
    }
    assert scheduled == {"handlers.recovery_watch.lambda_handler"}
    for rule in _rules(synth).values():
        for target in rule["Targets"]:
            assert _handler(synth, target["Arn"]) != "handlers.recovery_watch.lambda_handler"


def test_recovery_watch_async_invocations_are_not_retried(synth: Synth) -> None:
    functions = {
        logical_id: r["Properties"]["Handler"]
        for logical_id, r in synth.resources("AWS::Lambda::Function").items()
    }
    (config,) = [
        r["Properties"]
        for r in synth.resources("AWS::Lambda::EventInvokeConfig").values()
        if functions[r["Properties"]["FunctionName"]["Ref"]]
        == "handlers.recovery_watch.lambda_handler"
    ]
    assert config["MaximumRetryAttempts"] == 0
    assert config["MaximumEventAgeInSeconds"] == 60
    assert config["Qualifier"] == "$LATEST"
