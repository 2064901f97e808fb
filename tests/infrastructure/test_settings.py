"""stacks/settings.py against cdk.json, and how app context becomes settings and environment."""

from __future__ import annotations

import json
import re

import pytest
from aws_cdk import App

from stacks.application import cdk_json_context, resolve_environment, resolve_settings
from stacks.incident_runbook_stack import RETENTION_DAYS
from stacks.settings import CONTEXT_KEY, VALID_LOG_RETENTION_DAYS, Settings, SettingsError

from .conftest import REPO_ROOT

CDK_JSON = json.loads((REPO_ROOT / "cdk.json").read_text())
DOCUMENTED = CDK_JSON["context"][CONTEXT_KEY]


def test_cdk_json_documents_exactly_the_model_defaults() -> None:
    assert Settings().to_context() == DOCUMENTED
    assert Settings.from_context(DOCUMENTED) == Settings()


def test_cdk_json_runs_the_app_with_python() -> None:
    assert CDK_JSON["app"].split()[-1] == "app.py"
    assert CDK_JSON["app"].split()[0].startswith("python")


def test_every_contract_key_is_camel_case_in_cdk_json() -> None:
    assert set(DOCUMENTED) == {
        "recoveryTimeoutSeconds",
        "heartbeatSeconds",
        "stabilisationSeconds",
        "maxEscalations",
        "subscriptions",
        "slackSecretName",
        "slackResponders",
        "defaultSeverity",
        "severityPatterns",
        "namespaceSeverity",
        "sourceSeverity",
        "correlationWindowMinutes",
        "reopenWindowMinutes",
        "foldByResource",
        "diagnosticsLookbackMinutes",
        "logRetentionDays",
        "timezone",
        "powertoolsLayerVersion",
        "diagnosticsRoleName",
        "responseFile",
        "timeCompression",
        "drill",
        "local",
    }


def test_camel_case_and_snake_case_are_both_accepted() -> None:
    camel = Settings.from_context({"recoveryTimeoutSeconds": 600, "slackSecretName": "s"})
    snake = Settings.from_context({"recovery_timeout_seconds": 600, "slack_secret_name": "s"})
    assert camel == snake
    assert camel.recovery_timeout_seconds == 600


def test_a_json_string_from_cdk_dash_c_is_accepted() -> None:
    assert Settings.from_context('{"local": true}').local is True
    assert Settings.from_context(None) == Settings()


@pytest.mark.parametrize(
    "bad",
    [
        {"logRetentionDays": 31},
        {"recoveryTimeoutSeconds": 0},
        {"timezone": "Mars/Olympus_Mons"},
        {"defaultSeverity": "urgent"},
        {"severityPatterns": [{"pattern": "(unclosed", "severity": "high"}]},
        {"namespaceSeverity": {"AWS/RDS": "sev0"}},
        {"powertoolsLayerVersion": 0},
        {"diagnosticsRoleName": "not/a role"},
        {"recoveryTimeout": 60},  # a typo must not be ignored silently
    ],
)
def test_invalid_settings_are_rejected(bad: dict[str, object]) -> None:
    with pytest.raises(SettingsError):
        Settings.from_context(bad)


