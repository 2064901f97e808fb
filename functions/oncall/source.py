"""Where the Lambda steps get the compiled response declaration: the JSON object the stack
uploaded next to its template (RESPONSE_CONFIG_URI, s3://bucket/key), read once per execution
environment. Without the setting the runbook has no people: the default plan only, and paging
stays on the severity topics."""

from __future__ import annotations

from functools import lru_cache

from oncall.declaration import ResponseConfig, decode_config, default_config
from shared.config import settings
from shared.errors import ConfigurationError
from shared.s3uri import read_configured_object


@lru_cache(maxsize=1)
def response_config() -> ResponseConfig:
    """The deployed declaration (cached: a deploy that changes it replaces the functions'
    environment, so a warm environment never holds a stale one for long)."""
    cfg = settings()
    if not cfg.response_config_uri:
        return default_config(cfg.timezone)
    body = read_configured_object(
        cfg.response_config_uri, "RESPONSE_CONFIG_URI", "response declaration"
    )
    try:
        return decode_config(body)
    except ValueError as exc:
        raise ConfigurationError(
            f"the response declaration at {cfg.response_config_uri} is invalid: {exc}"
        ) from exc


def reset() -> None:
    """Forget the cached declaration (tests)."""
    response_config.cache_clear()
