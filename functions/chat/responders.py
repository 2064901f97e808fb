"""The responders invited to every incident channel: SLACK_RESPONDERS, a JSON list of Slack
user ids (`U…`/`W…`) that the stack writes from cdk.json's `slackResponders`.

Read here, not in shared.config, until the setting joins Settings there; validated the same
way the stack validates it, so a hand-edited variable fails with a message naming the bad id.
"""

from __future__ import annotations

import json
import os
import re

from shared.errors import ConfigurationError

ENV_NAME = "SLACK_RESPONDERS"
USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
# conversations.invite takes at most 1000 users per call.
MAX_RESPONDERS = 1000


def parse_responders(raw: str | None) -> tuple[str, ...]:
    """User ids from the variable's value: absent or blank means nobody; duplicates dropped."""
    if raw is None or not raw.strip():
        return ()
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        raise ConfigurationError(
            f'{ENV_NAME} must be a JSON list of Slack user ids, e.g. ["U012AB3CD"]'
        ) from None
    if not isinstance(value, list):
        raise ConfigurationError(f"{ENV_NAME} must be a JSON list of Slack user ids")
    bad = [item for item in value if not isinstance(item, str) or not USER_ID.fullmatch(item)]
    if bad:
        raise ConfigurationError(f"{ENV_NAME}: not Slack user ids (U.../W...): {bad[:5]}")
    users = tuple(dict.fromkeys(value))
    if len(users) > MAX_RESPONDERS:
        raise ConfigurationError(f"{ENV_NAME}: at most {MAX_RESPONDERS} responders")
    return users


def configured_responders() -> tuple[str, ...]:
    """The responders of this deployment."""
    return parse_responders(os.environ.get(ENV_NAME))
