"""The ingest policy (INGEST_POLICY), the per-source severity defaults and their settings."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from msgspec.structs import replace

from incidents.classification import (
    SeverityPolicy,
    classify,
    less_severe_than,
    more_severe,
)
from incidents.policy import IngestPolicy, ingest_policy, reset_ingest_policy
from incidents.sources import parse_source_event
from shared.errors import ConfigurationError
from stacks.settings import Settings, SettingsError
from tests.unit.test_events_sources import (
    HEALTH_EC2_ISSUE,
    HEALTH_EC2_RETIREMENT,
    codedeploy_event,
    ecs_stopped,
)

POLICY = msgspec.json.decode(Settings().severity_policy_json(), type=SeverityPolicy)


@pytest.fixture
def fresh_policy():
    reset_ingest_policy()
    yield
    reset_ingest_policy()


def test_ingest_policy_defaults_match_the_settings(fresh_policy, monkeypatch) -> None:
    monkeypatch.delenv("INGEST_POLICY", raising=False)
    assert ingest_policy() == msgspec.json.decode(
        Settings().ingest_policy_json(), type=IngestPolicy
    )
    assert ingest_policy().correlation_window == timedelta(minutes=5)
    assert ingest_policy().reopen_window == timedelta(minutes=30)
    assert ingest_policy().fold_by_resource is True


def test_ingest_policy_from_the_environment(fresh_policy, monkeypatch) -> None:
    monkeypatch.setenv(
        "INGEST_POLICY",
        '{"correlationWindowMinutes": 2, "reopenWindowMinutes": 0, "foldByResource": false}',
    )
    policy = ingest_policy()
    assert (policy.correlation_window_minutes, policy.reopen_window_minutes) == (2, 0)
    assert policy.fold_by_resource is False


@pytest.mark.parametrize("raw", ["{", '{"reopenWindowMinutes": -1}', '{"foldByResource": "x"}'])
def test_invalid_ingest_policy_is_a_configuration_error(fresh_policy, monkeypatch, raw) -> None:
    monkeypatch.setenv("INGEST_POLICY", raw)
    with pytest.raises(ConfigurationError):
        ingest_policy()


@pytest.mark.parametrize(
    ("event", "severity", "rule"),
    [
        (HEALTH_EC2_ISSUE, "high", "source: aws.health/issue"),
        (HEALTH_EC2_RETIREMENT, "standard", "source: aws.health/scheduledChange"),
        (ecs_stopped(), "high", "source: aws.ecs"),
        (codedeploy_event(), "high", "source: aws.codedeploy"),
    ],
)
def test_source_defaults_decide_and_say_so(event, severity, rule) -> None:
    decided = classify(parse_source_event(event), POLICY)
    assert (decided.severity, decided.rule) == (severity, rule)


def test_the_more_specific_source_key_wins() -> None:
    policy = replace(
        POLICY,
        source_severity={"aws.ecs": "standard", "aws.ecs/TaskFailedToStart": "critical"},
    )
    failed = parse_source_event(ecs_stopped("TaskFailedToStart", "CannotPullContainerError", None))
    assert classify(failed, policy).rule == "source: aws.ecs/TaskFailedToStart"
    assert classify(parse_source_event(ecs_stopped()), policy).rule == "source: aws.ecs"


def test_alarm_rules_come_before_the_source_default(alarm_event) -> None:
    policy = replace(POLICY, source_severity={"aws.cloudwatch": "critical"})
    signal = parse_source_event(alarm_event(alarm_name="orders-p2-latency"))
    assert classify(signal, policy).rule.startswith("pattern:")
    plain = parse_source_event(alarm_event(alarm_name="orders-latency"))
    assert classify(plain, policy).rule == "source: aws.cloudwatch"


def test_severity_order() -> None:
    assert more_severe("critical", "high") and more_severe("high", "standard")
    assert not more_severe("high", "high") and not more_severe("standard", "critical")
    assert less_severe_than("critical") == ["high", "standard"]
    assert less_severe_than("standard") == []


@pytest.mark.parametrize(
    "bad",
    [
        {"sourceSeverity": {"AWS Health": "high"}},
        {"sourceSeverity": {"aws.health/issue": "urgent"}},
        {"correlationWindowMinutes": -1},
        {"reopenWindowMinutes": 7 * 24 * 60 + 1},
    ],
)
def test_invalid_ingest_settings_are_rejected(bad) -> None:
    with pytest.raises(SettingsError):
        Settings.from_context(bad)


def test_settings_render_the_ingest_policy() -> None:
    settings = Settings.from_context(
        {"correlationWindowMinutes": 1, "reopenWindowMinutes": 60, "foldByResource": False}
    )
    assert json.loads(settings.ingest_policy_json()) == {
        "correlationWindowMinutes": 1,
        "reopenWindowMinutes": 60,
        "foldByResource": False,
    }


def test_signal_times_without_a_zone_are_utc() -> None:
    event = ecs_stopped(stopped_at="2020-01-23T18:04:10")
    signal = parse_source_event(event)
    assert signal.occurred_at == datetime(2020, 1, 23, 18, 4, 10, tzinfo=UTC)
