"""The settings a replay runs with (runbook/replay/configuration.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runbook.local.synth import LOCAL_SETTINGS
from runbook.replay import ReplayError
from runbook.replay.configuration import (
    parse_sets,
    plan,
    read_context_file,
    recording_endpoint,
    repo_settings,
)


def test_the_repository_settings_are_cdk_jsons() -> None:
    settings = repo_settings()
    assert settings["correlationWindowMinutes"] == 5
    assert settings["maxEscalations"] == 2


def test_waits_are_divided_by_the_speed_and_the_rest_is_the_teams() -> None:
    replay = plan(repo_settings(), speed=120)
    assert replay.timing.recovery_timeout == 30  # 3600 s at 120x
    assert replay.timing.stabilisation == 3  # 300 s / 120 = 2.5, rounded half up
    assert replay.timing.heartbeat == replay.timing.recovery_timeout  # never lapses first
    assert replay.timing.tick == 2.0  # a history minute is 0.5 s: at most every 2 s
    overrides = replay.overrides
    assert overrides["recoveryTimeoutSeconds"] == 30
    assert overrides["stabilisationSeconds"] == 3
    # The team's value, not the emulator's default (LOCAL_SETTINGS has maxEscalations 1).
    assert LOCAL_SETTINGS["maxEscalations"] == 1
    assert overrides["maxEscalations"] == 2
    assert overrides["correlationWindowMinutes"] == 5
    assert "local" not in overrides
    # As AWS would run it (the report shows these).
    assert replay.settings["recoveryTimeoutSeconds"] == 3600


def test_every_topic_pages_a_recording_subscriber_and_nothing_leaves_the_machine() -> None:
    base = {
        **repo_settings(),
        "subscriptions": {"critical": [{"protocol": "https", "endpoint": "https://pager.example"}]},
        "slackSecretName": "runbook/slack",
        "slackResponders": ["U123ABC"],
        "diagnosticsRoleName": "runbook-read",
    }
    overrides = plan(base).overrides
    assert overrides["subscriptions"] == {
        topic: [{"protocol": "email", "endpoint": recording_endpoint(topic)}]
        for topic in ("critical", "high", "standard", "escalation")
    }
    assert overrides["slackSecretName"] == ""
    assert overrides["slackResponders"] == []
    assert overrides["diagnosticsRoleName"] == ""


def test_context_then_sets_override_in_either_spelling() -> None:
    replay = plan(
        repo_settings(),
        context={"correlationWindowMinutes": 10, "reopenWindowMinutes": 5},
        sets={"correlation_window_minutes": 2},
        speed=60,
    )
    assert replay.settings["correlationWindowMinutes"] == 2
    assert replay.settings["reopenWindowMinutes"] == 5
    assert replay.overrides["correlationWindowMinutes"] == 2
    assert "correlation_window_minutes" not in replay.overrides


@pytest.mark.parametrize(
    ("sets", "named"),
    [
        ({"correlationWindowMinute": 5}, "correlationWindowMinute"),
        ({"maxEscalations": "2"}, "maxEscalations"),
        ({"severityPatterns": [{"pattern": "(", "severity": "critical"}]}, "severityPatterns"),
    ],
)
def test_bad_settings_name_the_key(sets: dict, named: str) -> None:
    with pytest.raises(ReplayError, match=named):
        plan(repo_settings(), sets=sets)


@pytest.mark.parametrize("speed", [0.5, 5000])
def test_the_speed_is_bounded(speed: float) -> None:
    with pytest.raises(ReplayError, match="--speed must be between 1 and 3600"):
        plan(repo_settings(), speed=speed)


def test_parse_sets_reads_json_values_and_keeps_text() -> None:
    assert parse_sets(["a=5", "b=true", 'c=[{"x": 1}]', "d=UTC", "e=Europe/Paris"]) == {
        "a": 5,
        "b": True,
        "c": [{"x": 1}],
        "d": "UTC",
        "e": "Europe/Paris",
    }
    with pytest.raises(ReplayError, match="--set: expected KEY=VALUE"):
        parse_sets(["novalue"])


@pytest.mark.parametrize(
    "document",
    [
        {"context": {"incident-runbook": {"maxEscalations": 4}}},
        {"incident-runbook": {"maxEscalations": 4}},
        {"maxEscalations": 4},
    ],
)
def test_a_context_file_is_a_cdk_json_a_context_or_the_settings(
    tmp_path: Path, document: dict
) -> None:
    path = tmp_path / "try.json"
    path.write_text(json.dumps(document))
    assert read_context_file(path) == {"maxEscalations": 4}


def test_a_bad_context_file_says_so(tmp_path: Path) -> None:
    path = tmp_path / "try.json"
    path.write_text("[1]")
    with pytest.raises(ReplayError, match=r"--context .*expected a JSON object"):
        read_context_file(path)
    with pytest.raises(ReplayError, match="--context"):
        read_context_file(tmp_path / "missing.json")
