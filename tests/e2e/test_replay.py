"""`runbook replay` end to end: the 200-change history (tests/fixtures/alarm_history_200.json:
storms, flaps, reopenings, long incidents) replayed through the real stack on an emulator of its
own (a process of its own, as `runbook replay` runs), held against what the correlation rules
imply for that history, worked out independently in replay_model.py. Then a changed severity
pattern moves the storms' pages from the team topic to the high topic, and nothing else.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from .replay_model import expected

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "alarm_history_200.json"
# 240x: the 450 busy minutes of the fixture in about two minutes (quiet hours are skipped).
SPEED = "240"
COMPARED = ("incidents", "by_severity", "reopened", "storms", "folded", "joined", "flaps")
COMPARED += ("escalations", "unresolved", "open_at_end", "late")


def settings() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())
    return dict(loaded["context"]["incident-runbook"])


def replay(workdir: Path, *arguments: str) -> dict[str, Any]:
    command = [sys.executable, "-m", "runbook", "replay", "--from-file", str(FIXTURE)]
    command += ["--speed", SPEED, "--json", "--workdir", str(workdir), *arguments]
    completed = subprocess.run(
        command,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "functions")])},
        capture_output=True,
        text=True,
        timeout=480,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    report: dict[str, Any] = json.loads(completed.stdout)
    return report


def observed(report: dict[str, Any]) -> dict[str, Any]:
    """The report in the model's terms (incidents compared by their alarms and counts, so
    which alarm of a storm happened to open it does not matter)."""
    return {
        "totals": {key: report["totals"][key] for key in COMPARED},
        "pages": {
            "response": report["pages"]["response"],
            "escalations": report["pages"]["escalations"],
            "postmortem_notices": report["pages"]["postmortem_notices"],
        },
        "incidents": sorted(
            (
                tuple(sorted(row["alarms"])),
                row["severity"],
                row["reopened"],
                row["flaps"],
                row["escalations"],
                row["folded"],
                row["joined"],
            )
            for row in report["incidents"]
        ),
    }


def implied(**kwargs: Any) -> dict[str, Any]:
    want = expected(FIXTURE, **kwargs)
    want["totals"] = {key: want["totals"][key] for key in COMPARED}
    return want


def test_the_history_gives_the_incidents_and_pages_the_rules_imply(tmp_path: Path) -> None:
    want = implied(settings=settings())
    # The history has what it is for: storms folded, flaps, reopenings and escalations.
    totals = want["totals"]
    assert totals["storms"] >= 2 and totals["flaps"] >= 5 and totals["reopened"] >= 5
    assert totals["escalations"] >= 3 and sum(totals["by_severity"].values()) == totals["incidents"]

    report = replay(tmp_path / "as-configured")

    assert report["window"]["changes"] == 200 and report["window"]["alarms"] == 10
    got = observed(report)
    assert got["totals"] == want["totals"]
    assert got["pages"] == want["pages"]
    assert got["incidents"] == want["incidents"]
    # Pages are SNS deliveries to the replay's recorders: each topic's count is what was sent.
    by_topic = report["pages"]["by_topic"]
    response = want["pages"]["response"]
    assert by_topic["critical"] == response["critical"]
    assert by_topic["high"] == response["high"]
    assert by_topic["standard"] == response["standard"]
    assert by_topic["escalation"] == sum(want["pages"]["escalations"].values())
    assert report["running_at_end"] == 0
    assert report["run"]["skipped_history_seconds"] > 5 * 3600  # the quiet hours


def test_a_changed_severity_pattern_changes_the_pages_accordingly(tmp_path: Path) -> None:
    """The checkout storms (standard by default) become high: their pages and escalations
    move to the high topic's counts; the incidents themselves stay the same."""
    current = settings()
    patterns = [{"pattern": "^checkout-", "severity": "high"}, *current["severityPatterns"]]
    to = datetime(2024, 5, 1, 9, 55, tzinfo=UTC)  # storms 1 and 2 (with its reopening)
    before = implied(settings=current, alarm_pattern="^checkout-", to=to)
    want = implied(
        settings={**current, "severityPatterns": patterns}, alarm_pattern="^checkout-", to=to
    )
    assert before["totals"]["by_severity"]["standard"] == 2
    assert before["pages"]["response"]["high"] == 0

    report = replay(
        tmp_path / "checkout-high",
        "--alarm",
        "^checkout-",
        "--to",
        to.isoformat(),
        "--set",
        f"severityPatterns={json.dumps(patterns)}",
    )

    got = observed(report)
    assert got == want
    # Accordingly: every page the storms sent as standard is now a high page, no more, no less.
    assert got["pages"]["response"] == {
        "critical": 0,
        "high": before["pages"]["response"]["standard"],
        "standard": 0,
    }
    assert got["pages"]["escalations"]["high"] == before["pages"]["escalations"]["standard"] == 1
    unchanged = [row[:1] + row[2:] for row in before["incidents"]]
    assert [row[:1] + row[2:] for row in got["incidents"]] == unchanged
    assert {row[1] for row in got["incidents"]} == {"high"}
    assert report["settings"]["severityPatterns"] == patterns
