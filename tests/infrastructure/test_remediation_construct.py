"""The remediation construct (stacks/remediation.py), synthesised alone in a test stack with
cdk-nag on: an automation role only SSM Automation of this account may assume, with exactly the
actions of the runbooks the rules run (no wildcard action, "*" resources only where IAM has no
resource-level permissions), the team's documents deployed as AWS::SSM::Document, and a grantee
that may start exactly those documents and pass exactly that role to SSM."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from aws_cdk import App, Environment, Stack, Validations
from aws_cdk import aws_iam as iam
from cdk_nag import AwsSolutionsChecks

from remediation.rules import load_section
from stacks import nag
from stacks.application import CDK_JSON, cdk_json_context
from stacks.remediation import ENV_AUTOMATION_ROLE, RemediationAutomation

from .conftest import ACCOUNT, ACK_METADATA, REGION

STACK = "RemediationTest"
ORDERS_DOCUMENT = {
    "schemaVersion": "0.3",
    "description": "Force a new deployment of an ECS service",
    "assumeRole": "{{ AutomationAssumeRole }}",
    "parameters": {
        "AutomationAssumeRole": {"type": "String", "default": ""},
        "Cluster": {"type": "String"},
        "Service": {"type": "String"},
    },
    "mainSteps": [
        {
            "name": "ForceNewDeployment",
            "action": "aws:executeAwsApi",
            "inputs": {
                "Service": "ecs",
                "Api": "UpdateService",
                "cluster": "{{ Cluster }}",
                "service": "{{ Service }}",
                "forceNewDeployment": True,
            },
        }
    ],
}
ORDERS_SERVICE_ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/orders/orders-api"
SECTION: dict[str, Any] = {
    "documents": {
        "restart-orders": {
            "file": "remediation/restart-orders.yaml",
            "resourceType": "AWS::ECS::Service",
            "permissions": [
                {"actions": ["ecs:UpdateService"], "resources": [ORDERS_SERVICE_ARN]},
            ],
        }
    },
    "rules": [
        {
            "id": "ec2-system-status",
            "match": {"domain": "aws", "cause": "ec2.system_status_*"},
            "document": "AWS-RestartEC2Instance",
            "parameters": {"InstanceId": ["{resource.id}"]},
        },
        {
            "id": "rds-stopped",
            "match": {"cause": "rds.stopped"},
            "document": "AWS-StartRdsInstance",
            "parameters": {"InstanceId": "{resource.id}"},
        },
        {
            "id": "orders-restart",
            "match": {"alarmName": "^orders-", "severity": ["critical", "high"]},
            "document": "restart-orders",
            "parameters": {"Cluster": "orders", "Service": "orders-api"},
        },
    ],
}


def _read(relative: str) -> Any:
    assert relative == "remediation/restart-orders.yaml"
    return ORDERS_DOCUMENT


def _build(outdir: Path, section: dict[str, Any]) -> tuple[App, RemediationAutomation]:
    # cdk.json's feature flags, as the real app has them (partition literals, minimised policies).
    app = App(outdir=str(outdir), context=cdk_json_context(CDK_JSON))
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    stack = Stack(app, STACK, env=Environment(account=ACCOUNT, region=REGION))
    loaded = load_section(section, _read, prefix=STACK)
    automation = RemediationAutomation(stack, "Remediation", section=loaded)
    caller = iam.Role(
        stack,
        "Caller",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description="Stands in for the function that runs the remediations.",
    )
    automation.grant_run(caller, caller)
    return app, automation


def _synth(outdir: Path, section: dict[str, Any]) -> dict[str, Any]:
    app, _ = _build(outdir, section)
    app.synth()  # raises ValidationFailed on any unacknowledged cdk-nag finding
    return {
        "template": json.loads((outdir / f"{STACK}.template.json").read_text()),
        "metadata": json.loads((outdir / f"{STACK}.metadata.json").read_text()),
    }


@pytest.fixture(scope="module")
def synthesised(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _synth(tmp_path_factory.mktemp("remediation"), SECTION)


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _statements(template: dict[str, Any], role_prefix: str) -> list[dict[str, Any]]:
    found = []
    for policy in _resources(template, "AWS::IAM::Policy").values():
        roles = [r["Ref"] for r in policy["Properties"]["Roles"]]
        if any(r.startswith(role_prefix) for r in roles):
            found += policy["Properties"]["PolicyDocument"]["Statement"]
    return found


def _by_action(statements: list[dict[str, Any]]) -> dict[str, list[Any]]:
    grants: dict[str, list[Any]] = {}
    for statement in statements:
        for action in _as_list(statement["Action"]):
            grants.setdefault(action, []).extend(_as_list(statement["Resource"]))
    return grants


def _text(value: Any) -> str:
    """An ARN as text, whether literal or an Fn::Join of the stack's pseudo parameters."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        return "".join(_text(v) for v in value["Fn::Join"][1])
    if isinstance(value, dict) and "Ref" in value:
        return "${" + value["Ref"] + "}"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return "${" + ".".join(value["Fn::GetAtt"]) + "}"
    raise AssertionError(f"unexpected ARN shape {value!r}")


