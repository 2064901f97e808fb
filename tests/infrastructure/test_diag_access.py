"""collect_diagnostics' read policy: scoped reads, and the member-account role when set."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stacks.application import build_app
from stacks.diagnostics_access import RESOURCE_STAR_READ_ACTIONS

from .conftest import ENV_CONTEXT, STACK_NAME, Synth
from .test_iam import RESOURCE_STAR_ALLOWED, _actions, _as_list, _role_statements


def test_every_resource_star_read_is_on_the_allow_list() -> None:
    assert set(RESOURCE_STAR_READ_ACTIONS) <= RESOURCE_STAR_ALLOWED


def test_no_write_action_and_no_assume_role_by_default(synth: Synth) -> None:
    actions = _actions(_role_statements(synth, "collect_diagnostics"))
    reads = {
        a
        for a in actions
        if a.split(":")[1].startswith(("Get", "Describe", "List", "BatchGet", "Query"))
    }
    writes = actions - reads
    # Its own logs, X-Ray segments, the evidence object (and its key), Insights queries, and
    # the verdict on the incident record.
    assert writes <= {
        "logs:CreateLogStream", "logs:PutLogEvents", "xray:PutTraceSegments",
        "xray:PutTelemetryRecords", "s3:PutObject", "s3:PutObjectLegalHold",
        "s3:PutObjectRetention", "s3:PutObjectTagging", "s3:PutObjectVersionTagging",
        "s3:Abort*", "kms:Encrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Decrypt",
        "logs:StartQuery", "logs:StopQuery", "apigateway:GET", "dynamodb:UpdateItem",
    }  # fmt: skip
    assert "sts:AssumeRole" not in actions
    env = _function_env(synth.template)
    assert "DIAGNOSTICS_ROLE_NAME" not in env


def _function_env(template: dict[str, Any]) -> dict[str, Any]:
    (function,) = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
        and r["Properties"]["Handler"] == "handlers.collect_diagnostics.lambda_handler"
    ]
    return dict(function["Environment"]["Variables"])


@pytest.fixture(scope="module")
def with_role(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    outdir = tmp_path_factory.mktemp("cdk.out.role")
    context = {
        **ENV_CONTEXT,
        "aws:cdk:bundling-stacks": [],
        "incident-runbook": {"diagnosticsRoleName": "IncidentRunbookReadOnly"},
    }
    app, _stack = build_app(outdir=str(outdir), context=context)
    app.synth()  # cdk-nag passes: the new wildcard is acknowledged
    return dict(json.loads((outdir / f"{STACK_NAME}.template.json").read_text()))


def test_role_name_sets_the_variable_and_grants_assume_role(with_role: dict[str, Any]) -> None:
    assert _function_env(with_role)["DIAGNOSTICS_ROLE_NAME"] == "IncidentRunbookReadOnly"
    statements = [
        s
        for r in with_role["Resources"].values()
        if r["Type"] == "AWS::IAM::Policy"
        for s in r["Properties"]["PolicyDocument"]["Statement"]
        if "sts:AssumeRole" in _as_list(s["Action"])
    ]
    (statement,) = statements
    assert statement["Resource"] == "arn:aws:iam::*:role/IncidentRunbookReadOnly"
