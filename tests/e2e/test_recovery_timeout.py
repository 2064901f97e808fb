"""Nobody resolves the incident: MonitorRecovery's timeout (the synthesised definition's
TimeoutSecondsPath) closes it as unresolved and the postmortem is still written. It needs an
emulator with a short recovery wait, so it runs in a process of its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
SCENARIO = Path(__file__).with_name("recovery_timeout_scenario.py")


def test_unresolved_incident_times_out_into_the_postmortem(tmp_path: Path) -> None:
    pythonpath = os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "functions")])
    completed = subprocess.run(
        [sys.executable, str(SCENARIO), str(tmp_path)],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": pythonpath},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    outcome = json.loads(completed.stdout.strip().splitlines()[-1])
    assert outcome["status"] == "SUCCEEDED"
    # Each wait timed out: one escalation (maxEscalations is 1 on the emulator), then closed.
    assert outcome["output"]["recovery"] == {
        "status": "timed_out",
        "by": "timeout",
        "error": "timeout",
    }
    assert outcome["output"]["escalation"]["close"] is True
    assert outcome["output"]["postmortem"]["status"] == "written"
    assert outcome["incident_status"] == "UNRESOLVED"
