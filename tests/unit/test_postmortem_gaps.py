"""The postmortem names every step that failed, even when a retry then succeeded (issue 7's
fault matrix: a transient failure the workflow absorbed must still be visible), and gives a
Lambda error's message rather than its whole error document."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from postmortem.gaps import gaps, response_gaps, retried_steps
from postmortem.graph import Graph
from postmortem.history import WorkflowHistory, summarise

T0 = datetime(2024, 5, 1, 14, 3, 7, tzinfo=UTC)
LAMBDA_ERROR = json.dumps(
    {
        "errorMessage": "S3 PutObject: InternalError",
        "errorType": "TransientDependencyError",
        "stackTrace": ['  File "/var/task/handlers/create_postmortem.py", line 80\n' * 20],
    },
    separators=(",", ":"),
)


def _events(*steps: tuple[str, list[tuple[str, str]]]) -> list[dict[str, Any]]:
    """History events: each state entered, its failed attempts (error, cause), then success."""
    events: list[dict[str, Any]] = []

    def add(kind: str, **details: Any) -> int:
        event_id = len(events) + 1
        stamp = T0 + timedelta(seconds=event_id)
        events.append(
            {"timestamp": stamp, "type": kind, "id": event_id, "previousEventId": event_id - 1}
        )
        events[-1].update(details)
        return event_id

    add("ExecutionStarted", executionStartedEventDetails={"input": "{}"})
    for name, failures in steps:
        add("TaskStateEntered", stateEnteredEventDetails={"name": name, "input": "{}"})
        for error, cause in failures:
            add("TaskScheduled", taskScheduledEventDetails={"resource": "invoke"})
            # The history keeps the first 300 characters of a cause.
            add("TaskFailed", taskFailedEventDetails={"error": error, "cause": cause[:300]})
        add("TaskScheduled", taskScheduledEventDetails={"resource": "invoke"})
        add("TaskSucceeded", taskSucceededEventDetails={"output": "{}"})
        add("TaskStateExited", stateExitedEventDetails={"name": name, "output": "{}"})
    return events


def test_a_step_retried_to_success_is_named_with_its_message() -> None:
    history = summarise(
        _events(
            ("ClassifyIncident", []),
            ("DocumentIncident", [("TransientDependencyError", LAMBDA_ERROR)]),
        )
    )
    (found,) = retried_steps(history)
    assert found.what == "The step DocumentIncident"
    assert found.why == "failed once: TransientDependencyError: S3 PutObject: InternalError"
    assert "stackTrace" not in found.why
    assert found.skipped  # not "missing": the summary's count of unknowns stays honest


def test_repeated_failures_are_counted_and_the_last_error_given() -> None:
    history = summarise(
        _events(
            (
                "PageOnCallHigh",
                [
                    ("SNS.InternalErrorException", "SNS had an internal error (Status Code: 500)"),
                    ("SNS.ThrottledException", "Rate exceeded"),
                ],
            )
        )
    )
    (found,) = retried_steps(history)
    assert found.why == "failed 2 times: SNS.ThrottledException: Rate exceeded"


def test_waits_that_time_out_are_escalations_not_failures() -> None:
    history = summarise(
        _events(("MonitorRecovery", [("States.Timeout", ""), ("States.HeartbeatTimeout", "")]))
    )
    assert retried_steps(history) == []


def test_a_failed_branch_gives_the_lambda_error_message() -> None:
    response = {
        "page": {"status": "sent"},
        "diagnostics": {"status": "completed"},
        "channel": {
            "status": "failed",
            "error": "TransientDependencyError",
            "cause": '{"errorMessage":"Slack: http_503","errorType":"TransientDependencyError",'
            '"stackTrace":["  File \\"/var/task/chat/slack.py\\", line 9"]}',
        },
    }
    (found,) = response_gaps(response, "critical")
    assert found.why == "failed: TransientDependencyError: Slack: http_503"
    plain = {**response, "channel": {"status": "failed", "error": "X", "cause": "{not json"}}
    assert response_gaps(plain, "critical")[0].why == "failed: X: {not json"


def test_the_failed_steps_are_listed_among_the_gaps() -> None:
    history = summarise(_events(("MonitorRecovery", [("TransientDependencyError", LAMBDA_ERROR)])))
    found = gaps(
        {"page": {"status": "sent"}, "diagnostics": {"status": "completed"}},
        {"status": "recovered"},
        "high",
        history,
        [],
        "",
        Graph(status="embedded"),
        [],
    )
    assert "The step MonitorRecovery" in [g.what for g in found]
    assert retried_steps(WorkflowHistory()) == []
