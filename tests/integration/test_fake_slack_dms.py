"""The fake Slack Web API's direct messages (tests/fakes/slack_api.py), through slack-sdk's
real WebClient: a message to a user id lands in the bot's DM with that user, as on Slack."""

from __future__ import annotations

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from tests.fakes.slack_api import FakeSlackApi


def web(fake: FakeSlackApi) -> WebClient:
    return WebClient(token="xoxb-test", base_url=fake.url)


def test_a_message_to_a_user_id_opens_and_reuses_the_dm(fake_slack: FakeSlackApi) -> None:
    client = web(fake_slack)
    first = client.chat_postMessage(channel="U0DANA001", text="You are paged: inc-1")
    assert first["channel"].startswith("D")
    opened = client.conversations_open(users="U0DANA001")
    assert opened["channel"]["id"] == first["channel"]
    assert opened["already_open"] is True
    second = client.chat_postMessage(channel=opened["channel"]["id"], text="Still unacknowledged")
    client.chat_update(channel=second["channel"], ts=second["ts"], text="Acknowledged by Lee")
    assert [m["text"] for m in fake_slack.direct_messages("U0DANA001")] == [
        "You are paged: inc-1",
        "Acknowledged by Lee",
    ]
    assert fake_slack.direct_messages("U0LEE0002") == []


def test_unknown_users_and_missing_arguments_are_refused(fake_slack: FakeSlackApi) -> None:
    client = web(fake_slack)
    fake_slack.unknown_users.add("U0GONE001")
    for call in (
        lambda: client.chat_postMessage(channel="U0GONE001", text="hello"),
        lambda: client.conversations_open(users="U0GONE001"),
        lambda: client.api_call("conversations.open", json={}),
    ):
        with pytest.raises(SlackApiError) as refused:
            call()
        assert refused.value.response["error"] in (
            "channel_not_found",
            "user_not_found",
            "users_list_not_supplied",
        )
    fresh = client.conversations_open(users="U0NEW0001")
    assert "already_open" not in fresh.data
