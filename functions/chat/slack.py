"""Create the incident's Slack channel and post its summary.

The bot token lives in Secrets Manager (SLACK_SECRET_NAME) and is never logged. Channel names
follow Slack's rules (lowercase letters, digits, `-` and `_`, at most 80 characters).
"""

from __future__ import annotations

import json
import re
from typing import Any, NoReturn

from botocore.exceptions import ClientError
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
)

from incidents.model import Incident
from incidents.notification import execution_console_url
from shared.errors import ConfigurationError, TransientDependencyError, reraise_transient
from shared.timeutil import parse_time

MAX_CHANNEL_NAME = 80
NAME_ATTEMPTS = 5
_TRANSIENT_SLACK_ERRORS = frozenset(
    {"ratelimited", "service_unavailable", "fatal_error", "internal_error", "request_timeout"}
)


def bot_token(secrets: Any, secret_name: str) -> str:
    """The bot token from the secret: JSON `{"bot_token": ...}` or the raw token."""
    try:
        value = secrets.get_secret_value(SecretId=secret_name)["SecretString"]
    except ClientError as exc:
        reraise_transient(exc, "Secrets Manager")
        raise ConfigurationError(f"cannot read Slack secret {secret_name!r}") from exc
    value = value.strip()
    if value.startswith("{"):
        try:
            value = str(json.loads(value).get("bot_token", "")).strip()
        except (json.JSONDecodeError, AttributeError):
            value = ""
    if not value:
        raise ConfigurationError(f"Slack secret {secret_name!r} holds no bot token")
    return value


def web_client(token: str, base_url: str = "") -> WebClient:
    """A WebClient that retries connection errors and rate limits once."""
    kwargs: dict[str, Any] = {"base_url": base_url} if base_url else {}
    return WebClient(
        token=token,
        timeout=10,
        retry_handlers=[ConnectionErrorRetryHandler(), RateLimitErrorRetryHandler(1)],
        **kwargs,
    )


def slug(text: str) -> str:
    """Lowercase letters, digits and single dashes."""
    return re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9_-]+", "-", text.lower())).strip("-_")


def channel_name(incident: Incident, attempt: int = 1) -> str:
    """`inc-<yyyymmdd>-<slug>`, with `-<attempt>` from the second attempt on."""
    day = parse_time(incident.opened_at).strftime("%Y%m%d")
    base = slug(incident.alarm_name or incident.title) or incident.incident_id.rsplit("-", 1)[-1]
    suffix = f"-{attempt}" if attempt > 1 else ""
    prefix = f"inc-{day}-"
    base = base[: MAX_CHANNEL_NAME - len(prefix) - len(suffix)].rstrip("-_")
    return f"{prefix}{base}{suffix}"


def escape(text: str) -> str:
    """Slack's mrkdwn control characters (&, <, >) as entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def summary_text(incident: Incident, default_region: str) -> str:
    """The first message in the channel: what, how bad, where to look."""
    lines = [
        f"*[{incident.severity.upper()}] {escape(incident.title)}*",
        f"Incident `{incident.incident_id}` opened {incident.opened_at}",
        f"Severity rule: {escape(incident.severity_rule)}",
    ]
    if incident.description:
        lines.append(f"> {escape(incident.description[:1500])}")
    if incident.resources:
        lines.append("Resources: " + ", ".join(escape(r.id) for r in incident.resources))
    if incident.execution_arn:
        region = incident.region or default_region
        lines.append(f"<{execution_console_url(incident.execution_arn, region)}|Runbook execution>")
    return "\n".join(lines)


def _slack_error(error: SlackApiError) -> str:
    return str(error.response.get("error", "unknown_error"))


class SlackChannels:
    """Opens incident channels through an injected slack-sdk WebClient."""

    def __init__(self, web: WebClient) -> None:
        self._web = web

    def open(self, incident: Incident, text: str) -> dict[str, str]:
        """Create the channel (trying suffixes while the name is taken) and post `text`."""
        channel_id, name = self._create(incident)
        self._call(lambda: self._web.chat_postMessage(channel=channel_id, text=text, mrkdwn=True))
        return {"status": "created", "channel_id": channel_id, "channel_name": name}

    def _create(self, incident: Incident) -> tuple[str, str]:
        for attempt in range(1, NAME_ATTEMPTS + 1):
            name = channel_name(incident, attempt)
            try:
                response = self._web.conversations_create(name=name)
            except SlackApiError as exc:
                if _slack_error(exc) == "name_taken":
                    continue
                self._raise(exc)
            return str(response["channel"]["id"]), name
        raise SlackChannelError(f"channel names taken after {NAME_ATTEMPTS} attempts")

    def _call(self, call: Any) -> Any:
        try:
            return call()
        except SlackApiError as exc:
            self._raise(exc)

    @staticmethod
    def _raise(error: SlackApiError) -> NoReturn:
        code = _slack_error(error)
        if code in _TRANSIENT_SLACK_ERRORS or error.response.status_code >= 500:
            raise TransientDependencyError(f"Slack: {code}") from error
        raise SlackChannelError(f"Slack: {code}") from error


class SlackChannelError(Exception):
    """Slack refused (bad token, missing scope...): retrying would not help."""
