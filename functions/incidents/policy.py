"""The ingest policy: correlation window, reopen window and fold-by-resource, from the
INGEST_POLICY environment variable (JSON, camelCase as in cdk.json), read once per cold start.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.errors import ConfigurationError

ENV_NAME = "INGEST_POLICY"


class IngestPolicy(BaseModel):
    """How ingest correlates (docs/ingest.md); the defaults are cdk.json's."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    correlation_window_minutes: int = Field(
        default=5, ge=0, le=24 * 60, alias="correlationWindowMinutes"
    )
    reopen_window_minutes: int = Field(
        default=30, ge=0, le=7 * 24 * 60, alias="reopenWindowMinutes"
    )
    fold_by_resource: bool = Field(default=True, alias="foldByResource")

    @property
    def correlation_window(self) -> timedelta:
        return timedelta(minutes=self.correlation_window_minutes)

    @property
    def reopen_window(self) -> timedelta:
        return timedelta(minutes=self.reopen_window_minutes)


@lru_cache(maxsize=1)
def ingest_policy() -> IngestPolicy:
    """INGEST_POLICY, validated once; absent means the defaults."""
    raw = os.environ.get(ENV_NAME, "").strip()
    try:
        return IngestPolicy.model_validate(json.loads(raw) if raw else {})
    except (ValidationError, json.JSONDecodeError) as exc:
        raise ConfigurationError(f"invalid {ENV_NAME}: {exc}") from exc


def reset_ingest_policy() -> None:
    """Forget the cached policy (tests change the environment between cases)."""
    ingest_policy.cache_clear()
