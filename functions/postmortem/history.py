"""The Step Functions execution history as timeline entries: what the workflow did and when."""

from __future__ import annotations

from typing import Any

from incidents.model import TimelineEntry
from shared.errors import transient_errors
from shared.timeutil import iso, parse_time

MAX_EVENTS = 2000
_FAILURES = {
    "TaskFailed": "taskFailedEventDetails",
    "TaskTimedOut": "taskTimedOutEventDetails",
    "LambdaFunctionFailed": "lambdaFunctionFailedEventDetails",
    "LambdaFunctionTimedOut": "lambdaFunctionTimedOutEventDetails",
    "ExecutionFailed": "executionFailedEventDetails",
    "ExecutionTimedOut": "executionTimedOutEventDetails",
    "ExecutionAborted": "executionAbortedEventDetails",
}


def fetch_history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    """Every history event (all pages, oldest first), capped at MAX_EVENTS."""
    events: list[dict[str, Any]] = []
    with transient_errors("Step Functions GetExecutionHistory"):
        paginator = sfn.get_paginator("get_execution_history")
        for page in paginator.paginate(executionArn=execution_arn, reverseOrder=False):
            events.extend(page.get("events", []))
            if len(events) >= MAX_EVENTS:
                break
    return events[:MAX_EVENTS]


def to_timeline(events: list[dict[str, Any]]) -> list[TimelineEntry]:
    """States entered, failures and the execution's start/end; exits and task plumbing omitted."""
    entries: list[TimelineEntry] = []
    for event in events:
        kind = str(event.get("type", ""))
        at = iso(parse_time(event["timestamp"]))
        if kind == "ExecutionStarted":
            entries.append(TimelineEntry(at=at, event="workflow started"))
        elif kind == "ExecutionSucceeded":
            entries.append(TimelineEntry(at=at, event="workflow succeeded"))
        elif kind.endswith("StateEntered"):
            name = event.get("stateEnteredEventDetails", {}).get("name", "")
            entries.append(TimelineEntry(at=at, event=f"step {name}"))
        elif kind in _FAILURES:
            details = event.get(_FAILURES[kind], {})
            detail = " ".join(str(details[k]) for k in ("error", "cause") if details.get(k))[:300]
            entries.append(TimelineEntry(at=at, event=kind, detail=detail))
    return entries
