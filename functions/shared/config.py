"""Environment configuration, validated once per execution environment.

The stack sets these variables (docs/contracts.md). They are read lazily through `settings()`
rather than at import so tests (and the local emulator's worker processes) can set the
environment before first use; `reset_settings()` forgets the cached value.
"""

from __future__ import annotations

import os
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
from msgspec import Meta, field

from shared.errors import ConfigurationError
from shared.records import read, read_json

if TYPE_CHECKING:
    from incidents.classification import SeverityPolicy


class Settings(msgspec.Struct, kw_only=True, frozen=True, dict=True, rename="upper"):
    """Every setting a step may read; each step asks only for what it needs via `require`.
    The stack validated the values at synth (stacks/settings.py); this re-checks the shape.

    Each field is read from the environment variable of its name in upper case (`rename`);
    `dict=True` only gives `severity_policy` somewhere to cache itself."""

    incident_table_name: str = ""
    artifact_bucket_name: str = ""
    state_machine_arn: str = ""
    # SEVERITY_POLICY as set; `severity_policy` reads it. Only ingest and classify have it,
    # so only they import incidents.classification's models (the other steps' cold starts
    # skip them, docs/performance.md) and validate it, in `settings()`.
    severity_policy_json: str = field(default="", name="SEVERITY_POLICY")
    diagnostics_lookback_minutes: Annotated[int, Meta(ge=1, le=24 * 60)] = 30
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
    max_escalations: Annotated[int, Meta(ge=0, le=20)] = 2
    # People (docs/oncall.md): the compiled response declaration (s3://bucket/key; "" = no
    # people, the severity topics only), the overrides table, and the ARN prefix of the
    # per-contact topics (`<prefix><contact id>`).
    response_config_uri: str = ""
    # Alarms of the runbook's own (the drills' dead-man's switch, docs/drills.md): ingest
    # sets their ALARM aside (logged and counted) instead of opening an incident.
    ignored_alarm_prefix: str = ""
    oncall_table_name: str = ""
    contact_topic_prefix: str = ""
    # Remediation (docs/remediation.md): the compiled rules (s3://bucket/key; "" = none) and
    # the automation role the runbooks run as ("" when no rule exists).
    remediation_config_uri: str = ""
    remediation_role_arn: str = ""

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"TIMEZONE: unknown time zone {self.timezone!r}") from exc

    @cached_property
    def severity_policy(self) -> SeverityPolicy:
        """SEVERITY_POLICY (the defaults when unset), or ConfigurationError."""
        from incidents.classification import SeverityPolicy

        text = self.severity_policy_json.strip() or "{}"
        return read_json(SeverityPolicy, text, "invalid SEVERITY_POLICY", error=ConfigurationError)

    def require(self, field: str) -> str:
        """The value of a string setting this step cannot work without."""
        value = getattr(self, field)
        if not value:
            raise ConfigurationError(f"environment variable {ENV_NAMES[field]} is not set")
        return str(value)


# Field name -> environment variable (the names the stack sets, docs/contracts.md).
ENV_NAMES = dict(zip(Settings.__struct_fields__, Settings.__struct_encode_fields__, strict=True))


@lru_cache(maxsize=1)
def settings() -> Settings:
    """Read and validate the environment once (cold start); later calls reuse it. Values are
    text, so numbers are read from their digits (`strict=False`)."""
    raw = {env: os.environ[env] for env in ENV_NAMES.values() if env in os.environ}
    what = "invalid environment configuration"
    cfg = read(Settings, raw, what, error=ConfigurationError, strict=False)
    if cfg.severity_policy_json:
        _ = cfg.severity_policy  # validated (and cached) at cold start where it is set
    return cfg


def reset_settings() -> None:
    """Forget the cached settings (tests change the environment between cases)."""
    settings.cache_clear()
