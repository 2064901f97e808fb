"""Direct messages from the runbook's Slack app to a person (a contact's `slack` channel).

chat.postMessage to a user id posts in the app's DM with that user (the bot needs `im:write`
and `chat:write`). Raises on failure: the contact pager records it as a failed page."""

from __future__ import annotations

from chat.client import web_client
from chat.mrkdwn import clip
from chat.secret import slack_credentials
from shared.config import settings
from shared.errors import ConfigurationError

MAX_DM_TEXT = 3000


def send_direct_message(user_id: str, text: str) -> None:
    """Post `text` (Slack mrkdwn, escaped by the caller) to `user_id`'s DM with the app."""
    cfg = settings()
    if not cfg.slack_secret_name:
        raise ConfigurationError("Slack is not configured (SLACK_SECRET_NAME)")
    web = web_client(slack_credentials().bot_token, cfg.slack_api_url)
    web.chat_postMessage(
        channel=user_id, text=clip(text, MAX_DM_TEXT), mrkdwn=True, unfurl_links=False
    )
