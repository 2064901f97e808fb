"""Stopped ECS tasks kept for the diagnostics (stacks/ecs_task_events.py): one rule on the
default bus delivers every STOPPED task event to a log group the stack owns, with retries and a
dead-letter queue; a CloudWatch Logs resource policy lets EventBridge write to that group only;
collect_diagnostics finds it through ECS_EVENTS_LOG_GROUP and may query it. Plain
CloudFormation throughout (no custom resource the local emulator could not run)."""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path
from typing import Any

import pytest
from moto.events.models import EventPattern

from diagnostics.log_groups import ENV_ECS_EVENTS_LOG_GROUP, ecs_events_log_group
from tests.unit.test_events_sources import ECS_TASK_EVENT, ecs_stopped

from .conftest import ACCOUNT, REGION, Synth, synth_template

LOG_GROUP_NAME = "/aws/events/IncidentRunbook/ecs-tasks-stopped"


def _one(synth: Synth, resource_type: str, prefix: str = "EcsTaskEvents") -> tuple[str, Any]:
    (found,) = [
        (logical_id, resource)
        for logical_id, resource in synth.resources(resource_type).items()
        if logical_id.startswith(prefix)
    ]
    return found


def _matches(props: dict[str, Any], event: dict[str, Any]) -> bool:
    pattern = props["EventPattern"]
    return EventPattern(json.dumps(pattern), pattern).matches_event(event)


def test_the_log_group_is_the_stacks_with_retention(synth: Synth) -> None:
    _, group = _one(synth, "AWS::Logs::LogGroup")
    props = group["Properties"]
    assert props["LogGroupName"] == LOG_GROUP_NAME
    assert props["RetentionInDays"] == 30  # logRetentionDays, like every group of the stack
    # Encrypted by CloudWatch Logs like the stack's other groups (docs/security.md).
    assert "KmsKeyId" not in props
    assert group["DeletionPolicy"] == "Delete"


def test_the_retention_follows_the_setting(tmp_path: Path) -> None:
    template = synth_template(tmp_path, {"logRetentionDays": 90})
    (group,) = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Logs::LogGroup"
        and r["Properties"].get("LogGroupName") == LOG_GROUP_NAME
    ]
    assert group["RetentionInDays"] == 90


def test_the_rule_takes_every_stopped_task_from_the_default_bus(synth: Synth) -> None:
    _, rule = _one(synth, "AWS::Events::Rule")
    props = rule["Properties"]
    assert props["EventPattern"] == {
        "source": ["aws.ecs"],
        "detail-type": ["ECS Task State Change"],
        "detail": {"lastStatus": ["STOPPED"]},
    }
    assert "EventBusName" not in props
    assert props["State"] == "ENABLED"


@pytest.mark.parametrize(
    ("event", "delivered"),
    [
        (ecs_stopped("TaskFailedToStart", "CannotPullContainerError", None), True),
        (ecs_stopped("EssentialContainerExited", "Essential container in task exited", 137), True),
        # Normal stops too (the ingest rule leaves them out): the query counts every kind.
        (ecs_stopped("ServiceSchedulerInitiated",
                     "Scaling activity initiated by (deployment ecs-svc/1)", 0), True),
        (ecs_stopped("UserInitiated", "Task stopped by user", 143), True),
        (ecs_stopped(group="family:batch"), True),
        (ECS_TASK_EVENT, False),  # RUNNING
    ],
)  # fmt: skip
def test_the_rule_matches_stopped_tasks_only(synth: Synth, event, delivered) -> None:
    _, rule = _one(synth, "AWS::Events::Rule")
    assert _matches(rule["Properties"], event) is delivered


