"""`python app.py` without the CDK CLI, the way the local emulator synthesises."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from stacks.functions import STEPS

from .conftest import REPO_ROOT


@pytest.fixture(scope="module")
def local_synth(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    outdir = tmp_path_factory.mktemp("cdk.out.local")
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"CDK_DEFAULT_ACCOUNT", "CDK_DEFAULT_REGION", "CDK_CONTEXT_JSON"}
    }
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env["CDK_OUTDIR"] = str(outdir)
    env["CDK_CONTEXT_JSON"] = json.dumps(
        {"incident-runbook": {"local": True, "recoveryTimeoutSeconds": 5}}
    )
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "app.py")],
        cwd=str(outdir),  # not the repository: app.py must find cdk.json on its own
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return {
        "outdir": outdir,
        "template": json.loads((outdir / "IncidentRunbook.template.json").read_text()),
        "manifest": json.loads((outdir / "manifest.json").read_text()),
    }


def _resources(template: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r for r in template["Resources"].values() if r["Type"] == kind]


def test_context_json_overrides_cdk_json(local_synth: dict[str, Any]) -> None:
    (machine,) = _resources(local_synth["template"], "AWS::StepFunctions::StateMachine")
    assert machine["Properties"]["DefinitionSubstitutions"]["RecoveryTimeoutSeconds"] == "5"


def test_cdk_json_fills_what_context_json_leaves_out(local_synth: dict[str, Any]) -> None:
    # Settings not given in CDK_CONTEXT_JSON keep cdk.json's values ...
    for function in _resources(local_synth["template"], "AWS::Lambda::Function"):
        variables = function["Properties"]["Environment"]["Variables"]
        if "DIAGNOSTICS_LOOKBACK_MINUTES" in variables:
            assert variables["DIAGNOSTICS_LOOKBACK_MINUTES"] == "30"
    # ... and so do cdk.json's feature flags: access logs are granted by bucket policy, not ACL.
    for bucket in _resources(local_synth["template"], "AWS::S3::Bucket"):
        assert "AccessControl" not in bucket["Properties"]


def test_local_mode_needs_no_bootstrap_version(local_synth: dict[str, Any]) -> None:
    template = local_synth["template"]
    assert "BootstrapVersion" not in template.get("Parameters", {})
    assert "CheckBootstrapVersion" not in template.get("Rules", {})


def test_local_mode_has_no_powertools_layer(local_synth: dict[str, Any]) -> None:
    functions = _resources(local_synth["template"], "AWS::Lambda::Function")
    assert len(functions) == len(STEPS)
    assert all("Layers" not in f["Properties"] for f in functions)


def test_local_mode_destroys_its_data(local_synth: dict[str, Any]) -> None:
    for kind in ("AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::KMS::Key"):
        for resource in _resources(local_synth["template"], kind):
            assert resource.get("DeletionPolicy") == "Delete"
    tables = _resources(local_synth["template"], "AWS::DynamoDB::Table")
    assert len(tables) == 2  # incidents, rotation overrides
    for table in tables:
        assert table["Properties"].get("DeletionProtectionEnabled") is not True


def test_assets_go_to_the_standard_bootstrap_bucket(local_synth: dict[str, Any]) -> None:
    stack = local_synth["manifest"]["artifacts"]["IncidentRunbook"]
    assert stack["environment"] == "aws://123456789012/us-east-1"
    for function in _resources(local_synth["template"], "AWS::Lambda::Function"):
        assert function["Properties"]["Code"]["S3Bucket"] == (
            "cdk-hnb659fds-assets-123456789012-us-east-1"
        )
