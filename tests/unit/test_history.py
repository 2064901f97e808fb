"""Execution history events (shaped as GetExecutionHistory returns them) to timeline entries
and state visits."""

from __future__ import annotations

from datetime import UTC, datetime

from postmortem.history import summarise, to_timeline

from .test_postmortem_cases import History, at, full_case, partial_case

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


def test_visits_know_when_each_state_was_entered_and_left() -> None:
    history = summarise(EVENTS)
    assert history.started == "2024-05-01T14:03:07Z"
    assert history.ended == "2024-05-01T14:03:16Z"
    classify = history.first("ClassifyIncident")
    assert classify is not None
    assert (classify.entered, classify.exited) == ("2024-05-01T14:03:08Z", "2024-05-01T14:03:11Z")
    assert classify.errors == ["TransientDependencyError throttled"]
    response = history.first("CriticalResponse")
    assert response is not None and response.exited is None


def test_parallel_branches_keep_their_own_exits_and_failures() -> None:
    history = partial_case().history
    page = history.first("PageOnCall")
    diagnostics = history.first("CollectDiagnostics")
    channel = history.first("CreateIncidentChannel")
    assert page is not None and diagnostics is not None and channel is not None
    assert page.exited == at(4) and page.errors == []
    # Caught failures: no exit, the error belongs to its own branch's state.
    assert diagnostics.exited is None
    assert diagnostics.errors == ["Lambda.Unknown <b>boom</b> | out of memory"]
    assert channel.errors == ["SlackChannelError Slack: not_authed"]
    # The Parallel state's exit follows its branches' events but is its own.
    assert history.first("CriticalResponse").exited == at(60)


def test_first_visit_and_matching_names() -> None:
    builder = History()
    start = builder.add(0, "ExecutionStarted")
    first_wait = builder.task(1, 10, "MonitorRecovery", start)
    escalate = builder.task(10, 11, "EscalateOnCall", first_wait)
    builder.task(11, 20, "MonitorRecovery", escalate)
    history = builder.summary()
    assert history.first("MonitorRecovery").entered == at(1)
    assert [v.name for v in history.matching("escalat")] == ["EscalateOnCall"]
    assert len([v for v in history.visits if v.name == "MonitorRecovery"]) == 2


def test_full_case_history_has_every_response_branch() -> None:
    history = full_case().history
    names = {v.name for v in history.visits}
    assert {"PageOnCall", "CollectDiagnostics", "CreateIncidentChannel", "MonitorRecovery"} <= names
    assert history.first("CollectDiagnostics").exited == at(28)
