"""Counting what the runbook did from its records and the SNS deliveries (report.py)."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

from runbook.replay.configuration import Timing
from runbook.replay.report import as_json, build, count_pages, handling, text

from .samples import T0

TOPICS = {
    "critical": "arn:aws:sns:us-east-1:123456789012:critical",
    "high": "arn:aws:sns:us-east-1:123456789012:high",
    "standard": "arn:aws:sns:us-east-1:123456789012:team",
    "escalation": "arn:aws:sns:us-east-1:123456789012:escalation",
}
TIMING = Timing(speed=120, recovery_timeout=30, stabilisation=3, heartbeat=30, tick=2.0)
SETTINGS = {
    "correlationWindowMinutes": 5,
    "reopenWindowMinutes": 30,
    "foldByResource": True,
    "recoveryTimeoutSeconds": 3600,
    "stabilisationSeconds": 300,
    "maxEscalations": 2,
    "severityPatterns": [{"pattern": "p1", "severity": "critical"}],
    "slackSecretName": "",
}
ARN = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:"


def delivery(topic: str, incident: str, severity: str, **extra: Any) -> dict[str, Any]:
    attributes = {
        "incident_id": {"Type": "String", "Value": incident},
        "severity": {"Type": "String", "Value": severity},
    }
    attributes.update(extra.pop("attributes", {}))
    return {
        "topic": TOPICS.get(topic, topic),
        "protocol": "email",
        "endpoint": extra.pop("endpoint", f"replay-{topic}@replay.invalid"),
        "subject": "s",
        "message": extra.pop("message", "[STANDARD] checkout-api"),
        "attributes": attributes,
    }


def record(incident_id: str, severity: str, alarms: list[str], **fields: Any) -> dict[str, Any]:
    """An incident item as boto3's resource layer returns it (Decimals, string sets)."""
    events = fields.pop("events", [])
    return {
        "incident_id": incident_id,
        "title": f"{alarms[0]} is in ALARM",
        "severity": severity,
        "severity_rule": "default",
        "status": fields.pop("status", "RESOLVED"),
        "source": "aws.cloudwatch",
        "alarm_name": alarms[0],
        "alarm_arn": ARN + alarms[0],
        "opened_at": fields.pop("opened_at", "2024-05-01T06:00:00Z"),
        "resolved_at": fields.pop("resolved_at", "2024-05-01T06:30:00Z"),
        "correlation_keys": {f"alarm:{ARN}{name}" for name in alarms},
        "signal_ids": {"x"},
        "signal_count": Decimal(fields.pop("signals", 1)),
        "timeline": [{"at": "2024-05-01T06:00:00Z", "event": e, "detail": ""} for e in events],
        **{key: Decimal(value) for key, value in fields.items()},
    }


def test_pages_per_severity_and_topic_leave_postmortem_notices_out() -> None:
    deliveries = [
        delivery("standard", "inc-1", "standard"),
        delivery("standard", "inc-1", "standard", attributes={"kind": {"Value": "postmortem"}}),
        delivery("critical", "inc-2", "critical"),
        delivery("critical", "inc-2", "critical", message="UPGRADED to CRITICAL while open"),
        delivery("escalation", "inc-2", "critical", attributes={"escalation": {"Value": "1"}}),
        delivery("escalation", "inc-1", "standard"),
        delivery("high", "inc-3", "high"),
        delivery("arn:aws:sns:us-east-1:123456789012:person-ann", "inc-3", "high"),  # not ours
        delivery("high", "inc-3", "high", endpoint="oncall@example.com"),  # not a recorder
    ]
    pages, per_incident = count_pages(deliveries, TOPICS)
    assert pages.response == {"critical": 1, "high": 1, "standard": 1}
    assert pages.upgrades == {"critical": 1, "high": 0, "standard": 0}
    assert pages.escalations == {"critical": 1, "high": 0, "standard": 1}
    assert pages.by_topic == {"critical": 2, "high": 1, "standard": 1, "escalation": 2}
    assert pages.postmortem_notices == 1
    assert pages.total == 6
    assert per_incident == {"inc-1": 1, "inc-2": 2, "inc-3": 1}
    assert pages.people == {}


