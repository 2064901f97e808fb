"""Least privilege: a walk over every policy document in the template."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from stacks.functions import STEPS
from stacks.incident_runbook_stack import STEP_SUBSTITUTIONS

from .conftest import Synth

# Actions documented (Service Authorization Reference) as having no resource-level permissions,
# so IAM requires Resource "*". Anything else with Resource "*" fails the walk.
RESOURCE_STAR_ALLOWED = {
    # X-Ray writes from Lambda/Step Functions tracing, and sampling reads.
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    # Step Functions log delivery to CloudWatch Logs (vended logs).
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
    # Diagnostics reads (stacks/diagnostics_access.py, RESOURCE_STAR_READ_ACTIONS).
    "cloudwatch:GetMetricData",
    "logs:StopQuery",
    "xray:GetTraceSummaries",
    "xray:BatchGetTraces",
    "xray:GetServiceGraph",
    "ec2:DescribeInstanceStatus",
    "ec2:DescribeInstances",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeNetworkAcls",
    "ec2:DescribeSubnets",
    "ec2:DescribeRouteTables",
    "ec2:DescribeNatGateways",
    "ec2:DescribeVpcEndpoints",
    "ec2:DescribeFlowLogs",
    "ecs:DescribeTaskDefinition",
    "elasticloadbalancing:DescribeLoadBalancers",
    "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTargetHealth",
    "codedeploy:ListDeploymentTargets",
    "codedeploy:BatchGetDeploymentTargets",
    "health:DescribeEvents",
    # Its only resource type (container-instance) is absent when listing by cluster: "*" with
    # an ecs:cluster condition (stacks/diagnostics_access.py).
    "ecs:ListTasks",
    # The postmortem's metric graph (stacks/postmortem_access.py).
    "cloudwatch:GetMetricWidgetImage",
    # The incident's OpsItem does not exist before CreateOpsItem (stacks/incident_runbook_stack.py).
    "ssm:CreateOpsItem",
}

POLICY_TYPES = {
    "AWS::IAM::Policy": ["PolicyDocument"],
    "AWS::IAM::ManagedPolicy": ["PolicyDocument"],
    "AWS::S3::BucketPolicy": ["PolicyDocument"],
    "AWS::SNS::TopicPolicy": ["PolicyDocument"],
    "AWS::SQS::QueuePolicy": ["PolicyDocument"],
    "AWS::KMS::Key": ["KeyPolicy"],
}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _statements(synth: Synth) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for logical_id, resource in synth.template["Resources"].items():
        props = resource.get("Properties", {})
        documents = [props[key] for key in POLICY_TYPES.get(resource["Type"], []) if key in props]
        if resource["Type"] == "AWS::IAM::Role":
            documents += [p["PolicyDocument"] for p in props.get("Policies", [])]
        for document in documents:
            for statement in document["Statement"]:
                yield logical_id, resource["Type"], statement


def _is_key_admin_delegation(resource_type: str, statement: dict[str, Any]) -> bool:
    """KMS's default key policy statement: the account root, which delegates to IAM policies."""
    principal = statement.get("Principal", {}).get("AWS", "")
    return resource_type == "AWS::KMS::Key" and str(principal).endswith(":root")


def test_the_walk_sees_the_policies(synth: Synth) -> None:
    kinds = {kind for _, kind, _ in _statements(synth)}
    assert {"AWS::IAM::Policy", "AWS::S3::BucketPolicy", "AWS::SNS::TopicPolicy"} <= kinds


def test_no_wildcard_or_service_wide_actions(synth: Synth) -> None:
    offenders = []
    for logical_id, kind, statement in _statements(synth):
        if statement["Effect"] != "Allow" or _is_key_admin_delegation(kind, statement):
            continue
        for action in _as_list(statement.get("Action", [])):
            if action == "*" or action.endswith(":*"):
                offenders.append((logical_id, action))
    assert offenders == []


def test_resource_star_only_for_actions_without_resource_level_permissions(synth: Synth) -> None:
    offenders = []
    for logical_id, kind, statement in _statements(synth):
        if statement["Effect"] != "Allow" or _is_key_admin_delegation(kind, statement):
            continue
        if "*" in _as_list(statement.get("Resource", [])):
            offenders += [
                (logical_id, action)
                for action in _as_list(statement["Action"])
                if action not in RESOURCE_STAR_ALLOWED
            ]
    assert offenders == []


