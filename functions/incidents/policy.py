"""The ingest policy: correlation window, reopen window and fold-by-resource, from the
INGEST_POLICY environment variable (JSON, camelCase as in cdk.json), read once per cold start.
"""

from __future__ import annotations

import os
from datetime import timedelta
from functools import lru_cache
from typing import Annotated

import msgspec
from msgspec import Meta

from shared.errors import ConfigurationError
from shared.records import read_json

ENV_NAME = "INGEST_POLICY"


class IngestPolicy(msgspec.Struct, kw_only=True, frozen=True, rename="camel"):
    """How ingest correlates (docs/ingest.md); the defaults are cdk.json's."""

    correlation_window_minutes: Annotated[int, Meta(ge=0, le=24 * 60)] = 5
    reopen_window_minutes: Annotated[int, Meta(ge=0, le=7 * 24 * 60)] = 30
    fold_by_resource: bool = True

    @property
    def correlation_window(self) -> timedelta:
        return timedelta(minutes=self.correlation_window_minutes)

    @property
    def reopen_window(self) -> timedelta:
        return timedelta(minutes=self.reopen_window_minutes)


@lru_cache(maxsize=1)
def ingest_policy() -> IngestPolicy:
    """INGEST_POLICY, validated once; absent means the defaults."""
    raw = os.environ.get(ENV_NAME, "").strip() or "{}"
    return read_json(IngestPolicy, raw, f"invalid {ENV_NAME}", error=ConfigurationError)


def reset_ingest_policy() -> None:
    """Forget the cached policy (tests change the environment between cases)."""
    ingest_policy.cache_clear()
