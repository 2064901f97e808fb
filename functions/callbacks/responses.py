"""HTTP answers for API Gateway (payload v2) in the shape Slack reads.

Slack treats anything but a 200 within three seconds as a failure and shows the user an error,
so outcomes a user should simply be told about (already resolved, not our button) are 200s with
an ephemeral text; only requests that must not be trusted or cannot be understood get 4xx.
"""

from __future__ import annotations

import json
from typing import Any


def escape(text: str) -> str:
    """Slack's mrkdwn control characters (&, <, >) as entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_reply(text: str, status: int = 200) -> dict[str, Any]:
    """An ephemeral message to the person who pressed the button (never replaces the card)."""
    body = {"response_type": "ephemeral", "replace_original": False, "text": escape(text)}
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body),
    }
