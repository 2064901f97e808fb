"""create_channel against moto and the shared fake Slack (tests/fakes/slack_api.py): the real
slack-sdk WebClient talks HTTP to 127.0.0.1, so retries, rate limits and error mapping are the
library's own behaviour, not a mock's."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import boto3
import pytest

from handlers import create_channel
from shared.config import reset_settings
from shared.errors import ConfigurationError, TransientDependencyError
from tests.fakes.slack_api import FakeSlackApi

TOKEN = "xoxb-1234-test-token-do-not-log"
SIGNING = "8f742231b10e8888abcd99yyyzzz85a5"
SECRET_NAME = "incident-runbook/slack"
NAME = "inc-20240501-orders-api-errors"
INCIDENT: dict[str, Any] = {
    "incident_id": "inc-20240501-140307-0badcafe",
    "title": "orders-api-errors is in ALARM",
    "description": "Threshold Crossed: <b>12</b> errors & more <!channel>",
    "severity": "critical",
    "severity_rule": "tag: Severity=critical",
    "source": "aws.cloudwatch",
    "alarm_name": "orders-api-errors",
    "resources": [{"type": "AWS::Lambda::Function", "id": "orders-api"}],
    "account": "123456789012",
    "region": "us-east-1",
    "opened_at": "2024-05-01T14:03:07Z",
    "execution_arn": "arn:aws:states:us-east-1:123456789012:execution:IR:inc-1",
}
EVENT = {"incident": INCIDENT}


def _secret(value: str, name: str = SECRET_NAME) -> None:
    boto3.client("secretsmanager", region_name="us-east-1").create_secret(
        Name=name, SecretString=value
    )


@pytest.fixture
def slack(incident_table, fake_slack: FakeSlackApi, monkeypatch) -> FakeSlackApi:
    """Slack configured (JSON secret, the fake's URL, Berlin time) and the incident stored."""
    _secret(json.dumps({"bot_token": TOKEN, "signing_secret": SIGNING}))
    monkeypatch.setenv("SLACK_SECRET_NAME", SECRET_NAME)
    monkeypatch.setenv("SLACK_API_URL", fake_slack.url)
    monkeypatch.setenv("TIMEZONE", "Europe/Berlin")
    incident_table.put_item(Item={**INCIDENT, "status": "OPEN", "timeline": []})
    return fake_slack


def _record(table) -> dict[str, Any]:
    return table.get_item(Key={"incident_id": INCIDENT["incident_id"]})["Item"]


def _texts(blocks: list[dict[str, Any]]) -> str:
    return json.dumps(blocks)


def test_skipped_when_slack_is_not_configured(incident_table, fake_slack, lambda_context) -> None:
    result = create_channel.lambda_handler(EVENT, lambda_context)
    assert result == {"status": "skipped", "reason": "Slack not configured"}
    assert fake_slack.requests == []


def test_creates_the_channel_with_summary_blocks_and_buttons(
    slack, incident_table, lambda_context, log_stream
) -> None:
    result = create_channel.lambda_handler(EVENT, lambda_context)

    channel = slack.channel_named(NAME)
    assert channel is not None
    assert result == {"status": "created", "channel_id": channel.id, "channel_name": NAME}
    (post,) = slack.calls("chat.postMessage")
    body = post["body"]
    assert body["channel"] == channel.id
    assert post["auth"] == f"Bearer {TOKEN}"
    # The plain fallback goes with the blocks.
    assert body["text"].startswith("*[CRITICAL] orders-api-errors is in ALARM*")
    blocks = body["blocks"]
    assert blocks[0]["type"] == "header"
    assert "[CRITICAL] orders-api-errors is in ALARM" in blocks[0]["text"]["text"]
    fields = {f["text"].split("\n", 1)[0]: f["text"] for f in blocks[1]["fields"]}
    assert "orders-api (AWS::Lambda::Function)" in fields["*Service*"]
    assert "orders-api-errors" in fields["*What fired*"]
    assert "2024-05-01 14:03:07 UTC" in fields["*Opened*"]
    assert "2024-05-01 16:03:07 CEST" in fields["*Opened*"]  # TIMEZONE
    assert "Diagnostics are running" in fields["*Verdict*"]
    # The description is shown, not obeyed (no @channel ping, no HTML).
    text = _texts(blocks)
    assert "&lt;b&gt;12&lt;/b&gt; errors &amp; more &lt;!channel&gt;" in text
    assert "<!channel>" not in text
    assert "states/home?region=us-east-1#/v2/executions/details/" in text
    assert "cloudwatch/home?region=us-east-1#alarmsV2:alarm/orders-api-errors" in text
    (actions,) = [b for b in blocks if b["type"] == "actions"]
    ack, resolve = actions["elements"]
    assert (ack["action_id"], ack["value"]) == ("incident_ack", INCIDENT["incident_id"])
    assert (resolve["action_id"], resolve["value"]) == ("incident_resolve", INCIDENT["incident_id"])
    assert resolve["style"] == "danger" and resolve["confirm"]["confirm"]["text"] == "Resolve"
    # The record has the finished channel and a timeline entry.
    item = _record(incident_table)
    assert item["channel"] == {"status": "created", "id": channel.id, "name": NAME}
    assert [e["event"] for e in item["timeline"]] == ["channel created"]
    assert "channel created" in log_stream.getvalue()


def test_responders_are_invited_and_a_bad_one_does_not_fail_the_channel(
    slack, incident_table, lambda_context, monkeypatch
) -> None:
    monkeypatch.setenv("SLACK_RESPONDERS", json.dumps(["U012AB3CD", "W0GONE000", "U0BOB0000"]))
    slack.unknown_users.add("W0GONE000")

    result = create_channel.lambda_handler(EVENT, lambda_context)

    (invite,) = slack.calls("conversations.invite")
    assert invite["body"]["users"] == "U012AB3CD,W0GONE000,U0BOB0000"
    assert invite["body"]["channel"] == result["channel_id"]
    channel = slack.channel_named(NAME)
    assert channel is not None and {"U012AB3CD", "U0BOB0000"} <= channel.members
    assert result["invite_failures"] == ["W0GONE000: user_not_found"]
    assert len(slack.calls("chat.postMessage")) == 1
    item = _record(incident_table)
    assert item["channel"]["status"] == "created"
    assert "not invited: W0GONE000: user_not_found" in item["timeline"][-1]["detail"]


def test_responders_already_in_the_channel_are_fine(slack, lambda_context, monkeypatch) -> None:
    monkeypatch.setenv("SLACK_RESPONDERS", '["UBOT0001"]')  # the bot itself: cant_invite_self
    result = create_channel.lambda_handler(EVENT, lambda_context)
    assert "invite_failures" not in result
    assert len(slack.calls("conversations.invite")) == 1


def test_a_rate_limited_invite_is_recorded_not_raised(slack, lambda_context, monkeypatch) -> None:
    monkeypatch.setenv("SLACK_RESPONDERS", '["U012AB3CD"]')
    slack.rate_limit("conversations.invite", retry_after=120)
    result = create_channel.lambda_handler(EVENT, lambda_context)
    assert result["invite_failures"] == ["U012AB3CD: ratelimited"]
    assert len(slack.calls("chat.postMessage")) == 1


def test_blocks_slack_refuses_fall_back_to_the_text(slack, lambda_context) -> None:
    slack.fail("chat.postMessage", "invalid_blocks")
    result = create_channel.lambda_handler(EVENT, lambda_context)
    refused, plain = slack.calls("chat.postMessage")
    assert refused["body"]["blocks"] and "blocks" not in plain["body"]
    assert plain["body"]["text"] == refused["body"]["text"]
    assert result["status"] == "created"


def test_invalid_responders_fail_before_anything_is_created(
    slack, lambda_context, monkeypatch
) -> None:
    monkeypatch.setenv("SLACK_RESPONDERS", '["alice@example.com"]')
    with pytest.raises(ConfigurationError, match="SLACK_RESPONDERS"):
        create_channel.lambda_handler(EVENT, lambda_context)
    assert slack.requests == []


def test_a_taken_name_gets_a_suffix(slack, lambda_context) -> None:
    slack.take_names(NAME, f"{NAME}-2")
    result = create_channel.lambda_handler(EVENT, lambda_context)
    names = [c["body"]["name"] for c in slack.calls("conversations.create")]
    assert names == [NAME, f"{NAME}-2", f"{NAME}-3"]
    assert result["channel_name"] == f"{NAME}-3"


def test_all_names_taken_is_a_permanent_failure(slack, lambda_context) -> None:
    slack.take_names(NAME, *(f"{NAME}-{n}" for n in range(2, 5)), f"{NAME}-0badcafe")
    with pytest.raises(Exception, match="name_taken") as caught:
        create_channel.lambda_handler(EVENT, lambda_context)
    assert type(caught.value).__name__ == "SlackChannelError"
    assert len(slack.calls("conversations.create")) == 5


def test_a_retry_after_success_reuses_the_channel(slack, lambda_context) -> None:
    first = create_channel.lambda_handler(EVENT, lambda_context)
    second = create_channel.lambda_handler(EVENT, lambda_context)
    assert second == {k: first[k] for k in ("status", "channel_id", "channel_name")}
    assert len(slack.calls("conversations.create")) == 1
    assert len(slack.calls("chat.postMessage")) == 1


def test_a_retry_after_a_failed_post_finishes_the_same_channel(
    slack, incident_table, lambda_context
) -> None:
    slack.server_error("chat.postMessage")
    with pytest.raises(TransientDependencyError, match="Slack: http_500"):
        create_channel.lambda_handler(EVENT, lambda_context)
    channel = slack.channel_named(NAME)
    assert channel is not None
    assert _record(incident_table)["channel"] == {
        "status": "opening",
        "id": channel.id,
        "name": NAME,
    }

    result = create_channel.lambda_handler(EVENT, lambda_context)  # what the ASL's Retry does

    assert result["channel_id"] == channel.id
    assert len(slack.calls("conversations.create")) == 1
    assert len(channel.messages) == 1
    assert _record(incident_table)["channel"]["status"] == "created"


def test_a_rate_limit_is_waited_out_then_the_call_succeeds(slack, lambda_context) -> None:
    slack.rate_limit("conversations.create", retry_after=1)
    result = create_channel.lambda_handler(EVENT, lambda_context)
    first, second = slack.calls("conversations.create")
    assert second["at"] - first["at"] >= 1.0  # Retry-After honoured
    assert result["channel_name"] == NAME


def test_a_rate_limit_beyond_the_cap_is_left_to_the_state_machine(slack, lambda_context) -> None:
    slack.rate_limit("conversations.create", retry_after=120)
    started = time.monotonic()
    with pytest.raises(TransientDependencyError, match="Slack: ratelimited"):
        create_channel.lambda_handler(EVENT, lambda_context)
    assert time.monotonic() - started < 5  # no two-minute sleep inside the Lambda
    assert len(slack.calls("conversations.create")) == 1


def test_rate_limits_after_the_retries_are_transient(slack, lambda_context) -> None:
    slack.rate_limit("conversations.create", retry_after=0, times=3)
    with pytest.raises(TransientDependencyError, match="Slack: ratelimited"):
        create_channel.lambda_handler(EVENT, lambda_context)
    assert len(slack.calls("conversations.create")) == 3  # the call and two retries


def test_server_errors_are_transient(slack, lambda_context) -> None:
    slack.server_error("conversations.create", status=503)
    with pytest.raises(TransientDependencyError, match="Slack: http_503"):
        create_channel.lambda_handler(EVENT, lambda_context)


@pytest.mark.parametrize("code", ["invalid_auth", "missing_scope", "account_inactive"])
def test_permanent_slack_errors_are_channel_errors(slack, lambda_context, code: str) -> None:
    slack.fail("conversations.create", code)
    with pytest.raises(Exception, match=f"Slack: {code}") as caught:
        create_channel.lambda_handler(EVENT, lambda_context)
    assert type(caught.value).__name__ == "SlackChannelError"  # caught, not retried, by the ASL


def test_a_wrong_token_is_a_channel_error(slack, lambda_context) -> None:
    slack.valid_tokens = {"xoxb-the-right-one"}
    with pytest.raises(Exception, match="Slack: invalid_auth") as caught:
        create_channel.lambda_handler(EVENT, lambda_context)
    assert type(caught.value).__name__ == "SlackChannelError"


def test_a_raw_token_secret_is_still_accepted(slack, lambda_context, monkeypatch) -> None:
    _secret(f"  {TOKEN}\n", name="raw-token")
    monkeypatch.setenv("SLACK_SECRET_NAME", "raw-token")
    assert create_channel.lambda_handler(EVENT, lambda_context)["status"] == "created"
    assert {r.auth for r in slack.requests} == {f"Bearer {TOKEN}"}


def test_a_secret_without_a_bot_token_says_so(slack, lambda_context, monkeypatch) -> None:
    _secret(json.dumps({"signing_secret": SIGNING}), name="no-token")
    monkeypatch.setenv("SLACK_SECRET_NAME", "no-token")
    with pytest.raises(ConfigurationError, match="'no-token' has no \"bot_token\""):
        create_channel.lambda_handler(EVENT, lambda_context)
    assert slack.requests == []


def test_a_missing_secret_says_so(slack, lambda_context, monkeypatch) -> None:
    monkeypatch.setenv("SLACK_SECRET_NAME", "never-created")
    with pytest.raises(ConfigurationError, match="'never-created' does not exist"):
        create_channel.lambda_handler(EVENT, lambda_context)


def test_the_token_and_signing_secret_never_reach_the_logs(
    slack, lambda_context, log_stream, monkeypatch, capsys, caplog
) -> None:
    # Ours and slack-sdk's at DEBUG (botocore's DEBUG wire log prints every response body,
    # any secret included: it is never enabled in the functions).
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="slack_sdk")
    monkeypatch.setenv("SLACK_RESPONDERS", '["U0GONE000"]')
    slack.unknown_users.add("U0GONE000")
    slack.rate_limit("chat.postMessage", retry_after=0)
    create_channel.lambda_handler(EVENT, lambda_context)  # created, one invite failure
    other = {"incident": {**INCIDENT, "incident_id": "inc-20240501-140307-0ddba11"}}
    slack.fail("conversations.create", "invalid_auth")
    with pytest.raises(Exception, match="invalid_auth") as refused:
        create_channel.lambda_handler(other, lambda_context)
    _secret(json.dumps({"bot_tokn": TOKEN, "signing_secret": SIGNING}), name="typo")
    monkeypatch.setenv("SLACK_SECRET_NAME", "typo")
    reset_settings()
    with pytest.raises(ConfigurationError) as misconfigured:
        create_channel.lambda_handler(other, lambda_context)

    captured = capsys.readouterr()
    outputs = [log_stream.getvalue(), caplog.text, captured.out, captured.err]
    errors = [str(refused.value), repr(refused.value), str(misconfigured.value)]
    logged = "\n".join(outputs + errors)
    assert "channel created" in logged and "Slack: invalid_auth" in logged
    assert "slack_sdk" in caplog.text  # slack-sdk's debug lines were captured too
    assert TOKEN not in logged and SIGNING not in logged
