"""CloudWatch Logs Insights on the emulator, answered by runbook.insights.

moto's StartQuery understands only fields/sort/limit, so the diagnostics step's queries would
find nothing locally. The emulator answers StartQuery with the offline evaluator over the events
moto holds (the functions' logs, which telemetry.py ships there), keeps the outcome for
GetQueryResults and DescribeQueries, and answers StopQuery (every query here has finished by
the time StartQuery returns). A query the evaluator cannot parse is a MalformedQueryException,
as on AWS.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.core.utils import unix_time_millis, utcnow
from moto.logs.exceptions import InvalidParameterException, ResourceNotFoundException
from moto.logs.models import LogsBackend
from moto.logs.responses import LogsResponse

from runbook.insights import LogEvent, QueryOutcome, QuerySyntaxError, run_query


class MalformedQueryException(JsonRESTError):
    code = 400

    def __init__(self, error: QuerySyntaxError) -> None:
        super().__init__("MalformedQueryException", str(error))
        location = {"line": error.line, "column": error.column}
        self.description = json.dumps(
            {
                "__type": "MalformedQueryException",
                "message": str(error),
                "queryCompileError": {"location": {"startCharOffset": error.position, **location}},
            }
        )


class InsightsQuery:
    """A finished query, in the shape moto's backend keeps queries (see moto.logs LogQuery)."""

    def __init__(self, query: str, log_group_names: list[str], outcome: QueryOutcome) -> None:
        self.query_id = str(uuid.uuid4())
        self.query = query
        self.log_group_names = log_group_names
        self.create_time = utcnow()
        self.status = "Complete"
        self.outcome = outcome

    def to_json(self, log_group_name: str) -> dict[str, Any]:
        return {
            "queryId": self.query_id,
            "queryString": self.query,
            "status": self.status,
            "createTime": int(unix_time_millis(self.create_time)),
            "logGroupName": log_group_name,
        }

    def to_result_json(self) -> dict[str, Any]:
        return self.outcome.get_query_results()


def group_name(identifier: str) -> str:
    """A log group from a name or an ARN (``arn:...:log-group:NAME[:*]``)."""
    if identifier.startswith("arn:"):
        name = identifier.split(":log-group:", 1)[1]
        return name.removesuffix(":*")
    return identifier


def _events_of(backend: LogsBackend) -> Callable[[str, int, int], Iterator[LogEvent]]:
    def fetch(group: str, start_ms: int, end_ms: int) -> Iterator[LogEvent]:
        for stream in list(backend.groups[group].streams.values()):
            for event in list(stream.events):
                if start_ms <= event.timestamp <= end_ms:
                    yield LogEvent(
                        timestamp=int(event.timestamp),
                        message=str(event.message),
                        log_stream=str(stream.log_stream_name),
                        ingestion_time=int(event.ingestion_time),
                    )

    return fetch


def _start_query(self: LogsResponse) -> str:
    names = self._get_param("logGroupNames") or []
    if self._get_param("logGroupName"):
        if names:
            raise InvalidParameterException()
        names = [self._get_param("logGroupName")]
    names += [group_name(i) for i in self._get_param("logGroupIdentifiers") or []]
    backend = self.logs_backend
    for name in names:
        if name not in backend.groups:
            raise ResourceNotFoundException()
    query_string = self._get_param("queryString")
    try:
        outcome = run_query(
            query_string,
            names,
            self._get_int_param("startTime"),
            self._get_int_param("endTime"),
            _events_of(backend),
            limit=self._get_int_param("limit"),
            account_id=backend.account_id,
        )
    except QuerySyntaxError as err:
        raise MalformedQueryException(err) from err
    query = InsightsQuery(query_string, names, outcome)
    backend.queries[query.query_id] = query  # type: ignore[assignment]
    return json.dumps({"queryId": query.query_id})


def _stop_query(self: LogsResponse) -> str:
    # Queries finish inside StartQuery here, so there is never one left to stop.
    return json.dumps({"success": False})


_original_start_query = LogsResponse.start_query


def install_logs_insights() -> None:
    LogsResponse.start_query = _start_query  # type: ignore[method-assign]
    LogsResponse.stop_query = _stop_query  # type: ignore[attr-defined]


def remove_logs_insights() -> None:
    LogsResponse.start_query = _original_start_query  # type: ignore[method-assign]
    if "stop_query" in LogsResponse.__dict__:
        del LogsResponse.stop_query  # type: ignore[attr-defined]
