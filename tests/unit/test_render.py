"""The postmortem: complete sections, merged timeline, escaped alarm and user text."""

from __future__ import annotations

from incidents.model import Incident, Resource, TimelineEntry
from postmortem.render import block, final_status, inline, render

RESPONSE = {
    "page": {"status": "sent", "message_id": "m-1"},
    "diagnostics": {
        "status": "partial",
        "evidence_uri": "s3://bucket/incidents/inc-1/diagnostics.json",
        "summary": {
            "sources": [
                {
                    "source": "logs_insights",
                    "target": "/aws/lambda/orders-api",
                    "status": "ok",
                    "message": "2 error lines",
                    "sample": ["ERROR KeyError: 'sku'"],
                },
                {
                    "source": "lambda_metrics",
                    "target": "orders-api",
                    "status": "throttled",
                    "message": "throttled by AWS",
                },
            ]
        },
    },
    "channel": {"status": "skipped", "reason": "Slack not configured"},
}


def _incident(**overrides) -> Incident:
    base = {
        "incident_id": "inc-20240501-140307-0badcafe",
        "title": "orders-api-errors is in ALARM",
        "description": "Threshold Crossed",
        "severity": "critical",
        "severity_rule": "pattern: errors$",
        "source": "aws.cloudwatch",
        "alarm_name": "orders-api-errors",
        "resources": [Resource(type="AWS::Lambda::Function", id="orders-api")],
        "opened_at": "2024-05-01T14:03:07Z",
        "timeline": [
            TimelineEntry(at="2024-05-01T14:03:07Z", event="opened"),
            TimelineEntry(at="2024-05-01T14:03:20Z", event="classified", detail="critical"),
        ],
    }
    return Incident(**{**base, **overrides})


def test_escaping_neutralises_markdown_and_html() -> None:
    assert inline("<script>alert(1)</script>") == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert inline("[click](http://evil)") == "\\[click\\](http://evil)"
    assert inline("a | b\nc") == "a \\| b c"
    assert inline("*bold* _it_ `code` # h") == "\\*bold\\* \\_it\\_ \\`code\\` \\# h"
    assert block("line one\n# heading\n") == "> line one\n> \\# heading"


def test_final_status() -> None:
    assert final_status({"status": "recovered"}) == "RESOLVED"
    assert final_status({"status": "resolved"}) == "RESOLVED"
    assert final_status({"status": "timed_out"}) == "UNRESOLVED"
    assert final_status({}) == "UNRESOLVED"


def test_render_has_every_section_and_the_rule() -> None:
    recovery = {
        "status": "recovered",
        "by": "alarm:orders-api-errors",
        "at": "2024-05-01T14:20:10Z",
    }
    history = [
        TimelineEntry(at="2024-05-01T14:03:10Z", event="step ClassifyIncident"),
        TimelineEntry(at="2024-05-01T14:03:30Z", event="step MonitorRecovery"),
    ]
    text = render(_incident(), RESPONSE, recovery, history, "Europe/Berlin")
    for heading in (
        "# Postmortem: orders-api-errors is in ALARM",
        "## Summary",
        "## Classification",
        "## Response",
        "## Diagnostics",
        "## Recovery",
        "## Timeline (UTC)",
    ):
        assert heading in text
    assert "| Status | RESOLVED |" in text
    assert "| Time to recover | 0h 17m 03s |" in text
    assert "decided by: pattern: errors$" in text
    assert "2024-05-01 16:03:07 CEST" in text
    assert "s3://bucket/incidents/inc-1/diagnostics.json" in text
    assert "| lambda\\_metrics | orders-api | throttled | throttled by AWS |" in text
    assert "KeyError: 'sku'" in text
    # Incident and workflow entries are merged in time order.
    order = [
        text.index("| opened |"),
        text.index("| step ClassifyIncident |"),
        text.index("| classified |"),
        text.index("| step MonitorRecovery |"),
    ]
    assert order == sorted(order)


def test_hostile_alarm_text_cannot_break_the_document() -> None:
    hostile = _incident(
        title="<img src=x onerror=alert(1)>",
        description="| injected | row |\n[phish](http://evil)",
    )
    text = render(hostile, {}, {"status": "timed_out", "by": "timeout"}, [])
    assert "<img" not in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text
    assert "[phish](" not in text
    assert "> \\| injected \\| row \\|" in text
    assert "| Status | UNRESOLVED |" in text
    assert "| Time to recover | - |" in text


def test_render_after_a_failed_response_branch() -> None:
    text = render(_incident(), {"status": "failed", "error": "States.Runtime"}, {}, [])
    assert "| response | failed | States.Runtime |" in text
    assert "No diagnostics were collected." in text
