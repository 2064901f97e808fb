"""Where the Lambda step gets the compiled remediation rules: the JSON object the stack
uploaded next to the response declaration (REMEDIATION_CONFIG_URI, s3://bucket/key), read
once per execution environment. Without the setting there are no rules: nothing is proposed
and the postmortem says so."""

from __future__ import annotations

from functools import lru_cache

from remediation.problems import RemediationConfigError
from remediation.rules import RemediationConfig, decode_config
from shared.config import settings
from shared.errors import ConfigurationError
from shared.s3uri import read_configured_object


@lru_cache(maxsize=1)
def remediation_config() -> RemediationConfig:
    """The deployed rules (cached: a deploy that changes them replaces the environment)."""
    uri = settings().remediation_config_uri
    if not uri:
        return RemediationConfig()
    body = read_configured_object(uri, "REMEDIATION_CONFIG_URI", "remediation rules")
    try:
        return decode_config(body)
    except RemediationConfigError as exc:
        raise ConfigurationError(f"the remediation rules at {uri} are invalid: {exc}") from exc


def reset() -> None:
    """Forget the cached rules (tests)."""
    remediation_config.cache_clear()
