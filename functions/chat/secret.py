"""The Slack credentials from Secrets Manager, cached for five minutes with Powertools parameters.

The secret (SLACK_SECRET_NAME) is JSON `{"bot_token": "xoxb-...", "signing_secret": "..."}`; a raw
token string is still accepted as the bot token. Neither value may reach a log line, an error
message or a repr: everything here names the secret, never its contents.
"""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING, Any

import msgspec
from botocore.exceptions import BotoCoreError, ClientError

from shared import aws
from shared.config import settings
from shared.errors import ConfigurationError, TransientDependencyError, error_code, is_transient

# Powertools' parameters utility (~3 ms) is imported when a secret is read: most steps that
# import this module read it only when they post to Slack (docs/performance.md).
if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

# Rotating the token takes effect within this many seconds on warm functions.
MAX_AGE_SECONDS = 300
_EXPECTED = 'JSON {"bot_token": "xoxb-...", "signing_secret": "..."}'

_lock = threading.Lock()
_provider: list[tuple[Any, SecretsProvider]] = []


class SlackCredentials(msgspec.Struct, frozen=True):
    """The bot token (Web API) and the signing secret (button clicks; may be empty)."""

    bot_token: str
    signing_secret: str = ""

    def __repr__(self) -> str:
        signing = "<set>" if self.signing_secret else "<empty>"
        return f"SlackCredentials(bot_token=<redacted>, signing_secret={signing})"

    __str__ = __repr__


def slack_configured() -> bool:
    """Whether this deployment has Slack at all (SLACK_SECRET_NAME set)."""
    return bool(settings().slack_secret_name)


def slack_credentials(secret_name: str | None = None, client: Any = None) -> SlackCredentials:
    """The credentials in `secret_name` (default: SLACK_SECRET_NAME), read through `client`
    (default: the shared Secrets Manager client, so moto and the emulator apply).

    Raises ConfigurationError when the secret is not configured, missing, unreadable or holds
    no bot token (a deployment problem), TransientDependencyError when Secrets Manager
    throttles or fails (worth a retry)."""
    name = settings().slack_secret_name if secret_name is None else secret_name
    if not name:
        raise ConfigurationError("Slack is not configured: SLACK_SECRET_NAME is empty")
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    provider = _provider_for(client if client is not None else aws.client("secretsmanager"))
    try:
        value = provider.get(name, max_age=MAX_AGE_SECONDS)
    except GetParameterError as exc:
        raise _translate(exc, name) from None
    return parse_secret(value, name)


def clear_cache() -> None:
    """Forget cached secrets (tests, or after rotating the secret in place)."""
    with _lock:
        for _, provider in _provider:
            provider.clear_cache()
        _provider.clear()


def parse_secret(value: Any, secret_name: str) -> SlackCredentials:
    """Credentials from the secret's value; the error names the secret, never the value."""
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            raise ConfigurationError(f"Slack secret {secret_name!r} is not text") from None
    text = str(value or "").strip()
    if not text:
        raise ConfigurationError(f"Slack secret {secret_name!r} is empty; expected {_EXPECTED}")
    if not text.startswith(("{", "[", '"')):
        if any(ch.isspace() for ch in text):
            raise ConfigurationError(
                f"Slack secret {secret_name!r} is neither {_EXPECTED} nor a bare token"
            )
        return SlackCredentials(bot_token=text)
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        raise ConfigurationError(
            f"Slack secret {secret_name!r} is not valid JSON; expected {_EXPECTED}"
        ) from None
    if not isinstance(data, dict):
        raise ConfigurationError(
            f"Slack secret {secret_name!r} is neither {_EXPECTED} nor a bare token"
        )
    token = data.get("bot_token")
    if not isinstance(token, str) or not token.strip():
        raise ConfigurationError(
            f'Slack secret {secret_name!r} has no "bot_token"; expected {_EXPECTED}'
        )
    signing = data.get("signing_secret") or ""
    if not isinstance(signing, str):
        raise ConfigurationError(f'Slack secret {secret_name!r}: "signing_secret" is not text')
    return SlackCredentials(bot_token=token.strip(), signing_secret=signing.strip())


def _provider_for(client: Any) -> SecretsProvider:
    """One provider (and so one cache) per client: the shared client lives as long as the
    execution environment, and tests that reset the clients start with an empty cache."""
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    with _lock:
        if not _provider or _provider[0][0] is not client:
            _provider[:] = [(client, SecretsProvider(boto3_client=client))]
        return _provider[0][1]


def _translate(error: GetParameterError, secret_name: str) -> Exception:
    """Powertools wraps every failure; its cause says whether a retry could help."""
    cause = error.__cause__ or error.__context__
    if isinstance(cause, ClientError):
        if is_transient(cause):
            return TransientDependencyError(f"Secrets Manager: {error_code(cause)}")
        code = error_code(cause) or "error"
        if code == "ResourceNotFoundException":
            return ConfigurationError(
                f"Slack secret {secret_name!r} does not exist (or has no value)"
            )
        return ConfigurationError(f"cannot read Slack secret {secret_name!r}: {code}")
    if isinstance(cause, BotoCoreError):
        return TransientDependencyError(f"Secrets Manager: {type(cause).__name__}")
    return ConfigurationError(f"cannot read Slack secret {secret_name!r}")
