"""The incidents the postmortem tests render: a full one (resolved by the alarm's OK, every
branch answered), a partial one (diagnostics and the channel failed, resolved by a person) and
an unresolved one (the recovery wait timed out; AWS-side verdict with a support-case draft).

Execution histories are shaped as GetExecutionHistory returns them (ids, previousEventId
chains, parallel branches). Alarm descriptions and log lines are hostile on purpose.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from incidents.model import Incident
from postmortem.graph import Graph
from postmortem.history import WorkflowHistory, summarise
from postmortem.render import PostmortemInput

T0 = datetime(2024, 5, 1, 14, 3, 7, tzinfo=UTC)
INCIDENT_ID = "inc-20240501-140307-0badcafe"
EXECUTION_ARN = (
    "arn:aws:states:eu-central-1:123456789012:execution:IncidentRunbook-incident-response:"
    + INCIDENT_ID
)
BUCKET = "incident-runbook-artifacts"
EVIDENCE_URI = f"s3://{BUCKET}/incidents/{INCIDENT_ID}/diagnostics.json"

# Things an alarm description, a log line or a person could write to break the document.
HOSTILE_DESCRIPTION = (
    "<script>alert(1)</script> [phish](http://evil.example) | fake | cell |\n"
    "# Fake heading\n```\n</details><img src=x onerror=alert(2)>\n```mermaid\n"
    "- [ ] fake task\n==="
)
HOSTILE_LOG_LINE = (
    "ERROR ```\n## injected <b>bold</b> | x | `tick` $$math$$ [link](javascript:alert(3))"
)
HOSTILE_NOTE = "fixed it :) <iframe src=evil> **bold** `code` \u202etxt.exe"
MERMAID_BREAKER = "x\n```\nsection Evil : crit, 2024-01-01, 1d\n%%{init: {}}%%; end"


def at(seconds: float) -> str:
    """T0 + seconds as the record stores times."""
    return (T0 + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class History:
    """Builds GetExecutionHistory-shaped events."""

    events: list[dict[str, Any]] = field(default_factory=list)

    def add(self, seconds: float, kind: str, previous: int | None = None, **details: Any) -> int:
        event_id = len(self.events) + 1
        self.events.append(
            {
                "timestamp": T0 + timedelta(seconds=seconds),
                "type": kind,
                "id": event_id,
                "previousEventId": event_id - 1 if previous is None else previous,
                **details,
            }
        )
        return event_id

    def enter(
        self, seconds: float, name: str, kind: str = "Task", previous: int | None = None
    ) -> int:
        details = {"stateEnteredEventDetails": {"name": name, "input": "{}"}}
        return self.add(seconds, f"{kind}StateEntered", previous, **details)

    def leave(self, seconds: float, name: str, previous: int, kind: str = "Task") -> int:
        details = {"stateExitedEventDetails": {"name": name, "output": "{}"}}
        return self.add(seconds, f"{kind}StateExited", previous, **details)

    def task(self, start: float, end: float, name: str, previous: int | None = None) -> int:
        """A Task that succeeds: entered, scheduled, started, succeeded, exited."""
        entered = self.enter(start, name, previous=previous)
        scheduled = self.add(start, "TaskScheduled", entered)
        started = self.add(start, "TaskStarted", scheduled)
        succeeded = self.add(end, "TaskSucceeded", started)
        return self.leave(end, name, succeeded)

    def failing_task(
        self, start: float, end: float, name: str, error: str, cause: str, previous: int
    ) -> int:
        """A Task that fails (caught by the ASL): entered, scheduled, started, failed."""
        entered = self.enter(start, name, previous=previous)
        scheduled = self.add(start, "TaskScheduled", entered)
        started = self.add(start, "TaskStarted", scheduled)
        details = {"taskFailedEventDetails": {"error": error, "cause": cause}}
        return self.add(end, "TaskFailed", started, **details)

    def summary(self) -> WorkflowHistory:
        return summarise(self.events)


def _record_timeline(*entries: tuple[float, str, str]) -> list[dict[str, str]]:
    return [{"at": at(s), "event": e, "detail": d} for s, e, d in entries]


def _incident(severity: str, timeline: list[dict[str, str]], **extra: Any) -> Incident:
    return msgspec.convert(
        {
            "incident_id": INCIDENT_ID,
            "title": "orders-api-errors is in ALARM",
            "description": HOSTILE_DESCRIPTION,
            "severity": severity,
            "severity_rule": "tag: Severity=" + severity,
            "status": "MONITORING",
            "source": "aws.cloudwatch",
            "alarm_name": "orders-api-errors",
            "alarm_arn": "arn:aws:cloudwatch:eu-central-1:123456789012:alarm:orders-api-errors",
            "resources": [{"type": "AWS::Lambda::Function", "id": "orders-api"}],
            "account": "123456789012",
            "region": "eu-central-1",
            "opened_at": at(0),
            "execution_arn": EXECUTION_ARN,
            "timeline": timeline,
            **extra,
        },
        Incident,
    )


APPLICATION_VERDICT = {
    "domain": "application",
    "headline": "The application: Lambda invocations timed out",
    "scope": "1 of 1 functions",
    "causes": [
        {
            "code": "lambda.task_timed_out",
            "domain": "application",
            "title": "Lambda invocations timed out",
            "fix": "Find the slow call in the traces; raise the timeout only if the work is legit.",
            "scope": "1 of 1 functions",
            "resources": ["orders-api"],
            "evidence": [HOSTILE_LOG_LINE],
            "ongoing": None,
            "started_at": None,
        }
    ],
    "ruled_out": ["no AWS Health issue for these services and regions", "no Lambda throttling"],
    "other_evidence": [],
    "sources_failed": [],
}
RECENT_ERRORS_QUERY = "fields @timestamp, @message\n| filter @message like /ERROR/\n| limit 50"
EVIDENCE = {
    "incident_id": INCIDENT_ID,
    "collected_at": at(28),
    "window": {"start": "2024-05-01T13:33:07Z", "end": at(28)},
    "verdict": APPLICATION_VERDICT,
    "support_case": {},
    "findings": [
        {
            "source": "health",
            "target": "eu-central-1",
            "status": "ok",
            "message": "no open AWS Health issue",
            "summary": {"via": "health api", "events": 0, "open": 0},
            "evidence": {"events": []},
            "causes": [],
        },
        {
            "source": "lambda_metrics",
            "target": "orders-api",
            "status": "ok",
            "message": "orders-api: 12 errors",
            "summary": {"functions": {"orders-api": {"errors": 12, "throttles": 0}}},
            "evidence": {},
            "causes": [],
        },
        {
            "source": "xray",
            "target": "traces",
            "status": "ok",
            "message": "2 traces slower than 3s",
            "summary": {
                "filter": '(service("orders-api")) AND responsetime > 3',
                "slow_traces": 2,
                "slowest_segments": [
                    {
                        "name": "DynamoDB",
                        "duration_ms": 2900.0,
                        "trace_id": "1-5f84c7a1-0123456789abcdef01234567",
                        "fault": True,
                    }
                ],
            },
            "evidence": {},
            "causes": [],
        },
        {
            "source": "logs_insights",
            "target": "recent_errors: /aws/lambda/orders-api",
            "status": "ok",
            "message": "2 error lines",
            "summary": {
                "query": "recent_errors",
                "matches": 2,
                "sample": [HOSTILE_LOG_LINE, "Task timed out after 3.00 seconds"],
            },
            "evidence": {
                "query": RECENT_ERRORS_QUERY,
                "query_id": "q-1",
                "log_groups": ["/aws/lambda/orders-api"],
                "status": "Complete",
                "rows": [],
            },
            "causes": [],
        },
    ],
}


def full_case() -> PostmortemInput:
    """Critical, every branch answered, acknowledged and escalated once, recovered by OK."""
    history = History()
    started = history.add(1, "ExecutionStarted")
    classified = history.task(1, 2, "ClassifyIncident", started)
    choice = history.enter(2, "DetermineResponse", "Choice", classified)
    choice_out = history.leave(2, "DetermineResponse", choice, "Choice")
    parallel = history.enter(2, "CriticalResponse", "Parallel", choice_out)
    branch = history.add(2, "ParallelStateStarted", parallel)
    history.task(2, 3, "PageOnCall", branch)
    history.task(2, 28, "CollectDiagnostics", branch)
    last = history.task(2, 5, "CreateIncidentChannel", branch)
    done = history.add(28, "ParallelStateSucceeded", last)
    response_out = history.leave(28, "CriticalResponse", done, "Parallel")
    monitor = history.task(29, 1023, "MonitorRecovery", response_out)
    history.enter(1024, "DocumentIncident", previous=monitor)
    incident = _incident(
        "critical",
        _record_timeline(
            (0, "opened", "aws.cloudwatch"),
            (1, "workflow started", EXECUTION_ARN),
            (2, "classified", "critical (tag: Severity=critical)"),
            (5, "channel created", "inc-20240501-orders-api-errors"),
            (30, "monitoring", "waiting for recovery"),
            (118, "alarm fired again", "inc-20240501-140505-0badcafe"),
            (180, "acknowledged", "by operator:alice"),
            (600, "escalated", "no recovery after 10 minutes"),
            (1023, "resolved", "by alarm:orders-api-errors"),
        ),
        resolved_at=at(1023),
        resolved_by="alarm:orders-api-errors",
        channel={"status": "created", "id": "C123", "name": "inc-20240501-orders-api-errors"},
    )
    response = {
        "page": {"status": "sent", "message_id": "m-1"},
        "diagnostics": {
            "status": "completed",
            "summary": {
                "window": EVIDENCE["window"],
                "verdict": APPLICATION_VERDICT,
                "sources": [],
            },
            "evidence_uri": EVIDENCE_URI,
        },
        "channel": {
            "status": "created",
            "detail": {"status": "created", "channel_id": "C123", "channel_name": "inc-x"},
        },
    }
    recovery = {"status": "recovered", "by": "alarm:orders-api-errors", "at": at(1023), "note": ""}
    return PostmortemInput(
        incident=incident,
        response=response,
        recovery=recovery,
        history=history.summary(),
        closed_at=at(1025),
        timezone="Europe/Berlin",
        region="eu-central-1",
        evidence=EVIDENCE,
        graph=Graph(
            "embedded",
            title="orders-api-errors",
            image="metric.png",
            console_url="https://eu-central-1.console.aws.amazon.com/cloudwatch/home",
        ),
    )


def partial_case() -> PostmortemInput:
    """Critical; diagnostics and the channel failed after retries; resolved by an operator."""
    history = History()
    started = history.add(1, "ExecutionStarted")
    classified = history.task(1, 2, "ClassifyIncident", started)
    parallel = history.enter(2, "CriticalResponse", "Parallel", classified)
    branch = history.add(2, "ParallelStateStarted", parallel)
    history.task(2, 4, "PageOnCall", branch)
    failed = history.failing_task(
        2, 60, "CollectDiagnostics", "Lambda.Unknown", "<b>boom</b> | out of memory", branch
    )
    history.enter(60, "DiagnosticsFailed", "Pass", failed)
    channel_failed = history.failing_task(
        2, 7, "CreateIncidentChannel", "SlackChannelError", "Slack: not_authed", branch
    )
    history.enter(7, "ChannelFailed", "Pass", channel_failed)
    done = history.add(60, "ParallelStateSucceeded")
    out = history.leave(60, "CriticalResponse", done, "Parallel")
    monitor = history.task(61, 900, "MonitorRecovery", out)
    history.enter(901, "DocumentIncident", previous=monitor)
    incident = _incident(
        "critical",
        _record_timeline(
            (0, "opened", "aws.cloudwatch"),
            (1, "workflow started", EXECUTION_ARN),
            (62, "monitoring", "waiting for recovery"),
            (900, "resolved", "by operator:bob"),
        ),
        resolved_at=at(900),
        resolved_by="operator:bob",
        resolution_note=HOSTILE_NOTE,
    )
    response = {
        "page": {"status": "sent", "message_id": "m-2"},
        "diagnostics": {
            "status": "failed",
            "error": "Lambda.Unknown",
            "cause": "<b>boom</b> | out of memory",
        },
        "channel": {"status": "failed", "error": "SlackChannelError", "cause": "Slack: not_authed"},
    }
    recovery = {"status": "resolved", "by": "operator:bob", "at": at(900), "note": HOSTILE_NOTE}
    return PostmortemInput(
        incident=incident,
        response=response,
        recovery=recovery,
        history=history.summary(),
        closed_at=at(902),
        timezone="America/New_York",
        region="eu-central-1",
        evidence_note="diagnostics recorded no evidence document",
        graph=Graph(
            "unavailable",
            reason="GetMetricWidgetImage failed (InternalFailure, HTTP 500)",
            console_url="https://eu-central-1.console.aws.amazon.com/cloudwatch/home#metricsV2:",
            alarm_url="https://eu-central-1.console.aws.amazon.com/cloudwatch/home#alarmsV2:",
        ),
    )


AWS_VERDICT = {
    "domain": "aws",
    "headline": "AWS side: EC2 system status check failed",
    "scope": "1 of 2 instances",
    "causes": [
        {
            "code": "ec2.system_status_impaired",
            "domain": "aws",
            "title": "EC2 system status check failed",
            "fix": "Stop and start the instance to move it to healthy hardware.",
            "scope": "1 of 2 instances",
            "resources": ["i-0123456789abcdef0"],
            "evidence": ["i-0123456789abcdef0: system reachability failed since 13:58"],
            "ongoing": True,
            "started_at": "2024-05-01T13:58:00Z",
        }
    ],
    "ruled_out": [],
    "other_evidence": ["lambda.errors"],
    "sources_failed": ["logs_insights (timeout)"],
}
SUPPORT_CASE = {
    "subject": "EC2 system status check failed (eu-central-1)",
    "severity": "high",
    "account": "123456789012",
    "region": "eu-central-1",
    "affected_resources": ["i-0123456789abcdef0"],
    "started_at": "2024-05-01T13:58:00+00:00 (UTC)",
    "ongoing": True,
    "evidence": {"aws_side": ["system reachability failed"], "log_excerpts": [], "trace_ids": []},
    "body": (
        "Incident inc-...: orders-api-errors is in ALARM\n```\nWhat we see:\n- EC2 system status"
    ),
}


def unresolved_case() -> PostmortemInput:
    """High severity; nobody resolved it within the recovery wait; AWS-side verdict; one source
    timed out; no execution history could be read."""
    incident = _incident(
        "high",
        _record_timeline(
            (0, "opened", "aws.cloudwatch"),
            (1, "workflow started", EXECUTION_ARN),
            (31, "monitoring", "waiting for recovery"),
        ),
        signal_count=7,
    )
    response = {
        "page": {"status": "sent", "message_id": "m-3"},
        "diagnostics": {
            "status": "partial",
            "summary": {
                "window": {"start": "2024-05-01T13:33:07Z", "end": at(30)},
                "verdict": AWS_VERDICT,
                "support_case": SUPPORT_CASE,
                "sources": [
                    {
                        "source": "ec2",
                        "target": "i-0123456789abcdef0",
                        "status": "ok",
                        "message": "1 of 2 instances impaired",
                    },
                    {
                        "source": "logs_insights",
                        "target": "recent_errors: /aws/lambda/orders-api",
                        "status": "timeout",
                        "message": "query still running after 60s; stopped (0 rows)",
                        "query": "recent_errors",
                        "matches": 0,
                        "sample": [],
                    },
                ],
            },
            "evidence_uri": EVIDENCE_URI,
        },
        "channel": {"status": "skipped", "reason": "no incident channel below critical severity"},
    }
    recovery = {"status": "timed_out", "by": "timeout", "error": "States.Timeout"}
    return PostmortemInput(
        incident=incident,
        response=response,
        recovery=recovery,
        history=WorkflowHistory(unavailable="GetExecutionHistory failed (AccessDeniedException)"),
        closed_at=at(3632),
        timezone="UTC",
        region="eu-central-1",
        evidence_note="it could not be read (NoSuchKey)",
        graph=Graph(
            "unavailable",
            reason="the alarm orders-api-errors was not found in this account and region",
        ),
    )


def test_the_cases_are_consistent() -> None:
    full, partial, unresolved = full_case(), partial_case(), unresolved_case()
    assert full.history.started == at(1) and full.history.first("PageOnCall").exited == at(3)
    assert partial.history.first("CollectDiagnostics").errors == [
        "Lambda.Unknown <b>boom</b> | out of memory"
    ]
    assert unresolved.history.unavailable
    assert MERMAID_BREAKER
