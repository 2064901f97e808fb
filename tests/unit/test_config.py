"""Settings: read lazily from the environment, validated once, clear errors when wrong."""

from __future__ import annotations

import json

import pytest

from shared.config import reset_settings, settings
from shared.errors import ConfigurationError


def test_defaults_without_environment() -> None:
    cfg = settings()
    assert cfg.timezone == "UTC"
    assert cfg.diagnostics_lookback_minutes == 30
    assert cfg.severity_policy.default_severity == "standard"
    assert cfg.slack_secret_name == ""


def test_reads_environment_once_until_reset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INCIDENT_TABLE_NAME", "first")
    assert settings().require("incident_table_name") == "first"
    monkeypatch.setenv("INCIDENT_TABLE_NAME", "second")
    assert settings().incident_table_name == "first"  # cached: read at cold start
    reset_settings()
    assert settings().incident_table_name == "second"


def test_policy_json_in_camel_case(monkeypatch: pytest.MonkeyPatch) -> None:
    policy = {
        "defaultSeverity": "high",
        "severityPatterns": [{"pattern": "^prod-", "severity": "critical"}],
        "namespaceSeverity": {"AWS/RDS": "high"},
    }
    monkeypatch.setenv("SEVERITY_POLICY", json.dumps(policy))
    monkeypatch.setenv("DIAGNOSTICS_LOOKBACK_MINUTES", "45")
    cfg = settings()
    assert cfg.severity_policy.default_severity == "high"
    assert cfg.severity_policy.severity_patterns[0].pattern == "^prod-"
    assert cfg.severity_policy.namespace_severity == {"AWS/RDS": "high"}
    assert cfg.diagnostics_lookback_minutes == 45


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("TIMEZONE", "Mars/Olympus", "TIMEZONE: unknown time zone 'Mars/Olympus'"),
        ("SEVERITY_POLICY", "{not json", "invalid SEVERITY_POLICY: not JSON"),
        ("SEVERITY_POLICY", '{"defaultSeverity": "sev1"}', "SEVERITY_POLICY: defaultSeverity: "),
        ("DIAGNOSTICS_LOOKBACK_MINUTES", "0", "DIAGNOSTICS_LOOKBACK_MINUTES: expected `int` >= 1"),
        ("MAX_ESCALATIONS", "two", "MAX_ESCALATIONS: expected `int`, got `str`"),
    ],
)
def test_invalid_values_fail_with_configuration_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as caught:
        settings()
    assert message in str(caught.value)


def test_require_names_the_missing_variable() -> None:
    with pytest.raises(ConfigurationError, match="ARTIFACT_BUCKET_NAME"):
        settings().require("artifact_bucket_name")
