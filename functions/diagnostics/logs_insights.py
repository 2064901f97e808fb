"""Recent error lines of a Lambda function, through a CloudWatch Logs Insights query.

Insights queries are asynchronous: start one, then poll GetQueryResults with backoff until it
is Complete (or Failed/Cancelled/Timeout) or our time budget is spent, in which case the query
is stopped and whatever partial results exist are kept.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from diagnostics.finding import ERROR, OK, TIMEOUT, Finding, finding_from_client_error

SOURCE = "logs_insights"
ERROR_QUERY = (
    "fields @timestamp, @message, @logStream, @requestId"
    " | filter @message like /(?i)(error|exception|traceback|task timed out)/"
    " | sort @timestamp desc"
    " | limit 50"
)
_TERMINAL = frozenset({"Complete", "Failed", "Cancelled", "Timeout", "Unknown"})
_MESSAGE_CHARS = 300
_SAMPLE_LINES = 3


def log_group_for(function_name: str) -> str:
    """The default log group of a Lambda function."""
    return f"/aws/lambda/{function_name}"


def rows_to_dicts(results: list[list[dict[str, str]]]) -> list[dict[str, str]]:
    """Insights rows come as [{field, value}, ...]; drop the internal @ptr."""
    return [
        {cell["field"]: cell.get("value", "") for cell in row if cell.get("field") != "@ptr"}
        for row in results
    ]


class LogsInsights:
    """Runs the error query through an injected CloudWatch Logs client."""

    def __init__(
        self,
        logs: Any,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logs = logs
        self._sleep = sleep
        self._clock = clock

    def collect(
        self, function_name: str, start: datetime, end: datetime, budget_seconds: float
    ) -> Finding:
        """One finding for the function's log group, within `budget_seconds`."""
        group = log_group_for(function_name)
        deadline = self._clock() + budget_seconds
        try:
            query_id = self._logs.start_query(
                logGroupName=group,
                startTime=int(start.timestamp()),
                endTime=int(end.timestamp()),
                queryString=ERROR_QUERY,
                limit=50,
            )["queryId"]
            response = self._poll(query_id, deadline)
        except ClientError as exc:
            return finding_from_client_error(SOURCE, group, exc)
        rows = rows_to_dicts(response.get("results", []))
        status = response.get("status", "Unknown")
        evidence = {
            "query": ERROR_QUERY,
            "query_id": query_id,
            "status": status,
            "statistics": response.get("statistics", {}),
            "rows": rows,
        }
        summary = {
            "matches": len(rows),
            "sample": [r.get("@message", "")[:_MESSAGE_CHARS] for r in rows[:_SAMPLE_LINES]],
        }
        if status == "Complete":
            message = f"{len(rows)} error lines" if rows else "no error lines in the window"
            return Finding(SOURCE, group, OK, message, summary, evidence)
        if status == "Running" or status == "Scheduled":
            message = f"query still running after {budget_seconds:.0f}s; stopped ({len(rows)} rows)"
            return Finding(SOURCE, group, TIMEOUT, message, summary, evidence)
        return Finding(SOURCE, group, ERROR, f"query ended {status}", summary, evidence)

    def _poll(self, query_id: str, deadline: float) -> dict[str, Any]:
        delay = 0.25
        while True:
            response: dict[str, Any] = self._logs.get_query_results(queryId=query_id)
            if response.get("status") in _TERMINAL:
                return response
            remaining = deadline - self._clock()
            if remaining <= 0:
                self._stop(query_id)
                return response
            self._sleep(min(delay, remaining))
            delay = min(delay * 2, 5.0)

    def _stop(self, query_id: str) -> None:
        # The query may have finished meanwhile; then there is nothing to stop.
        with contextlib.suppress(ClientError):
            self._logs.stop_query(queryId=query_id)
