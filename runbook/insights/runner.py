"""What the emulator plugs in where moto answers StartQuery / GetQueryResults.

`run_query` takes the query and the groups and window StartQuery received, reads the events
through a callback (so this package needs neither moto nor boto3), and returns an outcome
whose `get_query_results()` is the GetQueryResults response body. The query is parsed before
any event is read: a QuerySyntaxError is the emulator's MalformedQueryException.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from runbook.insights.evaluator import execute
from runbook.insights.fields import DEFAULT_ACCOUNT, LogEvent
from runbook.insights.parser import parse_query

FetchEvents = Callable[[str, int, int], Iterable[LogEvent]]
"""(log group, start ms, end ms) -> the group's events in that window (may return more:
events outside the window are dropped here)."""


def to_query_results(rows: Iterable[Mapping[str, str]]) -> list[list[dict[str, str]]]:
    """Rows in GetQueryResults' `results` shape: `[[{"field": f, "value": v}, ...], ...]`."""
    return [[{"field": field, "value": value} for field, value in row.items()] for row in rows]


@dataclass(frozen=True)
class QueryOutcome:
    """A finished query: its rows and the statistics GetQueryResults reports."""

    rows: list[dict[str, str]]
    records_matched: int
    records_scanned: int
    bytes_scanned: int

    def statistics(self) -> dict[str, float]:
        """GetQueryResults' `statistics` (floats, as the API gives them)."""
        return {
            "recordsMatched": float(self.records_matched),
            "recordsScanned": float(self.records_scanned),
            "bytesScanned": float(self.bytes_scanned),
        }

    def get_query_results(self) -> dict[str, Any]:
        """The GetQueryResults response body for this query (status Complete)."""
        return {
            "status": "Complete",
            "results": to_query_results(self.rows),
            "statistics": self.statistics(),
        }


def run_query(
    query_string: str,
    log_groups: Sequence[str],
    start: int,
    end: int,
    fetch_events: FetchEvents,
    *,
    limit: int | None = None,
    account_id: str = DEFAULT_ACCOUNT,
) -> QueryOutcome:
    """Run a query as StartQuery would: `start`/`end` in epoch seconds, both inclusive (an
    event at any millisecond of the `end` second counts); `limit` is StartQuery's own limit,
    applied on top of the query's `limit` command."""
    query = parse_query(query_string)
    first, last = start * 1000, end * 1000 + 999
    events: list[tuple[str, LogEvent]] = []
    for group in log_groups:
        for event in fetch_events(group, first, last):
            if first <= event.timestamp <= last:
                events.append((group, event))
    run = execute(query, events, account_id=account_id, limit=limit)
    return QueryOutcome(run.rows, run.records_matched, run.records_scanned, run.bytes_scanned)
