"""``python -m runbook local up``: the command a developer runs, in its own process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import boto3
import pytest

from runbook.local.server import free_port

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
BANNER = "Incident Runbook emulator:"


def test_local_up_deploys_serves_and_stops_on_sigint(tmp_path: Path) -> None:
    port = free_port()
    command = ["local", "up", "--port", str(port), "--workdir", str(tmp_path)]
    process = subprocess.Popen(
        [sys.executable, "-m", "runbook", *command],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if line.startswith(BANNER):
                ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert ready.wait(timeout=180), "".join(lines)
        cloudformation = boto3.client(
            "cloudformation",
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        stack = cloudformation.describe_stacks(StackName="IncidentRunbook")["Stacks"][0]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
        printed = "".join(lines)
        for key in ("StateMachineArn", "IncidentTableName", "ArtifactBucketName"):
            assert outputs[key] in printed
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=30)
        reader.join(timeout=5)
    assert code == 0, "".join(lines)
    assert "Stopping the emulator" in "".join(lines)
    assert (tmp_path / "cdk.out" / "manifest.json").is_file()
