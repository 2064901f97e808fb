"""CloudWatch Logs Insights queries, started all at once and polled together.

Insights queries are asynchronous: StartQuery returns at once and the query runs on
CloudWatch's side. Starting every query before polling any means N queries take about as long
as the slowest one, not the sum. Polling backs off (0.25 s doubling to 5 s) and when the time
budget is spent the queries still running are stopped, keeping whatever rows they had.

StartQuery refuses a whole query (ResourceNotFoundException) when any one of its log groups
does not exist, and a Lambda function that never logged has none. So on that answer the groups
are looked up (DescribeLogGroups by name prefix, paged: names come in ASCII order, so the first
one listed is the group if it exists), the query is started again over those that exist, and
its finding names the missing ones; when none exist it says that instead of running nothing.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from diagnostics.finding import (
    ERROR,
    NOT_FOUND,
    OK,
    TIMEOUT,
    Finding,
    finding_from_client_error,
)
from diagnostics.paging import Deadline, find_first
from diagnostics.queries import RECENT_ERRORS, flatten
from shared.errors import error_code

SOURCE = "logs_insights"
ERROR_QUERY = RECENT_ERRORS
_TERMINAL = frozenset({"Complete", "Failed", "Cancelled", "Timeout", "Unknown"})
_MESSAGE_CHARS = 300
_SAMPLE_LINES = 3
# StartQuery accepts at most 50 log groups per query.
MAX_LOG_GROUPS = 50
_NO_SUCH_GROUP = "ResourceNotFoundException"
# Missing groups named in a message (all of them are in the summary and the evidence).
_NAMED_MISSING = 5
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
    # Log groups of the query that do not exist, left out of it.
    missing: list[str] = field(default_factory=list)

    @property
    def target(self) -> str:
        groups = self.query.log_groups
        return groups[0] if len(groups) == 1 else f"{len(groups)} log groups"

    @property
    def log_groups(self) -> list[str]:
        """The groups the query runs over: at most MAX_LOG_GROUPS, none that is missing."""
        return [g for g in self.query.log_groups[:MAX_LOG_GROUPS] if g not in self.missing]

    def evidence(self) -> dict[str, Any]:
        return {
            "query": self.query.query_string,
            "query_id": self.query_id,
            "log_groups": self.log_groups,
            "missing_log_groups": self.missing,
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
        # Whether a log group exists, as DescribeLogGroups answered: later queries over the
        # same groups leave the missing ones out without being refused first.
        self._exists: dict[str, bool] = {}

    def run_many(
        self, queries: list[Query], start: datetime, end: datetime, budget_seconds: float
    ) -> list[QueryRun]:
        """Start every query, then poll the running ones together until all are done or the
        budget is spent (those are stopped and reported with status Running)."""
        deadline = self._clock() + budget_seconds
        lookups = Deadline(deadline, self._clock)
        runs = [self._start(q, start, end, lookups) for q in queries]
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

    def _start(self, query: Query, start: datetime, end: datetime, lookups: Deadline) -> QueryRun:
        known_missing = [g for g in query.log_groups if self._exists.get(g) is False]
        run = QueryRun(query, missing=known_missing)
        error = self._try_start(run, start, end)
        if error is not None and error_code(error) == _NO_SUCH_GROUP:
            error = self._without_missing(run, start, end, lookups, error)
        if error is not None:
            run.failure = finding_from_client_error(SOURCE, run.target, error)
        return run

    def _try_start(self, run: QueryRun, start: datetime, end: datetime) -> ClientError | None:
        """Start the query over its existing groups; the error if AWS refuses it."""
        groups = run.log_groups
        if not groups:
            run.failure = _none_exist(run)
            return None
        kwargs: dict[str, Any] = {
            "startTime": int(start.timestamp()),
            "endTime": int(end.timestamp()),
            "queryString": run.query.query_string,
            "limit": run.query.limit,
        }
        if len(groups) == 1:
            kwargs["logGroupName"] = groups[0]
        else:
            kwargs["logGroupNames"] = groups
        try:
            run.query_id = self._logs.start_query(**kwargs)["queryId"]
        except ClientError as exc:
            return exc
        run.status = "Scheduled"
        return None

    def _without_missing(
        self, run: QueryRun, start: datetime, end: datetime, lookups: Deadline, error: ClientError
    ) -> ClientError | None:
        """Leave out the groups that do not exist and start again; a lone group is the one
        missing, several are looked up. The original error stands if the lookup fails or
        finds every group (then the refusal was about something else)."""
        groups = run.log_groups
        if len(groups) == 1:
            run.missing.append(groups[0])
        else:
            try:
                missing = [g for g in groups if not self._group_exists(g, lookups)]
            except ClientError:
                return error
            if not missing:
                return error
            run.missing += missing
        return self._try_start(run, start, end)

    def _group_exists(self, group: str, lookups: Deadline) -> bool:
        """DescribeLogGroups lists names in ASCII order and every name that starts with
        `group` sorts at or after `group` itself, so the first name listed under that prefix
        (paged past empty pages) is the group if it exists: one call per group."""
        if group not in self._exists:
            first = find_first(
                self._logs,
                "describe_log_groups",
                "logGroups",
                lambda item: bool(item.get("logGroupName")),
                lookups,
                logGroupNamePrefix=group,
            )
            self._exists[group] = first is not None and first["logGroupName"] == group
        return self._exists[group]

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
    summary: dict[str, Any] = {
        "query": run.query.name,
        "matches": len(rows),
        "sample": [r.get("@message", "")[:_MESSAGE_CHARS] for r in rows[:_SAMPLE_LINES]],
    }
    missing = ""
    if run.missing:
        summary["missing_log_groups"] = run.missing
        missing = f"; {_missing_text(run.missing)} (left out)"
    if run.status == "Complete":
        message = f"{len(rows)} rows" if rows else "no matching lines in the window"
        if run.query.name == "recent_errors":
            message = f"{len(rows)} error lines" if rows else "no error lines in the window"
        return Finding(SOURCE, run.target, OK, message + missing, summary, run.evidence())
    if run.status in ("Running", "Scheduled"):
        message = f"query still running after {budget_seconds:.0f}s; stopped ({len(rows)} rows)"
        return Finding(SOURCE, run.target, TIMEOUT, message + missing, summary, run.evidence())
    message = f"query ended {run.status}{missing}"
    return Finding(SOURCE, run.target, ERROR, message, summary, run.evidence())


def _named(groups: list[str]) -> str:
    """The first few groups by name, and how many more."""
    named = ", ".join(groups[:_NAMED_MISSING])
    extra = len(groups) - _NAMED_MISSING
    return f"{named} and {extra} more" if extra > 0 else named


def _missing_text(missing: list[str]) -> str:
    if len(missing) == 1:
        return f"log group {missing[0]} does not exist"
    return f"{len(missing)} log groups do not exist: {_named(missing)}"


def _none_exist(run: QueryRun) -> Finding:
    """Not one group of the query exists: say which, and why that happens."""
    missing = run.missing
    what = (
        _missing_text(missing)
        if len(missing) == 1
        else f"none of the {len(missing)} log groups exist: {_named(missing)}"
    )
    message = f"{what}; query not run"
    if any(g.startswith("/aws/lambda/") for g in missing):
        message += (
            " (a Lambda function's log group appears with its first log line: never invoked, "
            "or logging to another group)"
        )
    summary = {"query": run.query.name, "matches": 0, "missing_log_groups": missing}
    evidence = run.evidence()
    return Finding(SOURCE, run.target, NOT_FOUND, message[:500], summary, evidence)
