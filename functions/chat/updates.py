"""Progress lines in the incident's channel as the workflow moves ("Diagnostics done: ...",
"Escalated (1/2) after 60 min", "Recovered").

Best effort by design: the channel is a convenience next to the page and the record, so a
missing channel, an unconfigured or unreadable Slack secret, a rate limit or any Slack refusal
becomes a returned status and a warning, never an exception for the caller to handle.
"""

from __future__ import annotations

from typing import Any

from chat.client import CONNECTION_ERRORS, error_code, is_api_error, web_client
from chat.mrkdwn import clip, escape
from chat.secret import slack_credentials
from incidents.model import Incident
from shared.config import settings
from shared.errors import ConfigurationError, TransientDependencyError
from shared.observability import logger

MAX_UPDATE_TEXT = 3000


def post_update(incident: Incident, text: str, blocks: list[dict[str, Any]] | None = None) -> str:
    """Post `text` (plain; escaped here) in the incident's channel. Pass the stored record:
    the state's `$.incident` does not carry the channel.

    Returns `posted`, `skipped` (no Slack configured or no channel) or `failed: <code>`."""
    channel = incident.channel
    if channel is None or channel.status != "created" or not channel.id:
        return "skipped"
    try:
        cfg = settings()
        if not cfg.slack_secret_name:
            return "skipped"
        web = web_client(slack_credentials().bot_token, cfg.slack_api_url)
        web.chat_postMessage(
            channel=channel.id,
            text=clip(escape(text), MAX_UPDATE_TEXT),
            mrkdwn=True,
            unfurl_links=False,
            blocks=blocks or None,
        )
    except ConfigurationError as exc:
        return _failed("configuration", channel.id, str(exc))
    except TransientDependencyError as exc:
        return _failed("secret_unavailable", channel.id, str(exc))
    except CONNECTION_ERRORS as exc:
        return _failed("connection_error", channel.id, type(exc).__name__)
    except Exception as exc:  # an update must never break the step that posts it
        # Slack's refusals land here too: naming SlackApiError in an `except` would import
        # slack_sdk with this module, on every cold start, Slack configured or not.
        if is_api_error(exc):
            return _failed(error_code(exc), channel.id)
        return _failed(type(exc).__name__, channel.id)
    return "posted"


def _failed(code: str, channel_id: str, reason: str = "") -> str:
    # Messages here name the secret at most, never its value; Slack's answers carry no token.
    logger.warning(
        "incident channel update failed",
        extra={"error": code, "channel_id": channel_id, **({"reason": reason} if reason else {})},
    )
    return f"failed: {code}"
