"""`runbook oncall now|schedule --file`: a declaration tried before it is deployed (no stack:
no overrides, said on stderr), times read in the team's zone, readable tables and JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runbook.cli import main

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "incident-response.yaml"
NO_STACK = ["--endpoint-url", "http://127.0.0.1:9"]  # nothing listens there


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_now_at_a_time_in_the_teams_zone(capsys: pytest.CaptureFixture[str]) -> None:
    # Monday 2026-01-12 09:30 London: the second weekly shift of payments-primary (bob).
    code, out, err = run(
        capsys, "oncall", "now", "--file", str(EXAMPLE), "--rotation", "payments-primary",
        "--at", "2026-01-12T09:30", "--json", *NO_STACK,
    )  # fmt: skip
    assert code == 0, err
    (answer,) = json.loads(out)["on_call"]
    assert answer["contacts"] == ["bob"] and answer["source"] == "rotation"
    assert "without overrides" in err


def test_outside_working_hours_says_who_is_next(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "oncall", "now", "--file", str(EXAMPLE), "--rotation", "db-office-hours",
        "--at", "2026-01-13T20:00", *NO_STACK,
    )  # fmt: skip
    assert code == 0
    assert "nobody" in out and "outside working hours" in out


def test_schedule_is_a_table_of_slots(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "oncall", "schedule", "payments-secondary", "--days", "2", "--file",
        str(EXAMPLE), "--from", "2026-03-07T00:00", *NO_STACK,
    )  # fmt: skip
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("Payments secondary (payments-secondary), 2 days")
    assert lines[1].split()[:4] == ["FROM", "TO", "WHO", "SOURCE"]
    assert sum("Chen Wei" in line for line in lines) >= 2  # onCall 2, three participants


def test_an_unknown_rotation_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(
        capsys, "oncall", "now", "--file", str(EXAMPLE), "--rotation", "nope", *NO_STACK
    )
    assert code != 0
    assert "unknown rotation 'nope'" in err and "payments-primary" in err
