"""chat.secret against moto (and botocore's Stubber for the errors moto cannot produce): the
shapes the Slack secret may take, the five-minute cache, and errors that never show a value."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from chat.secret import SlackCredentials, clear_cache, slack_credentials
from shared.errors import ConfigurationError, TransientDependencyError

TOKEN = "xoxb-1111-secret-test-token"
SIGNING = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def secrets(moto, monkeypatch) -> Any:
    monkeypatch.setenv("SLACK_SECRET_NAME", "slack")
    return boto3.client("secretsmanager", region_name="us-east-1")


def test_json_secret_gives_both_values(secrets) -> None:
    secrets.create_secret(
        Name="slack", SecretString=json.dumps({"bot_token": TOKEN, "signing_secret": SIGNING})
    )
    assert slack_credentials() == SlackCredentials(bot_token=TOKEN, signing_secret=SIGNING)


def test_a_raw_token_is_the_bot_token_only(secrets) -> None:
    secrets.create_secret(Name="slack", SecretString=f"\n{TOKEN}  ")
    assert slack_credentials() == SlackCredentials(bot_token=TOKEN, signing_secret="")


def test_the_value_is_cached_until_the_cache_is_cleared(secrets) -> None:
    secrets.create_secret(Name="slack", SecretString=json.dumps({"bot_token": TOKEN}))
    assert slack_credentials().bot_token == TOKEN
    secrets.put_secret_value(SecretId="slack", SecretString=json.dumps({"bot_token": "xoxb-new"}))
    assert slack_credentials().bot_token == TOKEN  # within max_age: no second read
    clear_cache()
    assert slack_credentials().bot_token == "xoxb-new"


def test_an_explicit_name_and_client_are_used(secrets) -> None:
    secrets.create_secret(Name="other", SecretString=json.dumps({"bot_token": "xoxb-other"}))
    assert slack_credentials("other", secrets).bot_token == "xoxb-other"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (json.dumps({"signing_secret": SIGNING}), 'has no "bot_token"'),
        (json.dumps({"bot_token": "  "}), 'has no "bot_token"'),
        (json.dumps({"bot_token": 42}), 'has no "bot_token"'),
        (json.dumps(["xoxb"]), "is neither JSON"),
        ("{not json " + TOKEN, "is not valid JSON"),
        ("xoxb one two", "is neither JSON"),
        (json.dumps({"bot_token": TOKEN, "signing_secret": 7}), "signing_secret"),
        ("   ", "is empty"),
    ],
)
def test_unusable_secrets_are_configuration_errors(secrets, value, message) -> None:
    secrets.create_secret(Name="slack", SecretString=value)
    with pytest.raises(ConfigurationError, match=message) as caught:
        slack_credentials()
    assert "'slack'" in str(caught.value)
    assert TOKEN not in str(caught.value) and SIGNING not in str(caught.value)


def test_not_configured_and_missing_secrets(secrets, monkeypatch) -> None:
    with pytest.raises(ConfigurationError, match="'slack' does not exist"):
        slack_credentials()
    with pytest.raises(ConfigurationError, match="SLACK_SECRET_NAME is empty"):
        slack_credentials("")


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("ThrottlingException", 400, TransientDependencyError),
        ("InternalServiceError", 500, TransientDependencyError),
        ("AccessDeniedException", 400, ConfigurationError),
        ("DecryptionFailure", 400, ConfigurationError),
    ],
)
def test_secrets_manager_errors(moto, code, status, expected) -> None:
    client = boto3.client("secretsmanager", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_client_error("get_secret_value", code, http_status_code=status)
        with pytest.raises(expected, match=code):
            slack_credentials("slack", client)


def test_repr_redacts_both_values() -> None:
    credentials = SlackCredentials(bot_token=TOKEN, signing_secret=SIGNING)
    for text in (repr(credentials), str(credentials), f"{credentials}", f"{[credentials]}"):
        assert TOKEN not in text and SIGNING not in text
    assert "signing_secret=<set>" in repr(credentials)
    assert "signing_secret=<empty>" in repr(SlackCredentials(bot_token=TOKEN))
