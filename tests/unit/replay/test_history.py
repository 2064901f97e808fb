"""Reading and normalising alarm state history (runbook/replay/history.py)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from runbook.replay import ReplayError
from runbook.replay.history import load_file, parse, responses_json, select

from .samples import T0, arn, item, metric_alarm

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "alarm_history_200.json"


def _select(responses: list, **kwargs):  # type: ignore[no-untyped-def]
    return select(parse(responses, "h.json"), source="h.json", **kwargs)


def test_pages_newest_first_are_replayed_oldest_first() -> None:
    pages = [
        {"AlarmHistoryItems": [item("a", 20, "ALARM", "OK"), item("a", 10, "OK", "ALARM")]},
        {"AlarmHistoryItems": [item("b", 5, "ALARM", "OK"), item("b", 1, "OK", "ALARM")]},
    ]
    history = _select(pages)
    assert [(c.alarm, c.new) for c in history.changes] == [
        ("b", "ALARM"),
        ("b", "OK"),
        ("a", "ALARM"),
        ("a", "OK"),
    ]
    assert history.first == T0 + timedelta(minutes=1)
    assert history.initial == {"a": "OK", "b": "OK"}


def test_one_response_and_the_reason_data_as_json_text() -> None:
    history = _select([{"AlarmHistoryItems": [item("a", 0, "OK", "ALARM")]}])
    change = history.changes[0]
    assert change.reason == "Threshold Crossed: now ALARM"
    assert json.loads(change.reason_data or "") == {
        "version": "1.0",
        "recentDatapoints": [5.0],
        "threshold": 1.0,
    }


def test_datetimes_from_boto3_and_naive_times_are_utc() -> None:
    naive = (T0 + timedelta(minutes=3)).replace(tzinfo=None).isoformat()
    history = _select(
        [
            {
                "AlarmHistoryItems": [
                    item("a", 0, "OK", "ALARM", timestamp=T0),
                    item("a", 3, "ALARM", "OK", timestamp=naive),
                ]
            }
        ]
    )
    assert [c.at for c in history.changes] == [T0, T0 + timedelta(minutes=3)]


def test_overlapping_pages_count_an_item_once_and_no_change_is_not_replayed() -> None:
    first = item("a", 0, "OK", "ALARM")
    history = _select(
        [
            {"AlarmHistoryItems": [first, item("a", 5, "ALARM", "OK")]},
            {"AlarmHistoryItems": [first, item("a", 7, "OK", "OK")]},
        ]
    )
    assert [(c.new, c.at) for c in history.changes] == [
        ("ALARM", T0),
        ("OK", T0 + timedelta(minutes=5)),
    ]
    assert "1 duplicate history item counted once" in history.notes
    assert any("already had" in note for note in history.notes)


def test_window_and_alarm_pattern() -> None:
    pages = [
        {
            "AlarmHistoryItems": [
                item("orders-errors", 0, "OK", "ALARM"),
                item("orders-errors", 30, "ALARM", "OK"),
                item("search-latency", 10, "OK", "ALARM"),
                item("orders-errors", 90, "OK", "ALARM"),
            ]
        }
    ]
    history = _select(
        pages, start=T0 + timedelta(minutes=5), end=T0 + timedelta(minutes=60), alarm_pattern="^ord"
    )
    assert [(c.alarm, c.new) for c in history.changes] == [("orders-errors", "OK")]
    assert history.initial == {"orders-errors": "ALARM"}  # as the window found it
    assert "2 state changes outside the window" in history.notes
    assert "1 state change of alarms not matching --alarm" in history.notes


def test_other_item_types_and_composite_alarms_are_counted_not_replayed() -> None:
    history = _select(
        [
            {
                "AlarmHistoryItems": [
                    item("a", 0, "OK", "ALARM"),
                    item("a", 1, "OK", "OK", kind="Action"),
                    item("a", 2, "OK", "OK", kind="ConfigurationUpdate"),
                    item("c", 3, "OK", "ALARM", alarm_type="CompositeAlarm"),
                ]
            }
        ]
    )
    assert [c.alarm for c in history.changes] == ["a"]
    assert (
        "3 history items not replayed (Action 1, CompositeAlarm state updates 1, "
        "ConfigurationUpdate 1)" in history.notes
    )


def test_configuration_and_tags_by_arn_and_a_note_for_alarms_without_configuration() -> None:
    history = _select(
        [
            {"AlarmHistoryItems": [item("a", 0, "OK", "ALARM"), item("b", 1, "OK", "ALARM")]},
            {"MetricAlarms": [metric_alarm("a"), metric_alarm("unrelated")]},
            {"ResourceARN": arn("a"), "Tags": [{"Key": "Severity", "Value": "critical"}]},
        ]
    )
    assert set(history.alarms) == {"a"}  # only alarms that are replayed
    assert history.alarms["a"].Dimensions[0].Value == "orders-api"
    assert history.tags == {"a": {"Severity": "critical"}}
    assert any(note.startswith("alarm b: no configuration") for note in history.notes)


@pytest.mark.parametrize(
    ("responses", "named"),
    [
        ([{"AlarmHistoryItems": [{"Timestamp": T0.isoformat(), "HistoryItemType": "x"}]}],
         r"h\.json\[0\]\.AlarmHistoryItems\[0\]: AlarmName: required"),
        ([{"AlarmHistoryItems": [{**item("a", 0, "OK", "ALARM"), "HistoryData": "{"}]}],
         r"AlarmHistoryItems\[0\]\.HistoryData: not JSON"),
        ([{"AlarmHistoryItems": [{**item("a", 0, "OK", "ALARM"),
           "HistoryData": json.dumps({"oldState": {"stateValue": "OK"},
                                      "newState": {"stateValue": "RED"}})}]}],
         r"HistoryData: newState\.stateValue: invalid enum value .RED."),
        ([{"AlarmHistoryItems": [{**item("a", 0, "OK", "ALARM"), "Timestamp": "yesterday"}]}],
         r"AlarmHistoryItems\[0\]: Timestamp: invalid RFC3339"),
        ([{"MetricAlarms": [{"AlarmName": "a", "EvaluationPeriods": 0}]}],
         r"h\.json\[0\]\.MetricAlarms\[0\]: EvaluationPeriods: expected `int` >= 1"),
        ([{"Tags": [{"Key": "k", "Value": "v"}]}], r"\[0\]\.ResourceARN: required with Tags"),
        ([{"ResourceARN": "arn:aws:sns:x", "Tags": []}], r"ResourceARN: not a CloudWatch alarm"),
        ([{"Alarms": []}], r"h\.json\[0\]: not a DescribeAlarmHistory.*\(keys: Alarms\)"),
        ([[1, 2]], r"h\.json\[0\]: expected `object`, got `array`"),
    ],
)  # fmt: skip
def test_bad_input_is_an_error_naming_the_place(responses: list, named: str) -> None:
    with pytest.raises(ReplayError, match=named):
        parse(responses, "h.json")


def test_nothing_to_replay_is_an_error() -> None:
    parsed = parse([{"AlarmHistoryItems": [item("a", 0, "OK", "ALARM")]}], "h.json")
    with pytest.raises(ReplayError, match=r"no alarm state changes to replay in h\.json"):
        select(parsed, source="h.json", alarm_pattern="^zzz")


def test_an_invalid_alarm_pattern_names_the_option() -> None:
    parsed = parse([{"AlarmHistoryItems": [item("a", 0, "OK", "ALARM")]}], "h.json")
    with pytest.raises(ReplayError, match="--alarm: invalid regular expression"):
        select(parsed, source="h.json", alarm_pattern="(")


def test_load_file_shapes(tmp_path: Path) -> None:
    one = tmp_path / "one.json"
    one.write_text(json.dumps({"AlarmHistoryItems": []}))
    assert load_file(one) == [{"AlarmHistoryItems": []}]
    bad = tmp_path / "bad.json"
    bad.write_text('"text"')
    with pytest.raises(ReplayError, match="expected a CloudWatch response"):
        load_file(bad)
    with pytest.raises(ReplayError, match="cannot read the history file"):
        load_file(tmp_path / "missing.json")


def test_saved_responses_read_back_the_same(tmp_path: Path) -> None:
    responses = [
        {"AlarmHistoryItems": [item("a", 0, "OK", "ALARM", timestamp=T0)]},
        {"MetricAlarms": [metric_alarm("a")]},
    ]
    saved = tmp_path / "saved.json"
    saved.write_text(responses_json(responses))
    again = select(parse(load_file(saved), "saved.json"), source="saved.json")
    assert again.changes[0].at == T0
    assert again.alarms["a"].Namespace == "AWS/Lambda"


def test_the_fixture_is_200_state_changes_of_10_alarms() -> None:
    history = select(parse(load_file(FIXTURE), FIXTURE.name), source=FIXTURE.name)
    assert len(history.changes) == 200
    assert len(history.initial) == 10 == len(history.alarms)
    assert history.notes == []
    assert history.tags == {
        "inventory-table-throttles": {"Severity": "critical", "team": "inventory"}
    }
    times = [c.at for c in history.changes]
    assert times == sorted(times)
