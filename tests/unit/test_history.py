"""Execution history events (shaped as GetExecutionHistory returns them) to timeline entries."""

from __future__ import annotations

from datetime import UTC, datetime

from postmortem.history import to_timeline

T0 = datetime(2024, 5, 1, 14, 3, 7, tzinfo=UTC)


def _at(seconds: int) -> datetime:
    return T0.replace(second=7 + seconds)


EVENTS = [
    {
        "timestamp": _at(0),
        "type": "ExecutionStarted",
        "id": 1,
        "previousEventId": 0,
        "executionStartedEventDetails": {"input": "{}", "roleArn": "arn:aws:iam::1:role/r"},
    },
    {
        "timestamp": _at(1),
        "type": "TaskStateEntered",
        "id": 2,
        "previousEventId": 1,
        "stateEnteredEventDetails": {"name": "ClassifyIncident", "input": "{}"},
    },
    {
        "timestamp": _at(2),
        "type": "TaskScheduled",
        "id": 3,
        "previousEventId": 2,
        "taskScheduledEventDetails": {"resourceType": "lambda", "resource": "invoke"},
    },
    {
        "timestamp": _at(3),
        "type": "TaskFailed",
        "id": 4,
        "previousEventId": 3,
        "taskFailedEventDetails": {"error": "TransientDependencyError", "cause": "throttled"},
    },
    {
        "timestamp": _at(4),
        "type": "TaskStateExited",
        "id": 5,
        "previousEventId": 4,
        "stateExitedEventDetails": {"name": "ClassifyIncident", "output": "{}"},
    },
    {
        "timestamp": _at(5),
        "type": "ParallelStateEntered",
        "id": 6,
        "previousEventId": 5,
        "stateEnteredEventDetails": {"name": "CriticalResponse", "input": "{}"},
    },
    {
        "timestamp": _at(9),
        "type": "ExecutionSucceeded",
        "id": 7,
        "previousEventId": 6,
        "executionSucceededEventDetails": {"output": "{}"},
    },
]


def test_history_becomes_a_readable_timeline() -> None:
    entries = to_timeline(EVENTS)
    assert [(e.at, e.event, e.detail) for e in entries] == [
        ("2024-05-01T14:03:07Z", "workflow started", ""),
        ("2024-05-01T14:03:08Z", "step ClassifyIncident", ""),
        ("2024-05-01T14:03:10Z", "TaskFailed", "TransientDependencyError throttled"),
        ("2024-05-01T14:03:12Z", "step CriticalResponse", ""),
        ("2024-05-01T14:03:16Z", "workflow succeeded", ""),
    ]
