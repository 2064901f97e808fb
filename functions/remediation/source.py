"""Where the Lambda step gets the compiled remediation rules: the JSON object the stack
uploaded next to the response declaration (REMEDIATION_CONFIG_URI, s3://bucket/key), read
once per execution environment. Without the setting there are no rules: nothing is proposed
and the postmortem says so."""

from __future__ import annotations

from functools import lru_cache

from oncall.source import split_uri
from remediation.problems import RemediationConfigError
from remediation.rules import RemediationConfig, decode_config
from shared import aws
from shared.config import settings
from shared.errors import ConfigurationError, transient_errors


@lru_cache(maxsize=1)
def remediation_config() -> RemediationConfig:
    """The deployed rules (cached: a deploy that changes them replaces the environment)."""
    uri = settings().remediation_config_uri
    if not uri:
        return RemediationConfig()
    bucket, key = split_uri(uri)
    with transient_errors("S3 GetObject (remediation rules)"):
        body = aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    try:
        return decode_config(body)
    except RemediationConfigError as exc:
        raise ConfigurationError(f"the remediation rules at {uri} are invalid: {exc}") from exc


def reset() -> None:
    """Forget the cached rules (tests)."""
    remediation_config.cache_clear()
