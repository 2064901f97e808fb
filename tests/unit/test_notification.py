"""The page must be readable on a phone: short ASCII subject, body with when/where/links."""

from __future__ import annotations

from incidents.model import Incident, Resource
from incidents.notification import (
    SUBJECT_LIMIT,
    alarm_console_url,
    build_notification,
    subject,
)


def _incident(**overrides) -> Incident:
    base = {
        "incident_id": "inc-20240501-140307-0badcafe",
        "title": "orders-api-errors is in ALARM",
        "description": "Threshold Crossed: 12 errors",
        "severity": "critical",
        "severity_rule": "tag: Severity=critical",
        "source": "aws.cloudwatch",
        "alarm_name": "orders-api-errors",
        "alarm_arn": "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:orders-api-errors",
        "resources": [Resource(type="AWS::Lambda::Function", id="orders-api")],
        "account": "123456789012",
        "region": "eu-west-1",
        "opened_at": "2024-05-01T14:03:07Z",
        "execution_arn": (
            "arn:aws:states:eu-west-1:123456789012:execution:IncidentResponse:"
            "inc-20240501-140307-0badcafe"
        ),
    }
    return Incident(**{**base, **overrides})


def test_subject_names_severity_service_and_alarm() -> None:
    assert subject(_incident()) == "[CRITICAL] orders-api: orders-api-errors"


def test_subject_is_short_ascii_single_line_even_for_hostile_names() -> None:
    long_name = "très-long-alarm\nname " + "x" * 300
    text = subject(_incident(alarm_name=long_name, resources=[]))
    assert len(text) < 100
    assert len(text) <= SUBJECT_LIMIT
    assert text.isascii()
    assert "\n" not in text
    assert text.startswith("[CRITICAL] aws.cloudwatch: tr")
    assert text.endswith("...")


def test_message_says_what_when_and_where() -> None:
    message = build_notification(_incident(), "Europe/Berlin", "us-east-1")["message"]
    assert "Alarm: orders-api-errors" in message
    assert "2024-05-01 14:03:07 UTC" in message
    assert "2024-05-01 16:03:07 CEST" in message  # the team's zone, daylight saving included
    assert "https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1" in message
    assert "executions/details/arn:aws:states:eu-west-1:" in message
    assert "alarmsV2:alarm/orders-api-errors" in message
    assert "tag: Severity=critical" in message
    assert "runbook resolve inc-20240501-140307-0badcafe --note" in message


def test_message_in_utc_has_a_single_time_line() -> None:
    message = build_notification(_incident(), "UTC", "us-east-1")["message"]
    assert message.count("2024-05-01 14:03:07 UTC") == 1


def test_alarm_console_url_quotes_the_name() -> None:
    url = alarm_console_url("a b/c#d", "us-east-1")
    assert url.endswith("alarm/a%20b%2Fc%23d")
