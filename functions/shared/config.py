"""Environment configuration, validated once per execution environment.

The stack sets these variables (docs/contracts.md). They are read lazily through `settings()`
rather than at import so tests (and the local emulator's worker processes) can set the
environment before first use; `reset_settings()` forgets the cached value.
"""

from __future__ import annotations

import json
import os
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared.errors import ConfigurationError
from shared.schema import Record, Rule, SchemaError, parse

if TYPE_CHECKING:
    from incidents.classification import SeverityPolicy

# Field name -> environment variable, the single place the names are spelled.
ENV_NAMES = {
    "incident_table_name": "INCIDENT_TABLE_NAME",
    "artifact_bucket_name": "ARTIFACT_BUCKET_NAME",
    "state_machine_arn": "STATE_MACHINE_ARN",
    "severity_policy_json": "SEVERITY_POLICY",
    "diagnostics_lookback_minutes": "DIAGNOSTICS_LOOKBACK_MINUTES",
    "slack_secret_name": "SLACK_SECRET_NAME",
    "slack_api_url": "SLACK_API_URL",
    "timezone": "TIMEZONE",
    "diagnostics_role_name": "DIAGNOSTICS_ROLE_NAME",
    "escalation_topic_arn": "ESCALATION_TOPIC_ARN",
    "critical_topic_arn": "CRITICAL_TOPIC_ARN",
    "high_topic_arn": "HIGH_TOPIC_ARN",
    "max_escalations": "MAX_ESCALATIONS",
}


class Settings(Record, frozen=True):
    """Every setting a step may read; each step asks only for what it needs via `require`.
    The stack validated the values at synth (stacks/settings.py); this re-checks the shape."""

    incident_table_name: str = ""
    artifact_bucket_name: str = ""
    state_machine_arn: str = ""
    # SEVERITY_POLICY as set; `severity_policy` reads it. Only ingest and classify have it,
    # so only they import incidents.classification's models (the other steps' cold starts
    # skip them, docs/performance.md) and validate it, in `settings()`.
    severity_policy_json: str = ""
    diagnostics_lookback_minutes: Annotated[int, Rule(ge=1, le=24 * 60)] = 30
    slack_secret_name: str = ""
    # Optional override of Slack's API base URL (a fake Slack in tests or the local emulator).
    slack_api_url: str = ""
    timezone: str = "UTC"
    # Role assumed in member accounts for read-only diagnostics ("" = same account only).
    diagnostics_role_name: str = ""
    # Escalation (docs/contracts.md): where escalation pages go, and how many timeouts are
    # escalated before the incident closes as unresolved.
    escalation_topic_arn: str = ""
    # Where ingest pages an incident whose severity a joining signal raised.
    critical_topic_arn: str = ""
    high_topic_arn: str = ""
    max_escalations: Annotated[int, Rule(ge=0, le=20)] = 2

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {self.timezone!r}") from exc

    @cached_property
    def severity_policy(self) -> SeverityPolicy:
        """SEVERITY_POLICY (the defaults when unset); SchemaError or JSONDecodeError."""
        from incidents.classification import SeverityPolicy

        text = self.severity_policy_json
        return parse(SeverityPolicy, json.loads(text) if text.strip() else {})

    def require(self, field: str) -> str:
        """The value of a string setting this step cannot work without."""
        value = getattr(self, field)
        if not value:
            raise ConfigurationError(f"environment variable {ENV_NAMES[field]} is not set")
        return str(value)


@lru_cache(maxsize=1)
def settings() -> Settings:
    """Read and validate the environment once (cold start); later calls reuse it."""
    raw = {field: os.environ[env] for field, env in ENV_NAMES.items() if env in os.environ}
    try:
        cfg = parse(Settings, raw)
        if cfg.severity_policy_json:
            _ = cfg.severity_policy  # validated (and cached) at cold start where it is set
        return cfg
    except (SchemaError, json.JSONDecodeError) as exc:
        raise ConfigurationError(f"invalid environment configuration: {exc}") from exc


def reset_settings() -> None:
    """Forget the cached settings (tests change the environment between cases)."""
    settings.cache_clear()
