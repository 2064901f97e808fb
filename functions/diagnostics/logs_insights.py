"""CloudWatch Logs Insights queries, started all at once and polled together.

Insights queries are asynchronous: StartQuery returns at once and the query runs on
CloudWatch's side. Starting every query before polling any means N queries take about as long
as the slowest one, not the sum. Polling backs off (0.25 s doubling to 5 s) and when the time
budget is spent the queries still running are stopped, keeping whatever rows they had.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from diagnostics.finding import ERROR, OK, TIMEOUT, Finding, finding_from_client_error
from diagnostics.queries import RECENT_ERRORS, flatten

SOURCE = "logs_insights"
ERROR_QUERY = RECENT_ERRORS
_TERMINAL = frozenset({"Complete", "Failed", "Cancelled", "Timeout", "Unknown"})
_MESSAGE_CHARS = 300
_SAMPLE_LINES = 3
# StartQuery accepts at most 50 log groups per query.
MAX_LOG_GROUPS = 50
FIRST_DELAY = 0.25
MAX_DELAY = 5.0


def log_group_for(function_name: str) -> str:
    """The default log group of a Lambda function."""
    return f"/aws/lambda/{function_name}"


def rows_to_dicts(results: list[list[dict[str, str]]]) -> list[dict[str, str]]:
    """Insights rows come as [{field, value}, ...]; drop the internal @ptr."""
    return flatten(results)


@dataclass(frozen=True)
class Query:
    """One query over some log groups."""

    name: str
    query_string: str
    log_groups: tuple[str, ...]
    limit: int = 1000


@dataclass
class QueryRun:
    """What became of one query: its rows, or the finding that says why there are none."""

    query: Query
    query_id: str = ""
    status: str = "Unknown"
    rows: list[dict[str, str]] = field(default_factory=list)
    statistics: dict[str, Any] = field(default_factory=dict)
    failure: Finding | None = None

    @property
    def target(self) -> str:
        groups = self.query.log_groups
        return groups[0] if len(groups) == 1 else f"{len(groups)} log groups"

    def evidence(self) -> dict[str, Any]:
        return {
            "query": self.query.query_string,
            "query_id": self.query_id,
            "log_groups": list(self.query.log_groups),
            "status": self.status,
            "statistics": self.statistics,
            "rows": self.rows,
        }


class LogsInsights:
    """Runs Insights queries through an injected CloudWatch Logs client."""

    def __init__(
        self,
        logs: Any,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logs = logs
        self._sleep = sleep
        self._clock = clock

    def run_many(
        self, queries: list[Query], start: datetime, end: datetime, budget_seconds: float
    ) -> list[QueryRun]:
        """Start every query, then poll the running ones together until all are done or the
        budget is spent (those are stopped and reported with status Running)."""
        deadline = self._clock() + budget_seconds
        runs = [self._start(q, start, end) for q in queries]
        pending = [r for r in runs if r.failure is None]
        delay = FIRST_DELAY
        while pending:
            for run in list(pending):
                try:
                    self._update(run, self._logs.get_query_results(queryId=run.query_id))
                except ClientError as exc:
                    run.failure = finding_from_client_error(SOURCE, run.target, exc)
                if run.failure is not None or run.status in _TERMINAL:
                    pending.remove(run)
            if not pending:
                break
            remaining = deadline - self._clock()
            if remaining <= 0:
                for run in pending:
                    self._stop(run.query_id)
                break
            self._sleep(min(delay, remaining))
            delay = min(delay * 2, MAX_DELAY)
        return runs

    def collect(
        self, function_name: str, start: datetime, end: datetime, budget_seconds: float
    ) -> Finding:
        """The recent error lines of one function's log group, as one finding."""
        group = log_group_for(function_name)
        query = Query("recent_errors", ERROR_QUERY, (group,), limit=50)
        (run,) = self.run_many([query], start, end, budget_seconds)
        return finding_for(run, budget_seconds)

    def _start(self, query: Query, start: datetime, end: datetime) -> QueryRun:
        run = QueryRun(query)
        kwargs: dict[str, Any] = {
            "startTime": int(start.timestamp()),
            "endTime": int(end.timestamp()),
            "queryString": query.query_string,
            "limit": query.limit,
        }
        groups = list(query.log_groups[:MAX_LOG_GROUPS])
        if len(groups) == 1:
            kwargs["logGroupName"] = groups[0]
        else:
            kwargs["logGroupNames"] = groups
        try:
            run.query_id = self._logs.start_query(**kwargs)["queryId"]
            run.status = "Scheduled"
        except ClientError as exc:
            run.failure = finding_from_client_error(SOURCE, run.target, exc)
        return run

    @staticmethod
    def _update(run: QueryRun, response: dict[str, Any]) -> None:
        run.status = response.get("status", "Unknown")
        run.rows = rows_to_dicts(response.get("results", []))
        run.statistics = response.get("statistics", {})

    def _stop(self, query_id: str) -> None:
        # The query may have finished meanwhile; then there is nothing to stop.
        with contextlib.suppress(ClientError):
            self._logs.stop_query(queryId=query_id)


def finding_for(run: QueryRun, budget_seconds: float) -> Finding:
    """A finding for a finished (or stopped) query; messages are read by humans."""
    if run.failure is not None:
        return run.failure
    rows = run.rows
    summary = {
        "query": run.query.name,
        "matches": len(rows),
        "sample": [r.get("@message", "")[:_MESSAGE_CHARS] for r in rows[:_SAMPLE_LINES]],
    }
    if run.status == "Complete":
        message = f"{len(rows)} rows" if rows else "no matching lines in the window"
        if run.query.name == "recent_errors":
            message = f"{len(rows)} error lines" if rows else "no error lines in the window"
        return Finding(SOURCE, run.target, OK, message, summary, run.evidence())
    if run.status in ("Running", "Scheduled"):
        message = f"query still running after {budget_seconds:.0f}s; stopped ({len(rows)} rows)"
        return Finding(SOURCE, run.target, TIMEOUT, message, summary, run.evidence())
    return Finding(SOURCE, run.target, ERROR, f"query ended {run.status}", summary, run.evidence())
