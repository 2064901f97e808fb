"""run_query, the emulator's entry point: StartQuery's window and limit, several log groups,
the GetQueryResults body, and syntax errors before any log is read."""

from __future__ import annotations

import pytest

from runbook.insights import LogEvent, QuerySyntaxError, run_query, to_query_results

T0 = 1_714_564_800  # 2024-05-01 12:00:00 UTC, in seconds as StartQuery takes it
MS = 1000


class Logs:
    """A fake log store that records the windows it was asked for."""

    def __init__(self, groups: dict[str, list[LogEvent]]) -> None:
        self.groups = groups
        self.calls: list[tuple[str, int, int]] = []

    def fetch(self, group: str, start: int, end: int) -> list[LogEvent]:
        self.calls.append((group, start, end))
        return self.groups.get(group, [])


def test_window_is_inclusive_to_the_last_millisecond_of_the_end_second() -> None:
    logs = Logs(
        {
            "/g": [
                LogEvent(T0 * MS - 1, "before"),
                LogEvent(T0 * MS, "first"),
                LogEvent((T0 + 60) * MS + 999, "last"),
                LogEvent((T0 + 61) * MS, "after"),
            ]
        }
    )
    outcome = run_query("fields @message", ["/g"], T0, T0 + 60, logs.fetch)
    assert outcome.rows == [{"@message": "last"}, {"@message": "first"}]
    assert logs.calls == [("/g", T0 * MS, (T0 + 60) * MS + 999)]
    assert (outcome.records_scanned, outcome.records_matched) == (2, 2)


def test_several_groups_are_one_stream_told_apart_by_log() -> None:
    logs = Logs(
        {
            "/a": [LogEvent(T0 * MS + 1, "a1"), LogEvent(T0 * MS + 3, "a2")],
            "/b": [LogEvent(T0 * MS + 2, "b1")],
        }
    )
    outcome = run_query(
        "fields @log, @message | sort @timestamp asc", ["/a", "/b"], T0, T0 + 1, logs.fetch
    )
    assert outcome.rows == [
        {"@log": "123456789012:/a", "@message": "a1"},
        {"@log": "123456789012:/b", "@message": "b1"},
        {"@log": "123456789012:/a", "@message": "a2"},
    ]


def test_account_id_and_limit() -> None:
    logs = Logs({"/a": [LogEvent(T0 * MS + i, f"m{i}") for i in range(5)]})
    outcome = run_query(
        "fields @log", ["/a"], T0, T0, logs.fetch, limit=2, account_id="210987654321"
    )
    assert outcome.rows == [{"@log": "210987654321:/a"}] * 2


def test_get_query_results_body() -> None:
    logs = Logs({"/a": [LogEvent(T0 * MS, "error one"), LogEvent(T0 * MS + 5, "fine")]})
    outcome = run_query(
        "filter @message like /error/ | stats count(*) as n", ["/a"], T0, T0, logs.fetch
    )
    assert outcome.get_query_results() == {
        "status": "Complete",
        "results": [[{"field": "n", "value": "1"}]],
        "statistics": {"recordsMatched": 1.0, "recordsScanned": 2.0, "bytesScanned": 13.0},
    }


def test_to_query_results_keeps_column_order() -> None:
    rows = [{"b": "1", "a": "2"}, {"a": "3"}]
    assert to_query_results(rows) == [
        [{"field": "b", "value": "1"}, {"field": "a", "value": "2"}],
        [{"field": "a", "value": "3"}],
    ]


def test_a_malformed_query_fails_before_reading_logs() -> None:
    logs = Logs({"/a": [LogEvent(T0 * MS, "m")]})
    with pytest.raises(QuerySyntaxError):
        run_query("filter @message like", ["/a"], T0, T0, logs.fetch)
    assert logs.calls == []


def test_records_matched_counts_what_the_limit_leaves_out() -> None:
    logs = Logs({"/a": [LogEvent(T0 * MS + i, f"error {i}") for i in range(3)]})
    outcome = run_query("filter @message like /error/ | limit 1", ["/a"], T0, T0, logs.fetch)
    assert len(outcome.rows) == 1
    assert (outcome.records_scanned, outcome.records_matched) == (3, 3)