def test_the_target_is_the_log_group_with_retries_and_a_dead_letter_queue(synth: Synth) -> None:
    group_id, _ = _one(synth, "AWS::Logs::LogGroup")
    _, rule = _one(synth, "AWS::Events::Rule")
    (target,) = rule["Properties"]["Targets"]
    # The group's ARN without GetAtt's trailing ":*" (EventBridge does not deliver to that).
    assert target["Arn"] == {
        "Fn::Join": ["", [f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:", {"Ref": group_id}]]
    }
    assert "RoleArn" not in target  # CloudWatch Logs targets use the resource policy
    assert "Input" not in target and "InputTransformer" not in target  # the event as it is
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 7200, "MaximumRetryAttempts": 8}
    queue_id = target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
    queue = synth.template["Resources"][queue_id]
    assert queue["Type"] == "AWS::SQS::Queue"
    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_only_this_rule_may_send_to_its_dead_letter_queue(synth: Synth) -> None:
    rule_id, rule = _one(synth, "AWS::Events::Rule")
    queue_id = rule["Properties"]["Targets"][0]["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
    (policy,) = [
        p["Properties"]["PolicyDocument"]
        for p in synth.resources("AWS::SQS::QueuePolicy").values()
        if p["Properties"]["Queues"] == [{"Ref": queue_id}]
    ]
    (allow,) = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "events.amazonaws.com"}
    assert allow["Action"] == "sqs:SendMessage"
    assert allow["Resource"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    assert allow["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]}}}


def _policy_document(policy: dict[str, Any]) -> tuple[dict[str, Any], list[Any]]:
    """The resource policy's JSON with its one token (the group's ARN) put back as a marker."""
    parts = policy["Properties"]["PolicyDocument"]["Fn::Join"][1]
    tokens = [p for p in parts if not isinstance(p, str)]
    text = "".join(p if isinstance(p, str) else "<TOKEN>" for p in parts)
    return json.loads(text), tokens


def test_eventbridge_may_write_to_this_log_group_only(synth: Synth) -> None:
    group_id, _ = _one(synth, "AWS::Logs::LogGroup")
    policies = synth.resources("AWS::Logs::ResourcePolicy")
    assert len(policies) == 1  # an account has at most 10 per region: the stack takes one
    ((policy_id, policy),) = policies.items()
    assert policy["Properties"]["PolicyName"] == "IncidentRunbook-EcsTaskEventsDelivery"
    document, tokens = _policy_document(policy)
    (statement,) = document["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert sorted(statement["Action"]) == ["logs:CreateLogStream", "logs:PutLogEvents"]
    # GetAtt Arn is `arn:...:log-group:<name>:*`: the group's streams, no other group.
    assert statement["Resource"] == "<TOKEN>"
    assert tokens == [{"Fn::GetAtt": [group_id, "Arn"]}]
    # Delivery begins once the policy is in place.
    _, rule = _one(synth, "AWS::Events::Rule")
    assert policy_id in rule.get("DependsOn", [])


def _collect_diagnostics(synth: Synth) -> dict[str, Any]:
    (function,) = [
        r["Properties"]
        for r in synth.resources("AWS::Lambda::Function").values()
        if r["Properties"]["Handler"] == "handlers.collect_diagnostics.lambda_handler"
    ]
    return function


def test_collect_diagnostics_is_told_the_group_and_may_query_it(synth: Synth) -> None:
    group_id, _ = _one(synth, "AWS::Logs::LogGroup")
    function = _collect_diagnostics(synth)
    assert function["Environment"]["Variables"][ENV_ECS_EVENTS_LOG_GROUP] == {"Ref": group_id}
    role_id = function["Role"]["Fn::GetAtt"][0]
    statements = [
        s
        for p in synth.resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in p["Properties"]["Roles"]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    (query,) = [s for s in statements if "logs:StartQuery" in s["Action"]]
    assert "logs:GetQueryResults" in query["Action"]
    group_arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{LOG_GROUP_NAME}"
    assert fnmatch.fnmatchcase(group_arn, query["Resource"])


def test_the_diagnostics_read_the_name_the_stack_sets(
    synth: Synth, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The emulator and AWS resolve the Ref to the group's name; the functions take it as is.
    monkeypatch.setenv(ENV_ECS_EVENTS_LOG_GROUP, LOG_GROUP_NAME)
    assert ecs_events_log_group() == LOG_GROUP_NAME
    monkeypatch.delenv(ENV_ECS_EVENTS_LOG_GROUP)
    assert ecs_events_log_group() == "/aws/events/ecs"  # deployed before the stack had one
