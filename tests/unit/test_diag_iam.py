"""The diagnostics read policy on a bare stack: each action scoped the way the Service
Authorization Reference allows (stacks/diagnostics_access.py names the pages), so a source
never meets an AccessDenied that the policy itself caused."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App, Environment, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Template

from stacks.diagnostics_access import RESOURCE_STAR_READ_ACTIONS, grant_diagnostics

ENV = Environment(account="123456789012", region="eu-west-1")


@pytest.fixture(scope="module")
def statements() -> list[dict[str, Any]]:
    # As in cdk.json: a concrete region makes the partition a literal.
    app = App(context={"@aws-cdk/core:enablePartitionLiterals": True})
    stack = Stack(app, "DiagAccess", env=ENV)
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    function = lambda_.Function(
        stack, "Fn", runtime=lambda_.Runtime.PYTHON_3_13, handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context): pass"), role=role,
    )  # fmt: skip
    key = dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING)
    table = dynamodb.Table(stack, "Table", partition_key=key)
    grant_diagnostics(stack, function, role, table, "")
    policies = Template.from_stack(stack).find_resources("AWS::IAM::Policy")
    return [s for p in policies.values() for s in p["Properties"]["PolicyDocument"]["Statement"]]


def _granting(statements: list[dict[str, Any]], action: str) -> list[dict[str, Any]]:
    def actions(s: dict[str, Any]) -> list[str]:
        return s["Action"] if isinstance(s["Action"], list) else [s["Action"]]

    return [s for s in statements if action in actions(s)]


def test_list_tasks_is_any_resource_but_only_this_accounts_clusters(statements) -> None:
    # Listing a service's tasks names no container instance, the action's only resource type.
    (statement,) = _granting(statements, "ecs:ListTasks")
    assert statement["Resource"] == "*"
    assert statement["Condition"] == {
        "ArnLike": {"ecs:cluster": "arn:aws:ecs:eu-west-1:123456789012:cluster/*"}
    }


@pytest.mark.parametrize(
    ("action", "resource"),
    [
        ("ecs:DescribeServices", "arn:aws:ecs:eu-west-1:123456789012:service/*"),
        ("ecs:DescribeTasks", "arn:aws:ecs:eu-west-1:123456789012:task/*"),
        ("logs:StartQuery", "arn:aws:logs:eu-west-1:123456789012:log-group:*"),
        ("logs:GetQueryResults", "arn:aws:logs:eu-west-1:123456789012:log-group:*"),
        ("logs:DescribeLogGroups", "arn:aws:logs:eu-west-1:123456789012:log-group:*"),
        ("codedeploy:GetDeployment",
         "arn:aws:codedeploy:eu-west-1:123456789012:deploymentgroup:*"),
        ("codedeploy:ListDeployments",
         "arn:aws:codedeploy:eu-west-1:123456789012:deploymentgroup:*"),
    ],
)  # fmt: skip
def test_actions_with_resource_types_are_scoped(statements, action: str, resource: str) -> None:
    (statement,) = _granting(statements, action)
    assert statement["Resource"] == resource
    assert "Condition" not in statement


@pytest.mark.parametrize(
    "action",
    [
        "elasticloadbalancing:DescribeTargetHealth",
        "elasticloadbalancing:DescribeTargetGroups",
        "elasticloadbalancing:DescribeLoadBalancers",
        "codedeploy:ListDeploymentTargets",
        "codedeploy:BatchGetDeploymentTargets",
        "ec2:DescribeRouteTables",
        "ec2:DescribeNatGateways",
        "ec2:DescribeVpcEndpoints",
    ],
)
def test_actions_without_resource_types_are_granted_on_any_resource(statements, action) -> None:
    assert action in RESOURCE_STAR_READ_ACTIONS
    (statement,) = _granting(statements, action)
    assert statement["Resource"] == "*" and "Condition" not in statement
