"""Where the Lambda steps get the compiled response declaration: the JSON object the stack
uploaded next to its template (RESPONSE_CONFIG_URI, s3://bucket/key), read once per execution
environment. Without the setting the runbook has no people: the default plan only, and paging
stays on the severity topics."""

from __future__ import annotations

from functools import lru_cache

from oncall.declaration import ResponseConfig, decode_config, default_config
from shared import aws
from shared.config import settings
from shared.errors import ConfigurationError, transient_errors


def split_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/key` as (bucket, key); ConfigurationError for anything else."""
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise ConfigurationError(f"RESPONSE_CONFIG_URI is not s3://bucket/key: {uri[:200]!r}")
    bucket, key = uri[5:].split("/", 1)
    if not bucket or not key:
        raise ConfigurationError(f"RESPONSE_CONFIG_URI is not s3://bucket/key: {uri[:200]!r}")
    return bucket, key


@lru_cache(maxsize=1)
def response_config() -> ResponseConfig:
    """The deployed declaration (cached: a deploy that changes it replaces the functions'
    environment, so a warm environment never holds a stale one for long)."""
    cfg = settings()
    if not cfg.response_config_uri:
        return default_config(cfg.timezone)
    bucket, key = split_uri(cfg.response_config_uri)
    with transient_errors("S3 GetObject (response declaration)"):
        body = aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    try:
        return decode_config(body)
    except ValueError as exc:
        raise ConfigurationError(
            f"the response declaration at {cfg.response_config_uri} is invalid: {exc}"
        ) from exc


def reset() -> None:
    """Forget the cached declaration (tests)."""
    response_config.cache_clear()
