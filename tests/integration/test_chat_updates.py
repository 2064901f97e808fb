"""chat.updates.post_update against moto and the fake Slack: it posts, skips or reports a
failure, and never raises into the step that called it."""

from __future__ import annotations

import json
import time

import boto3
import pytest

from chat.updates import post_update
from incidents.model import Channel, Incident
from tests.fakes.slack_api import FakeSlackApi

TOKEN = "xoxb-9876-update-token-do-not-log"
SIGNING = "signing-secret-never-logged-0001"


@pytest.fixture
def slack(moto, fake_slack: FakeSlackApi, monkeypatch) -> FakeSlackApi:
    boto3.client("secretsmanager", region_name="us-east-1").create_secret(
        Name="slack", SecretString=json.dumps({"bot_token": TOKEN, "signing_secret": SIGNING})
    )
    monkeypatch.setenv("SLACK_SECRET_NAME", "slack")
    monkeypatch.setenv("SLACK_API_URL", fake_slack.url.rstrip("/"))  # the slash is added
    return fake_slack


def _incident(channel: Channel | None) -> Incident:
    return Incident(
        incident_id="inc-20240501-140307-0badcafe",
        title="orders-api-errors is in ALARM",
        opened_at="2024-05-01T14:03:07Z",
        channel=channel,
    )


@pytest.fixture
def incident(slack: FakeSlackApi) -> Incident:
    channel = slack.add_channel("inc-20240501-orders-api-errors")
    return _incident(Channel(status="created", id=channel.id, name=channel.name))


def test_posts_the_line_escaped(slack, incident) -> None:
    assert post_update(incident, "Diagnostics done: <@here> throttling & errors") == "posted"
    (call,) = slack.calls("chat.postMessage")
    assert call["auth"] == f"Bearer {TOKEN}"
    assert call["body"]["channel"] == incident.channel.id
    assert call["body"]["text"] == "Diagnostics done: &lt;@here&gt; throttling &amp; errors"


def test_a_long_line_is_cut(slack, incident) -> None:
    assert post_update(incident, "x" * 10_000) == "posted"
    assert len(slack.calls("chat.postMessage")[0]["body"]["text"]) == 3000


@pytest.mark.parametrize(
    "channel",
    [
        None,
        Channel(status="skipped"),
        Channel(status="opening", id="C1", name="inc-x"),
        Channel(status="created", id=None),
    ],
)
def test_skipped_without_a_finished_channel(slack, channel) -> None:
    assert post_update(_incident(channel), "Recovered") == "skipped"
    assert slack.requests == []


def test_skipped_without_slack(moto, fake_slack) -> None:
    incident = _incident(Channel(status="created", id="C1", name="inc-x"))
    assert post_update(incident, "Recovered") == "skipped"
    assert fake_slack.requests == []


def test_a_slack_refusal_is_returned(slack) -> None:
    gone = _incident(Channel(status="created", id="C0ARCHIVED", name="inc-x"))
    assert post_update(gone, "Escalated (1/2) after 60 min") == "failed: channel_not_found"


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        (lambda s: s.fail("chat.postMessage", "invalid_auth"), "failed: invalid_auth"),
        (lambda s: s.server_error("chat.postMessage"), "failed: http_500"),
        (lambda s: s.rate_limit("chat.postMessage", retry_after=300), "failed: ratelimited"),
        (lambda s: s.rate_limit("chat.postMessage", 0, times=3), "failed: ratelimited"),
    ],
)
def test_slack_errors_are_returned_not_raised(slack, incident, script, expected) -> None:
    script(slack)
    started = time.monotonic()
    assert post_update(incident, "Alarm OK, stabilising") == expected
    assert time.monotonic() - started < 5


def test_a_short_rate_limit_is_waited_out(slack, incident) -> None:
    slack.rate_limit("chat.postMessage", retry_after=1)
    assert post_update(incident, "Recovered") == "posted"
    first, second = slack.calls("chat.postMessage")
    assert second["at"] - first["at"] >= 1.0


def test_an_unreadable_secret_is_returned_not_raised(slack, incident, monkeypatch) -> None:
    from shared.config import reset_settings

    monkeypatch.setenv("SLACK_SECRET_NAME", "does-not-exist")
    reset_settings()
    assert post_update(incident, "Recovered") == "failed: configuration"
    assert slack.requests == []


def test_slack_unreachable_is_returned_not_raised(slack, incident, monkeypatch) -> None:
    from shared.config import reset_settings

    slack.close()
    monkeypatch.setenv("SLACK_API_URL", slack.url)
    reset_settings()
    assert post_update(incident, "Recovered") == "failed: connection_error"


def test_failures_are_logged_without_secrets(slack, incident, log_stream) -> None:
    slack.fail("chat.postMessage", "not_in_channel")
    assert post_update(incident, "Recovered") == "failed: not_in_channel"
    logged = log_stream.getvalue()
    assert "incident channel update failed" in logged and "not_in_channel" in logged
    assert TOKEN not in logged and SIGNING not in logged
