"""Synthesise the CDK app for the emulator and read the cloud assembly it writes.

The emulator deploys exactly what ``cdk synth`` produces (template, asset manifest, assets) with
the ``local`` setting on and short timings; it never hand-writes a template or a definition.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CONTEXT_KEY = "incident-runbook"
# The emulator's defaults: local mode and waits short enough to watch them pass (a heartbeat
# well within the wait, a few seconds of stabilisation, one escalation before closing).
LOCAL_SETTINGS: dict[str, Any] = {
    "local": True,
    "recoveryTimeoutSeconds": 60,
    "heartbeatSeconds": 20,
    "stabilisationSeconds": 3,
    "maxEscalations": 1,
    # The example team (docs/oncall.md): people paged by name, minutes run as seconds.
    "responseFile": "examples/incident-response.yaml",
    "timeCompression": 60,
    # Drills to the drill topic; the schedule and dead-man's switch deployed paused (so they
    # do not fire during every test); tests/e2e/test_drill.py resumes them. One hour's window:
    # a minute of wall time at the alarm evaluator's default time scale.
    "drill": {
        "target": "topic",
        "schedule": "rate(1 day)",
        "paused": True,
        "deadMansWindowHours": 1,
    },
}


class SynthError(RuntimeError):
    """``python app.py`` failed; the message carries the end of its output."""


@dataclass(frozen=True)
class FileAsset:
    asset_id: str
    path: Path
    packaging: str  # "file" or "zip"
    bucket: str
    key: str


@dataclass(frozen=True)
class StackArtifact:
    name: str
    template_path: Path
    assets: tuple[FileAsset, ...]

    def template(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.template_path.read_text(encoding="utf-8"))
        return loaded


def local_context(overrides: dict[str, Any] | None, account: str, region: str) -> dict[str, Any]:
    settings = {**LOCAL_SETTINGS, **(overrides or {})}
    return {CONTEXT_KEY: settings, "account": account, "region": region}


def synthesise(app_dir: Path, outdir: Path, context: dict[str, Any], timeout: float = 600) -> Path:
    """Run the CDK app (``python app.py``) into ``outdir``; node for jsii comes from the venv."""
    outdir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["CDK_OUTDIR"] = str(outdir)
    env["CDK_CONTEXT_JSON"] = json.dumps(context)
    env["CDK_DEFAULT_ACCOUNT"] = str(context.get("account", ""))
    env["CDK_DEFAULT_REGION"] = str(context.get("region", ""))
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    completed = subprocess.run(  # noqa: S603 - the repository's own CDK app
        [sys.executable, str(app_dir / "app.py")],
        cwd=str(app_dir),
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if completed.returncode != 0:
        tail = (completed.stderr or completed.stdout)[-4000:]
        raise SynthError(f"CDK synthesis failed (exit {completed.returncode}):\n{tail}")
    return outdir


def read_stack(assembly_dir: Path, stack_name: str) -> StackArtifact:
    """The stack's template and file assets, from the cloud assembly's manifest."""
    manifest = json.loads((assembly_dir / "manifest.json").read_text(encoding="utf-8"))
    artifacts: dict[str, Any] = manifest.get("artifacts", {})
    stack = artifacts.get(stack_name)
    if not stack or stack.get("type") != "aws:cloudformation:stack":
        raise SynthError(f"the cloud assembly in {assembly_dir} has no stack {stack_name!r}")
    template_path = assembly_dir / stack["properties"]["templateFile"]
    assets: list[FileAsset] = []
    for dependency in stack.get("dependencies", []):
        artifact = artifacts.get(dependency, {})
        if artifact.get("type") != "cdk:asset-manifest":
            continue
        asset_manifest = json.loads(
            (assembly_dir / artifact["properties"]["file"]).read_text(encoding="utf-8")
        )
        for asset_id, asset in asset_manifest.get("files", {}).items():
            for destination in asset.get("destinations", {}).values():
                assets.append(
                    FileAsset(
                        asset_id=asset_id,
                        path=assembly_dir / asset["source"]["path"],
                        packaging=asset["source"].get("packaging", "file"),
                        bucket=destination["bucketName"],
                        key=destination["objectKey"],
                    )
                )
        if asset_manifest.get("dockerImages"):
            raise SynthError("container image assets need Docker; the emulator has none")
    return StackArtifact(stack_name, template_path, tuple(assets))
