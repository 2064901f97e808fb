"""Posting the postmortem into the incident's Slack channel, through functions/chat's client
(credentials from the Slack secret, retries on rate limits).

This is the ChannelPoster the handler uses when SLACK_SECRET_NAME is set on the function;
without it the delivery says the channel was skipped. Text is escaped for Slack's mrkdwn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chat.client import web_client
from chat.mrkdwn import escape
from chat.secret import slack_credentials
from postmortem.delivery import Announcement

# slack_sdk is imported when there is something to post, not here: it costs 20-40 ms of the
# step's cold start (docs/performance.md), also where Slack is not configured.
if TYPE_CHECKING:
    from slack_sdk import WebClient


class SlackPoster:
    """Posts one message per postmortem through an injected slack-sdk WebClient."""

    def __init__(self, web: WebClient) -> None:
        self._web = web

    def post(self, channel_id: str, announcement: Announcement) -> None:
        """Raises SlackPostError when Slack refuses (the delivery reports it)."""
        from slack_sdk.errors import SlackApiError

        lines = [f"*{escape(announcement.subject)}*", escape(announcement.summary)]
        if announcement.console_url:
            lines.append(f"Document: {escape(announcement.console_url)}")
        lines.append(f"`{escape(announcement.uri)}`")
        try:
            self._web.chat_postMessage(channel=channel_id, text="\n".join(lines), mrkdwn=True)
        except SlackApiError as exc:
            raise SlackPostError(str(exc.response.get("error", "unknown_error"))) from exc


class SlackPostError(Exception):
    """Slack did not accept the message."""


class SecretSlackPoster:
    """Reads the bot token (the secret create_channel reads) only when there is something to
    post, so an unreadable secret is reported by the delivery instead of failing the step."""

    def __init__(self, secrets: Any, secret_name: str, api_url: str = "") -> None:
        self._secrets = secrets
        self._secret_name = secret_name
        self._api_url = api_url

    def post(self, channel_id: str, announcement: Announcement) -> None:
        token = slack_credentials(self._secret_name, self._secrets).bot_token
        SlackPoster(web_client(token, self._api_url)).post(channel_id, announcement)
