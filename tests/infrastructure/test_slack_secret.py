"""With a Slack secret configured, create_channel (only) may read exactly that secret."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from stacks.application import build_app

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
                readers.append((policy["Properties"]["Roles"], statement["Resource"]))
    assert len(readers) == 2
    handlers = []
    for roles, resource in readers:
        assert resource == (
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:incident-runbook/slack-??????"
        )
        (role,) = roles
        functions = [
            f["Properties"]
            for f in template["Resources"].values()
            if f["Type"] == "AWS::Lambda::Function"
            and f["Properties"]["Role"]["Fn::GetAtt"][0] == role["Ref"]
        ]
        (function,) = functions
        assert function["Environment"]["Variables"]["SLACK_SECRET_NAME"] == "incident-runbook/slack"
        handlers.append(function["Handler"])
    assert sorted(handlers) == [
        "handlers.create_channel.lambda_handler",
        "handlers.create_postmortem.lambda_handler",
    ]