def test_people_paged_on_their_own_topics_are_counted_apart() -> None:
    person = "arn:aws:sns:us-east-1:123456789012:IncidentRunbook-contact-{}"
    deliveries = [
        delivery(person.format("alice"), "inc-1", "critical", endpoint="+447700900001"),
        delivery(person.format("alice"), "inc-1", "critical", endpoint="alice@example.com"),
        delivery(person.format("bob"), "inc-1", "critical", endpoint="+447700900002"),
        delivery("critical", "inc-1", "critical"),
    ]
    pages, _ = count_pages(deliveries, TOPICS)
    assert pages.people == {"alice": 2, "bob": 1}
    assert pages.total == 1  # the severity topics' pages, as before


def test_incidents_and_totals_come_from_the_records() -> None:
    items = [
        record(
            "inc-storm",
            "standard",
            ["checkout-errors", "checkout-throttles", "checkout-duration"],
            signals=6,
            events=["opened", "folded", "folded", "correlated", "correlated", "correlated"],
            escalation_count=1,
        ),
        record(
            "inc-queue",
            "standard",
            ["orders-queue"],
            opened_at="2024-05-01T07:00:00Z",
            signals=4,
            events=["opened", "correlated", "reopened", "correlated", "late signal"],
            reopen_count=1,
            flap_count=2,
        ),
        record("inc-api", "critical", ["search-p1"], status="UNRESOLVED", escalation_count=3),
        record("inc-db", "high", ["db-cpu"], status="MONITORING", resolved_at=None),
    ]
    items[3].pop("resolved_at")
    report = build(
        incidents=items,
        deliveries=[delivery("standard", "inc-queue", "standard")] * 2,
        topics=TOPICS,
        settings=SETTINGS,
        timing=TIMING,
        start=T0,
        end=T0 + timedelta(hours=2),
        changes=20,
        alarms=6,
    )
    totals = report.totals
    assert totals.incidents == 4
    assert totals.by_severity == {"critical": 1, "high": 1, "standard": 2}
    assert (totals.storms, totals.folded, totals.joined) == (1, 2, 5)
    assert (totals.reopened, totals.flaps, totals.late) == (1, 2, 1)
    assert (totals.escalations, totals.unresolved, totals.open_at_end) == (4, 1, 1)
    storm = next(row for row in report.incidents if row.incident_id == "inc-storm")
    assert storm.alarms == ["checkout-duration", "checkout-errors", "checkout-throttles"]
    assert storm.signals == 6
    queue = next(row for row in report.incidents if row.incident_id == "inc-queue")
    assert queue.pages == 2
    assert [row.incident_id for row in report.incidents][-1] == "inc-queue"  # by opening time
    assert "severityPatterns" in report.settings and "slackSecretName" not in report.settings
    assert json.loads(as_json(report))["totals"]["folded"] == 2


def test_text_says_what_happened_and_what_ran() -> None:
    report = build(
        incidents=[record("inc-1", "critical", ["search-p1"])],
        deliveries=[delivery("critical", "inc-1", "critical")],
        topics=TOPICS,
        settings=SETTINGS,
        timing=TIMING,
        start=T0,
        end=T0 + timedelta(hours=1),
        changes=1,
        alarms=1,
        wall_seconds=75.2,
        skipped_seconds=7200,
        handling_seconds=[10.0, 20.0, 30.0],
        notes=["alarm x: no configuration in the input"],
    )
    printed = text(report)
    assert printed.startswith("Replay of 1 alarm state change of 1 alarm, 2024-05-01T06:00:00Z")
    assert "at 120x: 1 min 15 s (2 h 00 min of quiet history skipped)" in printed
    assert "recovery wait 30 s = 3600 s of history, stabilisation 3 s = 360 s" in printed
    assert "incidents opened        1  (critical 1, high 0, standard 0)" in printed
    assert "inc-1" in printed and "search-p1" in printed
    assert "  - alarm x: no configuration in the input" in printed
    assert "fell behind" not in printed


def test_handling_summary_and_a_note_when_the_runbook_fell_behind() -> None:
    assert handling([]).max == 0
    summary = handling([float(n) for n in range(1, 101)])
    assert (summary.median, summary.p90, summary.max) == (51.0, 91.0, 100.0)
    report = build(
        incidents=[],
        deliveries=[],
        topics=TOPICS,
        settings=SETTINGS,
        timing=TIMING,
        start=T0,
        end=T0,
        changes=1,
        alarms=1,
        handling_seconds=[5.0, 400.0],
    )
    assert any("handled up to 400 s of history late" in note for note in report.notes)
