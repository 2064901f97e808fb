"""The Step Functions execution history: what the workflow did and when.

Two views of the same events: timeline entries (states entered, failures, start and end) for
the full timeline, and state visits (entered, exited, errors met on the way) from which the
key moments are read: when the page went out, when diagnostics finished, when the recovery
wait ended. Failures are tied to their state by following `previousEventId`, so parallel
branches do not mix.
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import field

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
_MAX_WALK = 20


class StateVisit(msgspec.Struct):
    """One pass through a state: when it was entered and left, what failed inside it."""

    name: str
    entered: str
    exited: str | None = None
    errors: list[str] = field(default_factory=list)


class WorkflowHistory(msgspec.Struct):
    """The execution as the postmortem reads it; `unavailable` says why it is empty."""

    entries: list[TimelineEntry] = field(default_factory=list)
    visits: list[StateVisit] = field(default_factory=list)
    started: str | None = None
    ended: str | None = None
    unavailable: str = ""

    def first(self, *names: str) -> StateVisit | None:
        """The first visit of any of these states."""
        found = [v for v in self.visits if v.name in names]
        return min(found, key=lambda v: v.entered) if found else None

    def matching(self, fragment: str) -> list[StateVisit]:
        """Visits of states whose name contains `fragment` (e.g. escalation states)."""
        return [v for v in self.visits if fragment.lower() in v.name.lower()]


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


def _failure_detail(event: dict[str, Any], kind: str) -> str:
    details = event.get(_FAILURES[kind], {})
    return " ".join(str(details[k]) for k in ("error", "cause") if details.get(k))[:300]


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
            entries.append(TimelineEntry(at=at, event=kind, detail=_failure_detail(event, kind)))
    return entries


def _entered_by(
    event: dict[str, Any],
    by_id: dict[int, dict[str, Any]],
    visit_of_entry: dict[int, StateVisit],
    name: str = "",
) -> StateVisit | None:
    """The visit an event belongs to: walk `previousEventId` back to its StateEntered (of
    `name` when given: a Parallel state's exit follows its branches' events)."""
    current: dict[str, Any] | None = event
    for _ in range(_MAX_WALK):
        if current is None:
            break
        visit = visit_of_entry.get(int(current.get("id", 0)))
        if visit is not None and (not name or visit.name == name):
            return visit
        current = by_id.get(int(current.get("previousEventId", 0)))
    if name:
        open_visits = [v for v in visit_of_entry.values() if v.name == name and not v.exited]
        return open_visits[-1] if open_visits else None
    return None


def summarise(events: list[dict[str, Any]]) -> WorkflowHistory:
    """Timeline entries plus the visit of every state, from raw history events."""
    history = WorkflowHistory(entries=to_timeline(events))
    by_id = {int(e.get("id", 0)): e for e in events}
    visit_of_entry: dict[int, StateVisit] = {}
    for event in events:
        kind = str(event.get("type", ""))
        at = iso(parse_time(event["timestamp"]))
        if kind == "ExecutionStarted":
            history.started = at
        elif kind.startswith("Execution") and kind != "ExecutionStarted":
            history.ended = at
        if kind.endswith("StateEntered"):
            name = str(event.get("stateEnteredEventDetails", {}).get("name", ""))
            visit = StateVisit(name=name, entered=at)
            history.visits.append(visit)
            visit_of_entry[int(event.get("id", 0))] = visit
        elif kind.endswith("StateExited"):
            name = str(event.get("stateExitedEventDetails", {}).get("name", ""))
            exited = _entered_by(event, by_id, visit_of_entry, name)
            if exited is not None:
                exited.exited = at
        elif kind in _FAILURES and not kind.startswith("Execution"):
            failed = _entered_by(event, by_id, visit_of_entry)
            if failed is not None:
                failed.errors.append(_failure_detail(event, kind) or kind)
    return history
