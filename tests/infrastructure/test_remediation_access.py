"""The remediation wiring in the stack: with the example declaration's rule
(examples/incident-response.yaml, AWS-RestartEC2Instance) the automation role exists, the
remediate step may start exactly that runbook, follow and stop executions, pass only that
role to SSM, read its rules and the evidence, and resume the workflow; cdk-nag stays clean
(synth_template raises otherwise). Without rules there is no automation role and no SSM
automation permission at all."""

from __future__ import annotations

from typing import Any

import pytest

from stacks.incident_runbook_stack import REPO_ROOT

from .conftest import Synth, synth_template

EXAMPLE = REPO_ROOT / "examples" / "incident-response.yaml"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return synth_template(
        tmp_path_factory.mktemp("cdk.out.remediation"), {"responseFile": str(EXAMPLE)}
    )


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _statements(template: dict[str, Any], role_hint: str) -> list[dict[str, Any]]:
    found = []
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::IAM::Policy":
            continue
        roles = str(resource["Properties"].get("Roles"))
        if role_hint in roles:
            found += resource["Properties"]["PolicyDocument"]["Statement"]
    return found


def _roles(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == "AWS::IAM::Role"}


def test_the_automation_role_is_assumed_by_ssm_for_this_account_only(
    template: dict[str, Any],
) -> None:
    (role,) = [r for k, r in _roles(template).items() if k.startswith("RemediationRole")]
    (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "ssm.amazonaws.com"}
    assert statement["Condition"]["StringEquals"]["aws:SourceAccount"]
    assert "automation-execution/*" in str(statement["Condition"]["ArnLike"]["aws:SourceArn"])


def test_the_remediate_step_starts_only_the_rules_runbook_and_passes_only_its_role(
    template: dict[str, Any],
) -> None:
    statements = _statements(template, "FunctionsRemediateRole")
    actions = {a for s in statements for a in _list(s["Action"])}
    assert not any("*" in a for a in actions)  # no wildcard action
    (start,) = [s for s in statements if "ssm:StartAutomationExecution" in _list(s["Action"])]
    resources = str(start["Resource"])
    assert "AWS-RestartEC2Instance" in resources
    assert "AWS-StopEC2Instance" not in resources  # a document no rule runs grants nothing
    (passrole,) = [s for s in statements if "iam:PassRole" in _list(s["Action"])]
    assert passrole["Condition"] == {"StringEquals": {"iam:PassedToService": "ssm.amazonaws.com"}}
    assert "RemediationRole" in str(passrole["Resource"])
    assert "states:SendTaskSuccess" in actions
    reads = [s for s in statements if s["Action"] == "s3:GetObject"]
    assert any("diagnostics*.json" in str(s["Resource"]) for s in reads)
    # Nobody else may run remediations or pass the automation role.
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::IAM::Policy" or "Remediate" in str(
            resource["Properties"].get("Roles")
        ):
            continue
        other = {
            a
            for s in resource["Properties"]["PolicyDocument"]["Statement"]
            for a in _list(s["Action"])
        }
        assert not {"ssm:StartAutomationExecution", "iam:PassRole"} & other, logical_id


def test_the_function_knows_the_role_and_the_rules(template: dict[str, Any]) -> None:
    (function,) = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
        and r["Properties"].get("Handler") == "handlers.remediate.lambda_handler"
    ]
    env = function["Environment"]["Variables"]
    assert "RemediationRole" in str(env["REMEDIATION_ROLE_ARN"])
    assert env["REMEDIATION_CONFIG_URI"]


def test_without_rules_there_is_no_automation_role(synth: Synth) -> None:
    assert not [k for k in _roles(synth.template) if k.startswith("RemediationRole")]
    actions = {
        a
        for r in synth.resources("AWS::IAM::Policy").values()
        for s in r["Properties"]["PolicyDocument"]["Statement"]
        for a in _list(s["Action"])
    }
    assert "ssm:StartAutomationExecution" not in actions and "iam:PassRole" not in actions