@pytest.mark.parametrize(
    ("bad", "named"),
    [
        ({"recoveryTimeoutSeconds": 0}, "`int` >= 1 - at `$.recoveryTimeoutSeconds`"),
        ({"recovery_timeout_seconds": "600"}, "`int`, got `str` - at `$.recoveryTimeoutSeconds`"),
        ({"recoveryTimeout": 60}, "unknown field `recoveryTimeout`"),
        ({"logRetentionDays": 31}, "logRetentionDays must be one of"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone: unknown time zone"),
        ({"severityPatterns": [{"pattern": "(", "severity": "high"}]}, "$.severityPatterns[0]"),
    ],
)
def test_a_settings_error_names_the_key(bad: dict[str, object], named: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_context(bad)
    assert str(caught.value).startswith(f"invalid {CONTEXT_KEY!r} settings: ")
    assert named in str(caught.value)


def test_of_two_spellings_of_a_key_the_later_wins() -> None:
    # cdk.json's camelCase value overlaid with a caller's snake_case one (resolve_settings).
    merged = {"recoveryTimeoutSeconds": 3600, "recovery_timeout_seconds": 900}
    assert Settings.from_context(merged).recovery_timeout_seconds == 900


def test_non_object_context_is_rejected() -> None:
    with pytest.raises(TypeError):
        Settings.from_context([1, 2])


def test_severity_policy_is_the_classify_contract() -> None:
    policy = json.loads(Settings().severity_policy_json())
    assert set(policy) == {
        "defaultSeverity",
        "severityPatterns",
        "namespaceSeverity",
        "sourceSeverity",
    }
    assert policy["defaultSeverity"] == "standard"
    assert all(set(p) == {"pattern", "severity"} for p in policy["severityPatterns"])
    first_match = next(
        p["severity"]
        for p in policy["severityPatterns"]
        if re.search(p["pattern"], "orders-api-P1-latency")
    )
    assert first_match == "critical"


def test_every_valid_retention_maps_to_a_cdk_retention() -> None:
    assert set(RETENTION_DAYS) == VALID_LOG_RETENTION_DAYS


def test_context_overrides_cdk_json_key_by_key() -> None:
    defaults = {CONTEXT_KEY: {**DOCUMENTED, "slackSecretName": "from-cdk-json"}}
    app = App(context={CONTEXT_KEY: {"local": True, "recoveryTimeoutSeconds": 5}})
    settings = resolve_settings(app, defaults)
    assert settings.local is True
    assert settings.recovery_timeout_seconds == 5
    assert settings.slack_secret_name == "from-cdk-json"  # kept from cdk.json


def test_cdk_json_context_is_read_from_the_repository() -> None:
    assert cdk_json_context()[CONTEXT_KEY] == DOCUMENTED
    assert cdk_json_context(REPO_ROOT / "no-such-file.json") == {}


def test_environment_falls_back_only_when_nothing_is_set(clean_cdk_env: pytest.MonkeyPatch) -> None:
    env = resolve_environment(App())
    assert (env.account, env.region) == ("123456789012", "us-east-1")

    clean_cdk_env.setenv("CDK_DEFAULT_ACCOUNT", "111111111111")
    clean_cdk_env.setenv("CDK_DEFAULT_REGION", "eu-west-1")
    env = resolve_environment(App())
    assert (env.account, env.region) == ("111111111111", "eu-west-1")

    env = resolve_environment(App(context={"account": "222222222222", "region": "ap-south-1"}))
    assert (env.account, env.region) == ("222222222222", "ap-south-1")


def test_subscriptions_are_validated_per_protocol_and_cover_every_topic() -> None:
    settings = Settings.from_context(
        {
            "subscriptions": {
                "critical": [
                    {"protocol": "email", "endpoint": "oncall@example.com"},
                    {"protocol": "sms", "endpoint": "+14155550100"},
                ],
                "escalation": [{"protocol": "https", "endpoint": "https://pager.example.com/x"}],
            }
        }
    )
    assert [s.protocol for s in settings.subscriptions["critical"]] == ["email", "sms"]
    assert settings.subscriptions["high"] == ()
    assert set(settings.subscriptions) == {"critical", "high", "standard", "escalation"}
    for bad in (
        {"protocol": "sms", "endpoint": "555-0100"},
        {"protocol": "email", "endpoint": "not-an-address"},
        {"protocol": "https", "endpoint": "http://insecure.example.com"},
        {"protocol": "lambda", "endpoint": "arn:aws:lambda:us-east-1:1:function:x"},
    ):
        with pytest.raises(SettingsError):
            Settings.from_context({"subscriptions": {"critical": [bad]}})
    with pytest.raises(SettingsError):
        Settings.from_context({"subscriptions": {"pager": []}})


def test_heartbeat_must_outlive_a_missed_watch_run_on_aws_but_not_locally() -> None:
    with pytest.raises(SettingsError, match="at least 120"):
        Settings.from_context({"heartbeatSeconds": 60})
    local = Settings.from_context(
        {"heartbeatSeconds": 10, "recoveryTimeoutSeconds": 20, "local": True}
    )
    assert local.state_heartbeat_seconds() == 10


def test_a_heartbeat_longer_than_the_wait_is_refused_on_aws_and_unchecked_locally() -> None:
    with pytest.raises(SettingsError, match="smaller than recoveryTimeoutSeconds"):
        Settings.from_context({"recoveryTimeoutSeconds": 240})
    settings = Settings.from_context({"recoveryTimeoutSeconds": 60, "local": True})
    assert not settings.heartbeat_checked
    assert settings.state_heartbeat_seconds() > 60


def test_slack_responders_are_user_ids() -> None:
    assert Settings.from_context({"slackResponders": ["U012AB3CD"]}).slack_responders == (
        "U012AB3CD",
    )
    with pytest.raises(SettingsError, match="Slack user ids"):
        Settings.from_context({"slackResponders": ["@alice"]})
