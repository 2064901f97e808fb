"""`runbook replay`'s options (command.py) and what the player asks the emulator for
(player.py's pure parts); the replay itself runs in tests/e2e/test_replay.py."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from runbook.cli import main
from runbook.replay import ReplayError
from runbook.replay.command import parse_when
from runbook.replay.history import MetricAlarm
from runbook.replay.player import BARE_NAMESPACE, LagMeter, alarm_arguments
from shared.records import read

from .samples import item, metric_alarm

NOW = datetime(2024, 5, 2, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("2024-05-01T06:00:00Z", datetime(2024, 5, 1, 6, 0, tzinfo=UTC)),
        ("2024-05-01T08:00:00+02:00", datetime(2024, 5, 1, 6, 0, tzinfo=UTC)),
        ("2024-05-01T06:00", datetime(2024, 5, 1, 6, 0, tzinfo=UTC)),
        ("now", NOW),
        ("-6h", NOW - timedelta(hours=6)),
        ("-30m", NOW - timedelta(minutes=30)),
        ("-2d", NOW - timedelta(days=2)),
        ("6h", NOW - timedelta(hours=6)),
    ],
)
def test_times(text: str, moment: datetime) -> None:
    assert parse_when(text, "--from", NOW) == moment


def test_a_bad_time_names_the_option() -> None:
    with pytest.raises(ReplayError, match="--to: expected ISO-8601"):
        parse_when("yesterday", "--to", NOW)


def _history_file(tmp_path: Path) -> Path:
    path = tmp_path / "h.json"
    path.write_text(json.dumps({"AlarmHistoryItems": [item("a", 0, "OK", "ALARM")]}))
    return path


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--save", "out.json"], "--save writes what was read from the account"),
        (["--from", "2024-05-02T00:00:00Z", "--to", "2024-05-01T00:00:00Z"], "--from must be"),
        (["--set", "maxEscalation=3"], "maxEscalation"),
        (["--speed", "0"], "--speed must be between"),
        (["--alarm", "^zzz"], "no alarm state changes to replay"),
    ],
)
def test_option_problems_are_one_line_and_a_non_zero_exit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], arguments: list[str], message: str
) -> None:
    code = main(["replay", "--from-file", str(_history_file(tmp_path)), *arguments])
    assert code == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("runbook: ") and message in err
    assert "\n" not in err


def test_reading_the_account_needs_a_window(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay"]) == 1
    assert "give --from (and --to) to read the account, or --from-file" in capsys.readouterr().err


def test_alarms_are_recreated_as_configured_without_their_actions() -> None:
    alarm = read(MetricAlarm, metric_alarm("orders-errors"), "alarm")
    arguments = alarm_arguments("orders-errors", alarm, {"Severity": "high"})
    assert arguments == {
        "AlarmName": "orders-errors",
        "ActionsEnabled": False,
        "Tags": [{"Key": "Severity", "Value": "high"}],
        "EvaluationPeriods": 1,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "AlarmDescription": "errors",
        "Threshold": 1.0,
        "DatapointsToAlarm": 1,
        "TreatMissingData": "missing",
        "Namespace": "AWS/Lambda",
        "MetricName": "Errors",
        "Dimensions": [{"Name": "FunctionName", "Value": "orders-api"}],
        "Statistic": "Sum",
        "Period": 60,
    }


def test_metric_math_alarms_keep_their_metrics() -> None:
    queries = [{"Id": "e1", "Expression": "m1/m2", "ReturnData": True}]
    alarm = read(
        MetricAlarm,
        {"AlarmName": "ratio", "Metrics": queries, "Threshold": 0.5, "EvaluationPeriods": 2},
        "alarm",
    )
    arguments = alarm_arguments("ratio", alarm, {})
    assert arguments["Metrics"] == queries
    assert "Namespace" not in arguments and "MetricName" not in arguments


def test_an_alarm_known_only_from_its_history_names_no_resource() -> None:
    arguments = alarm_arguments("deleted-alarm", None, {})
    assert arguments["Namespace"] == BARE_NAMESPACE
    assert "Dimensions" not in arguments


def test_the_lag_meter_measures_until_nothing_is_in_flight() -> None:
    in_flight = threading.Event()
    in_flight.set()
    with LagMeter(lambda: 1 if in_flight.is_set() else 0, every=0.01) as meter:
        meter.fed()
        time.sleep(0.15)
        in_flight.clear()
        time.sleep(0.1)
    assert len(meter.lags) == 1
    assert 0.14 <= meter.lags[0] < 1.0


def test_save_writes_what_was_read_from_the_account_and_it_replays_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from runbook.replay import command
    from runbook.replay.history import load_file, parse, select

    read: list[tuple] = []
    answers = [
        {"AlarmHistoryItems": [item("a", 0, "OK", "ALARM", timestamp=NOW - timedelta(hours=1))]},
        {"MetricAlarms": [metric_alarm("a")]},
    ]

    def fake_account(args: object, start: datetime, end: datetime) -> list:
        read.append((start, end))
        return answers

    monkeypatch.setattr(command, "_read_account", fake_account)
    saved = tmp_path / "saved" / "history.json"
    parser = __import__("runbook.cli", fromlist=["build_parser"]).build_parser()
    args = parser.parse_args(["replay", "--from", "6h", "--save", str(saved)])
    history, end = command._history(args, NOW)
    assert read == [(NOW - timedelta(hours=6), NOW)] and end == NOW
    assert history.source == "the account"
    again = select(parse(load_file(saved), saved.name), source=saved.name)
    assert again.changes == history.changes
    assert again.alarms["a"].Namespace == "AWS/Lambda"
