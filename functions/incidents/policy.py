"""The ingest policy: correlation window, reopen window and fold-by-resource, from the
INGEST_POLICY environment variable (JSON, camelCase as in cdk.json), read once per cold start.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from functools import lru_cache
from typing import Annotated

from shared.errors import ConfigurationError
from shared.schema import Record, Rule, SchemaError, parse

ENV_NAME = "INGEST_POLICY"


class IngestPolicy(Record, frozen=True):
    """How ingest correlates (docs/ingest.md); the defaults are cdk.json's."""

    correlation_window_minutes: Annotated[
        int, Rule(ge=0, le=24 * 60, alias="correlationWindowMinutes")
    ] = 5
    reopen_window_minutes: Annotated[
        int, Rule(ge=0, le=7 * 24 * 60, alias="reopenWindowMinutes")
    ] = 30
    fold_by_resource: Annotated[bool, Rule(alias="foldByResource")] = True

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
        return parse(IngestPolicy, json.loads(raw) if raw else {})
    except (SchemaError, json.JSONDecodeError) as exc:
        raise ConfigurationError(f"invalid {ENV_NAME}: {exc}") from exc


def reset_ingest_policy() -> None:
    """Forget the cached policy (tests change the environment between cases)."""
    ingest_policy.cache_clear()
