"""Severity rules: operator, Severity tag, alarm-name pattern, namespace default, default."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest

from incidents.classification import SeverityPolicy, classify, severity_from_tags
from incidents.events import Signal, parse_alarm_event

POLICY = msgspec.convert(
    {
        "defaultSeverity": "standard",
        "severityPatterns": [
            {"pattern": "^prod-.*-5xx$", "severity": "critical"},
            {"pattern": "errors$", "severity": "high"},
            {"pattern": "orders", "severity": "standard"},
        ],
        "namespaceSeverity": {"AWS/RDS": "high", "AWS/SQS": "standard", "AWS/Lambda": "critical"},
    },
    SeverityPolicy,
)


def _signal(**overrides) -> Signal:
    base = {
        "kind": "alarm",
        "title": "t",
        "source": "aws.cloudwatch",
        "occurred_at": datetime(2024, 1, 1, tzinfo=UTC),
        "signal_key": "k",
        "alarm_name": "unmatched-alarm",
        "namespaces": [],
    }
    return Signal(**{**base, **overrides})


def test_operator_severity_wins() -> None:
    decided = classify(
        _signal(requested_severity="high", kind="operator"), POLICY, {"Severity": "critical"}
    )
    assert (decided.severity, decided.rule) == ("high", "operator: severity given")


def test_tag_beats_patterns(alarm_event) -> None:
    signal = parse_alarm_event(alarm_event())  # "orders-api-errors" matches the "errors$" pattern
    decided = classify(signal, POLICY, {"Severity": "critical"})
    assert (decided.severity, decided.rule) == ("critical", "tag: Severity=critical")


def test_tag_key_and_value_are_case_insensitive() -> None:
    assert severity_from_tags({"severity": " HIGH "}) == "high"


def test_unknown_tag_value_falls_through_to_patterns() -> None:
    decided = classify(_signal(alarm_name="orders-api-errors"), POLICY, {"Severity": "sev1"})
    assert (decided.severity, decided.rule) == ("high", "pattern: errors$")


def test_first_matching_pattern_wins() -> None:
    decided = classify(_signal(alarm_name="prod-orders-5xx"), POLICY)
    assert (decided.severity, decided.rule) == ("critical", "pattern: ^prod-.*-5xx$")


def test_namespace_default_takes_the_most_severe() -> None:
    decided = classify(_signal(namespaces=["AWS/SQS", "AWS/Lambda", "AWS/RDS"]), POLICY)
    assert (decided.severity, decided.rule) == ("critical", "namespace: AWS/Lambda")


def test_documented_default() -> None:
    decided = classify(_signal(namespaces=["AWS/EC2"]), SeverityPolicy())
    assert (decided.severity, decided.rule) == ("standard", "default")


def test_policy_rejects_invalid_regex_and_severity() -> None:
    bad_regex = {"severityPatterns": [{"pattern": "(", "severity": "high"}]}
    where = r"invalid regex '\(':.* - at `\$.severityPatterns\[0\]`"
    with pytest.raises(msgspec.ValidationError, match=where):
        msgspec.convert(bad_regex, SeverityPolicy)
    with pytest.raises(msgspec.ValidationError, match="defaultSeverity"):
        msgspec.convert({"defaultSeverity": "sev2"}, SeverityPolicy)
