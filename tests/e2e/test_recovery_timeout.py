"""Nobody resolves the incident: MonitorRecovery's timeout (the synthesised definition's
TimeoutSecondsPath) escalates, the next one closes it as unresolved (maxEscalations is 1 on the
emulator) and the postmortem is still written. It needs an
emulator with a short recovery wait, so it runs in a process of its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from .helpers import run_scenario

pytestmark = pytest.mark.e2e

SCENARIO = Path(__file__).with_name("recovery_timeout_scenario.py")


def test_unresolved_incident_times_out_into_the_postmortem(tmp_path: Path) -> None:
    outcome = run_scenario(SCENARIO, tmp_path, timeout=240)
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