def test_only_ssm_automation_of_this_account_may_assume_the_role(synthesised) -> None:
    roles = _resources(synthesised["template"], "AWS::IAM::Role")
    (role,) = [r for k, r in roles.items() if k.startswith("RemediationRole")]
    (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "ssm.amazonaws.com"}
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT}
    source = _text(statement["Condition"]["ArnLike"]["aws:SourceArn"])
    assert source.endswith(f":ssm:*:{ACCOUNT}:automation-execution/*")
    assert not role["Properties"].get("ManagedPolicyArns")


def test_the_role_has_exactly_the_runbooks_actions(synthesised) -> None:
    grants = _by_action(_statements(synthesised["template"], "RemediationRole"))
    resources = {action: sorted(_text(r) for r in rs) for action, rs in grants.items()}
    instances = f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/*"
    databases = f"arn:aws:rds:{REGION}:{ACCOUNT}:db:*"
    assert resources == {
        # AWS-RestartEC2Instance: stop, start, and the status the start waits on.
        "ec2:StopInstances": [instances],
        "ec2:StartInstances": [instances],
        "ec2:DescribeInstanceStatus": ["*"],
        # AWS-StartRdsInstance.
        "rds:StartDBInstance": [databases],
        "rds:DescribeDBInstances": [databases],
        # The team's document, as it declared.
        "ecs:UpdateService": [ORDERS_SERVICE_ARN],
    }


def test_no_wildcard_action_and_star_resources_only_without_resource_level_permissions(
    synthesised,
) -> None:
    for statement in [
        s
        for p in _resources(synthesised["template"], "AWS::IAM::Policy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]:
        actions = _as_list(statement["Action"])
        assert not any("*" in a for a in actions), statement
        if "*" in _as_list(statement["Resource"]):
            assert actions == ["ec2:DescribeInstanceStatus"], statement


def test_unused_runbooks_grant_nothing(tmp_path: Path) -> None:
    only_ec2 = {"rules": [SECTION["rules"][0]]}
    template = _synth(tmp_path, only_ec2)["template"]
    actions = set(_by_action(_statements(template, "RemediationRole")))
    assert actions == {"ec2:StopInstances", "ec2:StartInstances", "ec2:DescribeInstanceStatus"}
    assert _resources(template, "AWS::SSM::Document") == {}
    start = _by_action(_statements(template, "Caller"))["ssm:StartAutomationExecution"]
    assert not any("RebootRds" in _text(r) or "restart-orders" in _text(r) for r in start)


def test_the_teams_document_is_deployed_as_its_own_runbook(synthesised) -> None:
    (document,) = _resources(synthesised["template"], "AWS::SSM::Document").values()
    props = document["Properties"]
    assert props["Name"] == f"{STACK}-restart-orders"
    assert props["DocumentType"] == "Automation"
    assert props["DocumentFormat"] == "JSON"
    assert props["UpdateMethod"] == "NewVersion"
    assert props["TargetType"] == "/AWS::ECS::Service"
    assert props["Content"]["assumeRole"] == "{{ AutomationAssumeRole }}"
    assert props["Content"]["mainSteps"][0]["name"] == "ForceNewDeployment"


def test_the_caller_may_start_exactly_the_rules_documents(synthesised) -> None:
    grants = _by_action(_statements(synthesised["template"], "Caller"))
    start = sorted(_text(r) for r in grants["ssm:StartAutomationExecution"])
    executions = f"arn:aws:ssm:{REGION}:{ACCOUNT}:automation-execution/*"
    assert start == sorted(
        [
            f"arn:aws:ssm:{REGION}:*:document/AWS-RestartEC2Instance",
            f"arn:aws:ssm:{REGION}:*:automation-definition/AWS-RestartEC2Instance:*",
            f"arn:aws:ssm:{REGION}:*:document/AWS-StartRdsInstance",
            f"arn:aws:ssm:{REGION}:*:automation-definition/AWS-StartRdsInstance:*",
            f"arn:aws:ssm:{REGION}:{ACCOUNT}:document/{STACK}-restart-orders",
            f"arn:aws:ssm:{REGION}:{ACCOUNT}:automation-definition/{STACK}-restart-orders:*",
            executions,
        ]
    )
    for action in (
        "ssm:GetAutomationExecution",
        "ssm:DescribeAutomationStepExecutions",
        "ssm:StopAutomationExecution",
    ):
        assert [_text(r) for r in grants[action]] == [executions]


def test_the_caller_may_pass_only_the_automation_role_and_only_to_ssm(synthesised) -> None:
    statements = _statements(synthesised["template"], "Caller")
    (passing,) = [s for s in statements if "iam:PassRole" in _as_list(s["Action"])]
    assert _as_list(passing["Action"]) == ["iam:PassRole"]
    (resource,) = _as_list(passing["Resource"])
    assert resource["Fn::GetAtt"][0].startswith("RemediationRole")
    assert passing["Condition"] == {"StringEquals": {"iam:PassedToService": "ssm.amazonaws.com"}}


def test_the_functions_get_the_role_arn(tmp_path: Path) -> None:
    _app, automation = _build(tmp_path, SECTION)
    stack = Stack.of(automation)
    env = {k: stack.resolve(v) for k, v in automation.environment().items()}
    assert list(env) == [ENV_AUTOMATION_ROLE]
    assert env[ENV_AUTOMATION_ROLE]["Fn::GetAtt"][1] == "Arn"


def _acknowledged(metadata: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [
        (path.lstrip("/"), rule.removeprefix("Annotation::"), reason)
        for path, entries in metadata.items()
        for entry in entries
        if entry["type"] == ACK_METADATA
        for rule, reason in entry["data"].items()
    ]


def test_every_wildcard_is_acknowledged_with_a_reason_and_none_is_stale(
    synthesised, tmp_path: Path
) -> None:
    with mock.patch.object(nag, "_record", lambda construct, acknowledgment: None):
        app, _ = _build(tmp_path, SECTION)
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    raw = {
        (violation["ruleName"], construct["constructPath"])
        for plugin in report["pluginReports"]
        for violation in plugin["violations"]
        for construct in violation["violatingConstructs"]
    }
    acknowledged = _acknowledged(synthesised["metadata"])
    assert {rule for rule, _ in raw} == {rule for _, rule, _ in acknowledged}
    assert all(rule.startswith("AwsSolutions-IAM5[") for rule, _ in raw)
    for _path, rule, reason in acknowledged:
        assert len(reason.split()) >= 8, (rule, reason)