def test_no_managed_policies_on_roles(synth: Synth) -> None:
    for logical_id, role in synth.resources("AWS::IAM::Role").items():
        assert not role["Properties"].get("ManagedPolicyArns"), logical_id


def _role_statements(synth: Synth, handler_step: str) -> list[dict[str, Any]]:
    (function,) = [
        f
        for f in synth.resources("AWS::Lambda::Function").values()
        if f["Properties"]["Handler"] == f"handlers.{handler_step}.lambda_handler"
    ]
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = []
    for policy in synth.resources("AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def _actions(statements: list[dict[str, Any]]) -> set[str]:
    return {a for s in statements for a in _as_list(s["Action"])}


STATE_MACHINE_ARN_SUFFIX = ":stateMachine:IncidentRunbook-incident-response"


# Who may resume a waiting execution: the monitor (already OK), the OK-alarm rule's function,
# the watch (missed recoveries) and, once it is part of the stack, Slack's Resolve button.
TOKEN_SENDERS = tuple(
    step
    for step in ("monitor_recovery", "recovery", "recovery_watch", "slack_actions", "remediate")
    if step in STEPS
)


@pytest.mark.parametrize("step", TOKEN_SENDERS)
def test_task_token_senders_are_scoped_to_this_state_machine(synth: Synth, step: str) -> None:
    statements = [
        s
        for s in _role_statements(synth, step)
        if "states:SendTaskSuccess" in _as_list(s["Action"])
    ]
    assert len(statements) == 1
    (resource,) = _as_list(statements[0]["Resource"])
    assert isinstance(resource, str)
    assert resource == f"arn:aws:states:us-east-1:123456789012{STATE_MACHINE_ARN_SUFFIX}"


def test_only_the_recovery_watch_sends_heartbeats_on_this_state_machine(synth: Synth) -> None:
    (statement,) = [
        s
        for s in _role_statements(synth, "recovery_watch")
        if "states:SendTaskHeartbeat" in _as_list(s["Action"])
    ]
    assert statement["Resource"] == (
        f"arn:aws:states:us-east-1:123456789012{STATE_MACHINE_ARN_SUFFIX}"
    )
    # The watch may only heartbeat and resume tokens: no failing, stopping or starting runs.
    states_actions = {
        a for a in _actions(_role_statements(synth, "recovery_watch")) if a.startswith("states:")
    }
    assert states_actions == {"states:SendTaskHeartbeat", "states:SendTaskSuccess"}
    for step in set(STEPS) - {"recovery_watch"}:
        assert "states:SendTaskHeartbeat" not in _actions(_role_statements(synth, step)), step


def test_no_other_step_resumes_or_fails_tokens(synth: Synth) -> None:
    for step in set(STEPS) - set(TOKEN_SENDERS):
        actions = _actions(_role_statements(synth, step))
        assert not {"states:SendTaskSuccess", "states:SendTaskFailure"} & actions, step
    for step in TOKEN_SENDERS:
        assert "states:SendTaskFailure" not in _actions(_role_statements(synth, step)), step


def test_only_ingest_starts_executions(synth: Synth) -> None:
    for step in set(STEPS) - {"ingest"}:
        assert "states:StartExecution" not in _actions(_role_statements(synth, step)), step
    (statement,) = [
        s
        for s in _role_statements(synth, "ingest")
        if "states:StartExecution" in _as_list(s["Action"])
    ]
    logical_id = statement["Resource"]["Ref"]
    assert synth.template["Resources"][logical_id]["Type"] == "AWS::StepFunctions::StateMachine"


def test_postmortem_reads_only_this_state_machines_executions(synth: Synth) -> None:
    (statement,) = [
        s
        for s in _role_statements(synth, "create_postmortem")
        if "states:GetExecutionHistory" in _as_list(s["Action"])
    ]
    assert statement["Resource"].endswith(":execution:IncidentRunbook-incident-response:*")


def test_collect_diagnostics_queries_health_events_and_updates_one_incident(
    synth: Synth,
) -> None:
    statements = [
        s
        for s in _role_statements(synth, "collect_diagnostics")
        if any(a.startswith("dynamodb:") for a in _as_list(s["Action"]))
    ]
    (query,) = [s for s in statements if "dynamodb:Query" in _as_list(s["Action"])]
    assert query["Action"] == "dynamodb:Query"
    join = query["Resource"]["Fn::Join"][1]
    assert join[-1] == "/index/by_status"
    # The verdict goes on the incident record: one item at a time, on the table itself.
    (items,) = [s for s in statements if s is not query]
    assert sorted(_as_list(items["Action"])) == ["dynamodb:GetItem", "dynamodb:UpdateItem"]
    (table_id,) = [t for t in synth.resources("AWS::DynamoDB::Table") if "IncidentTable" in t]
    assert items["Resource"] == {"Fn::GetAtt": [table_id, "Arn"]}
    actions = _actions(statements)
    assert not actions & {"dynamodb:Scan", "dynamodb:PutItem", "dynamodb:DeleteItem"}
    assert not any(a.startswith("dynamodb:Batch") for a in actions)


def test_no_slack_secret_access_when_slack_is_not_configured(synth: Synth) -> None:
    assert not any(
        a.startswith("secretsmanager:")
        for _, _, s in _statements(synth)
        for a in _as_list(s.get("Action", []))
    )


def test_state_machine_invokes_exactly_the_workflow_step_functions(synth: Synth) -> None:
    (role_id,) = [
        r["Properties"]["RoleArn"]["Fn::GetAtt"][0]
        for r in synth.resources("AWS::StepFunctions::StateMachine").values()
    ]
    statements = []
    for policy in synth.resources("AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    invoked = set()
    for statement in statements:
        if "lambda:InvokeFunction" in _as_list(statement["Action"]):
            for resource in _as_list(statement["Resource"]):
                target = resource["Fn::GetAtt"][0] if "Fn::GetAtt" in resource else None
                if target is None:  # <arn>:* (versions and aliases)
                    target = resource["Fn::Join"][1][0]["Fn::GetAtt"][0]
                invoked.add(synth.template["Resources"][target]["Properties"]["Handler"])
    assert invoked == {f"handlers.{step}.lambda_handler" for step in STEP_SUBSTITUTIONS.values()}
    # Triggered steps are not the workflow's to call.
    for step in ("ingest", "recovery", "recovery_watch"):
        assert f"handlers.{step}.lambda_handler" not in invoked
    published = {
        r["Ref"]
        for s in statements
        if "sns:Publish" in _as_list(s["Action"])
        for r in _as_list(s["Resource"])
    }
    assert published == set(synth.resources("AWS::SNS::Topic"))


def test_classify_reads_alarm_tags_of_this_account_only(synth: Synth) -> None:
    (statement,) = [
        s
        for s in _role_statements(synth, "classify")
        if "cloudwatch:ListTagsForResource" in _as_list(s["Action"])
    ]
    assert statement["Resource"] == "arn:aws:cloudwatch:us-east-1:123456789012:alarm:*"


def test_diagnostics_query_only_this_accounts_log_groups(synth: Synth) -> None:
    (statement,) = [
        s
        for s in _role_statements(synth, "collect_diagnostics")
        if "logs:StartQuery" in _as_list(s["Action"])
    ]
    assert statement["Resource"] == "arn:aws:logs:us-east-1:123456789012:log-group:*"


def test_steps_write_artifacts_only_under_incidents(synth: Synth) -> None:
    for step in ("collect_diagnostics", "create_postmortem"):
        (statement,) = [
            s for s in _role_statements(synth, step) if "s3:PutObject" in _as_list(s["Action"])
        ]
        join = statement["Resource"]["Fn::Join"][1]
        assert join[-1] == "/incidents/*"
    readers = {"classify", "create_channel", "engage", "escalate"}
    # remediate reads its rules' object and the evidence (test_remediation_access.py).
    for step in set(STEPS) - {"collect_diagnostics", "create_postmortem", "remediate"}:
        statements = _role_statements(synth, step)
        s3 = [s for s in statements if any(a.startswith("s3:") for a in _as_list(s["Action"]))]
        if step not in readers:
            assert not s3, step
            continue
        # The response declaration: GetObject on its one object in the asset bucket.
        (read,) = s3
        assert read["Action"] == "s3:GetObject", step
        resource = read["Resource"]
        assert isinstance(resource, str) and ":s3:::cdk-" in resource, step
        assert resource.endswith(".json") and "*" not in resource, step


def _topic(synth: Synth, output: str) -> str:
    return str(synth.template["Outputs"][output]["Value"]["Ref"])


def _published(synth: Synth, step: str) -> set[str]:
    return {
        resource["Ref"]
        for statement in _role_statements(synth, step)
        if "sns:Publish" in _as_list(statement["Action"])
        for resource in _as_list(statement["Resource"])
    }


def test_escalate_publishes_to_the_escalation_topic_only(synth: Synth) -> None:
    (statement,) = [
        s for s in _role_statements(synth, "escalate") if "sns:Publish" in _as_list(s["Action"])
    ]
    assert _as_list(statement["Action"]) == ["sns:Publish"]
    assert statement["Resource"] == {"Ref": _topic(synth, "EscalationTopicArn")}
    # ... and may use the topics' key to do so (SNS encrypts with it on the publisher's behalf).
    (key_id,) = synth.resources("AWS::KMS::Key")
    key_actions = {
        a
        for s in _role_statements(synth, "escalate")
        if s["Resource"] == {"Fn::GetAtt": [key_id, "Arn"]}
        for a in _as_list(s["Action"])
    }
    assert {"kms:Decrypt", "kms:GenerateDataKey*"} <= key_actions


def test_lambda_steps_never_page_the_severity_topics(synth: Synth) -> None:
    """Pages go out from the state machine; of the steps, escalate pages the escalation topic,
    ingest pages an incident a joining signal raised to critical or high, and
    create_postmortem announces on the notification topic, remediate pages a proposal that
    waits for a person on the critical or high topic; nothing else publishes."""
    publishers = {step: _published(synth, step) for step in STEPS}
    assert publishers.pop("escalate") == {_topic(synth, "EscalationTopicArn")}
    paging = {_topic(synth, "CriticalTopicArn"), _topic(synth, "HighTopicArn")}
    assert publishers.pop("ingest") == paging
    assert publishers.pop("remediate") == paging
    assert publishers.pop("create_postmortem") == {_topic(synth, "NotificationTopicArn")}
    assert {step: topics for step, topics in publishers.items() if topics} == {}


@pytest.mark.parametrize("step", ["recovery", "check_stability", "recovery_watch"])
def test_alarm_readers_describe_this_accounts_alarms_only(synth: Synth, step: str) -> None:
    statements = [
        s
        for s in _role_statements(synth, step)
        if "cloudwatch:DescribeAlarms" in _as_list(s["Action"])
    ]
    (statement,) = statements
    assert _as_list(statement["Action"]) == ["cloudwatch:DescribeAlarms"]
    assert statement["Resource"] == "arn:aws:cloudwatch:us-east-1:123456789012:alarm:*"
    assert not any(
        a.startswith("cloudwatch:") and a != "cloudwatch:DescribeAlarms"
        for a in _actions(_role_statements(synth, step))
    )


def _with_statement(synth: Synth, statement: dict[str, Any]) -> Any:
    """A copy of the synthesised template with ``statement`` added to one step's policy."""
    template = copy.deepcopy(synth.template)
    policy = next(r for r in template["Resources"].values() if r["Type"] == "AWS::IAM::Policy")
    policy["Properties"]["PolicyDocument"]["Statement"].append(statement)
    return SimpleNamespace(template=template)


@pytest.mark.parametrize("action", ["*", "sns:*"])
def test_the_walk_fails_on_a_wildcard_action(synth: Synth, action: str) -> None:
    bad = _with_statement(synth, {"Effect": "Allow", "Action": action, "Resource": "arn:x"})
    with pytest.raises(AssertionError, match=re.escape(action)):
        test_no_wildcard_or_service_wide_actions(bad)


def test_the_walk_fails_on_an_unlisted_resource_star(synth: Synth) -> None:
    bad = _with_statement(
        synth,
        {"Effect": "Allow", "Action": ["sns:Publish", "xray:GetSamplingRules"], "Resource": "*"},
    )
    with pytest.raises(AssertionError, match="sns:Publish"):
        test_resource_star_only_for_actions_without_resource_level_permissions(bad)
    # A listed action alone passes, and a Deny with Resource * is not a grant.
    test_resource_star_only_for_actions_without_resource_level_permissions(
        _with_statement(
            synth, {"Effect": "Allow", "Action": "xray:GetSamplingRules", "Resource": "*"}
        )
    )
    test_resource_star_only_for_actions_without_resource_level_permissions(
        _with_statement(synth, {"Effect": "Deny", "Action": "sns:Publish", "Resource": "*"})
    )
