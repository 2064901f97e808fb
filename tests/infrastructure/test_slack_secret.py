"""With a Slack secret configured, the Slack steps (only) may read exactly that secret."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from stacks.application import build_app
from stacks.functions import STEPS
from stacks.incident_runbook_stack import SLACK_STEPS

from .conftest import ENV_CONTEXT


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    outdir: Path = tmp_path_factory.mktemp("cdk.out.slack")
    app, _stack = build_app(
        outdir=str(outdir),
        context={
            **ENV_CONTEXT,
            "incident-runbook": {"slackSecretName": "incident-runbook/slack"},
            "aws:cdk:bundling-stacks": [],  # the asset is irrelevant here
        },
    )
    app.synth()
    return dict(json.loads((outdir / "IncidentRunbook.template.json").read_text()))


def _function_by_role(template: dict[str, Any], role_id: str) -> dict[str, Any]:
    (function,) = [
        f["Properties"]
        for f in template["Resources"].values()
        if f["Type"] == "AWS::Lambda::Function"
        and f["Properties"]["Role"]["Fn::GetAtt"][0] == role_id
    ]
    return dict(function)


def _step(function: dict[str, Any]) -> str:
    return str(function["Handler"]).removeprefix("handlers.").removesuffix(".lambda_handler")


def test_only_the_slack_steps_read_the_secret_by_its_name(template: dict[str, Any]) -> None:
    readers = []
    for policy in template["Resources"].values():
        if policy["Type"] != "AWS::IAM::Policy":
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"]
            if "secretsmanager:GetSecretValue" in (
                actions if isinstance(actions, list) else [actions]
            ):
                readers.append((policy["Properties"]["Roles"], statement))
    steps = []
    for roles, statement in readers:
        assert statement["Action"] == "secretsmanager:GetSecretValue"
        assert statement["Resource"] == (
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:incident-runbook/slack-??????"
        )
        (role,) = roles
        function = _function_by_role(template, role["Ref"])
        assert function["Environment"]["Variables"]["SLACK_SECRET_NAME"] == "incident-runbook/slack"
        steps.append(_step(function))
    assert sorted(steps) == sorted(SLACK_STEPS)  # one grant each
    # Every step that posts in Slack, and none of those that have no business there.
    assert {"create_channel", "recovery", "escalate", "check_stability", "create_postmortem"} <= (
        set(steps)
    )
    assert not {"ingest", "classify", "collect_diagnostics", "monitor_recovery"} & set(steps)


def test_the_secret_name_reaches_exactly_the_readers(template: dict[str, Any]) -> None:
    named = {
        _step(f["Properties"])
        for f in template["Resources"].values()
        if f["Type"] == "AWS::Lambda::Function"
        and "SLACK_SECRET_NAME" in f["Properties"]["Environment"]["Variables"]
    }
    assert named == set(SLACK_STEPS)
    assert set(SLACK_STEPS) <= set(STEPS)
