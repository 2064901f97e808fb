"""Deployment settings: the cdk.json context key ``incident-runbook``, validated.

The defaults here are the documented defaults in cdk.json (a test keeps the two equal). Keys are
camelCase in cdk.json and snake_case in Python; both spellings are accepted.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

CONTEXT_KEY = "incident-runbook"

Severity = Literal["critical", "high", "standard"]

# The retention periods CloudWatch Logs accepts (logs.RetentionDays minus "infinite").
VALID_LOG_RETENTION_DAYS = frozenset(
    {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
     2922, 3288, 3653}
)  # fmt: skip

# Step Functions' upper bound for a task's TimeoutSeconds.
MAX_TASK_TIMEOUT_SECONDS = 99_999_999


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
    )


class SeverityPattern(_Model):
    """A regular expression on the alarm name and the severity it decides (first match wins)."""

    pattern: str = Field(min_length=1)
    severity: Severity

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"invalid regular expression {value!r}: {exc}") from exc
        return value


def _default_patterns() -> tuple[SeverityPattern, ...]:
    return (
        SeverityPattern(
            pattern="(?i)(^|[^a-z0-9])(critical|sev-?1|p1)([^a-z0-9]|$)", severity="critical"
        ),
        SeverityPattern(pattern="(?i)(^|[^a-z0-9])(high|sev-?2|p2)([^a-z0-9]|$)", severity="high"),
    )


def _default_namespace_severity() -> dict[str, Severity]:
    return {"AWS/RDS": "high"}


def _default_source_severity() -> dict[str, Severity]:
    # `source` or `source/category` (Health eventTypeCategory, ECS stopCode, CodeDeploy state).
    return {
        "aws.health/issue": "high",
        "aws.health/scheduledChange": "standard",
        "aws.ecs": "high",
        "aws.codedeploy": "high",
    }


Protocol = Literal["email", "sms", "https"]
TopicName = Literal["critical", "high", "standard", "escalation"]
TOPICS: tuple[TopicName, ...] = ("critical", "high", "standard", "escalation")
_ENDPOINT_FORMS: dict[str, re.Pattern[str]] = {
    "email": re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
    "sms": re.compile(r"^\+[1-9][0-9]{6,14}$"),  # E.164
    "https": re.compile(r"^https://[^\s]+$"),
}
SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
# The recovery watch runs every minute on AWS; a heartbeat must survive one missed run.
MIN_AWS_HEARTBEAT_SECONDS = 120


class Subscription(_Model):
    """One subscriber of a topic: an email address, an E.164 phone number or an https URL."""

    protocol: Protocol
    endpoint: str = Field(min_length=1, max_length=2048)

    @model_validator(mode="after")
    def _endpoint_fits_protocol(self) -> Subscription:
        if not _ENDPOINT_FORMS[self.protocol].fullmatch(self.endpoint):
            raise ValueError(f"{self.protocol} endpoint {self.endpoint!r} is not valid")
        return self


def _no_subscribers() -> dict[TopicName, tuple[Subscription, ...]]:
    return {topic: () for topic in TOPICS}


SOURCE_KEY = re.compile(r"^[a-z0-9][a-z0-9.-]*(/[A-Za-z0-9_]+)?$")


class Settings(_Model):
    """Everything a deployment can tune; see docs/contracts.md for what each key means."""

    # Paging and escalation (docs/contracts.md, "Paging, escalation and operator actions").
    recovery_timeout_seconds: int = Field(default=3600, ge=1, le=MAX_TASK_TIMEOUT_SECONDS)
    heartbeat_seconds: int = Field(default=300, ge=1, le=MAX_TASK_TIMEOUT_SECONDS)
    stabilisation_seconds: int = Field(default=300, ge=0, le=24 * 3600)
    max_escalations: int = Field(default=2, ge=0, le=20)
    subscriptions: dict[TopicName, tuple[Subscription, ...]] = Field(
        default_factory=_no_subscribers
    )
    slack_secret_name: str = ""
    slack_responders: tuple[str, ...] = ()
    default_severity: Severity = "standard"
    severity_patterns: tuple[SeverityPattern, ...] = Field(default_factory=_default_patterns)
    namespace_severity: dict[str, Severity] = Field(default_factory=_default_namespace_severity)
    source_severity: dict[str, Severity] = Field(default_factory=_default_source_severity)
    # Ingest correlation (docs/ingest.md): related signals within this window fold into one
    # incident; a key that fires again this soon after its incident closed reopens it.
    correlation_window_minutes: int = Field(default=5, ge=0, le=24 * 60)
    reopen_window_minutes: int = Field(default=30, ge=0, le=7 * 24 * 60)
    fold_by_resource: bool = True
    diagnostics_lookback_minutes: int = Field(default=30, ge=1, le=24 * 60)
    log_retention_days: int = 30
    timezone: str = "UTC"
    powertools_layer_version: int = Field(default=27, ge=1)
    # Read-only role assumed in member accounts by collect_diagnostics ("" = this account only).
    diagnostics_role_name: str = Field(default="", pattern=r"^[\w+=,.@-]{0,64}$")
    local: bool = False

    @field_validator("log_retention_days")
    @classmethod
    def _valid_retention(cls, value: int) -> int:
        if value not in VALID_LOG_RETENTION_DAYS:
            allowed = ", ".join(str(v) for v in sorted(VALID_LOG_RETENTION_DAYS))
            raise ValueError(f"logRetentionDays must be one of {allowed}; got {value}")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("source_severity")
    @classmethod
    def _source_keys(cls, value: dict[str, Severity]) -> dict[str, Severity]:
        bad = [key for key in value if not SOURCE_KEY.fullmatch(key)]
        if bad:
            raise ValueError(f"sourceSeverity keys are `source` or `source/category`; got {bad}")
        return value

    @field_validator("subscriptions")
    @classmethod
    def _every_topic(
        cls, value: dict[TopicName, tuple[Subscription, ...]]
    ) -> dict[TopicName, tuple[Subscription, ...]]:
        return {topic: tuple(value.get(topic, ())) for topic in TOPICS}

    @field_validator("slack_responders")
    @classmethod
    def _user_ids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [user for user in value if not SLACK_USER_ID.fullmatch(user)]
        if bad:
            raise ValueError(f"slackResponders are Slack user ids (U.../W...); got {bad}")
        return value

    @model_validator(mode="after")
    def _heartbeat_survives_a_missed_watch(self) -> Settings:
        if self.local:
            return self
        if not self.heartbeat_checked:
            # Step Functions requires HeartbeatSeconds < TimeoutSeconds (checked at run time
            # when both come from paths): refuse at synth rather than fail mid-incident.
            raise ValueError(
                f"heartbeatSeconds ({self.heartbeat_seconds}) must be smaller than "
                f"recoveryTimeoutSeconds ({self.recovery_timeout_seconds})"
            )
        if self.heartbeat_seconds < MIN_AWS_HEARTBEAT_SECONDS:
            raise ValueError(
                f"heartbeatSeconds must be at least {MIN_AWS_HEARTBEAT_SECONDS} on AWS: the "
                "recovery watch sends heartbeats once a minute"
            )
        return self

    @property
    def heartbeat_checked(self) -> bool:
        """A heartbeat as long as the wait could never lapse first (allowed on the emulator
        only, whose tests shorten the wait without caring for heartbeats)."""
        return self.heartbeat_seconds < self.recovery_timeout_seconds

    def state_heartbeat_seconds(self) -> int:
        """MonitorRecovery's HeartbeatSeconds: the setting, or (unchecked) past the wait's end."""
        if self.heartbeat_checked:
            return self.heartbeat_seconds
        return min(self.recovery_timeout_seconds + 60, MAX_TASK_TIMEOUT_SECONDS)

    @field_validator("slack_secret_name")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()

    @classmethod
    def from_context(cls, value: Any) -> Settings:
        """Validate the context value: a mapping, a JSON string (``cdk -c``) or nothing."""
        if value is None:
            return cls()
        if isinstance(value, str):
            value = json.loads(value) if value.strip() else {}
        if not isinstance(value, Mapping):
            raise TypeError(
                f"context key {CONTEXT_KEY!r} must be a JSON object, got {type(value).__name__}"
            )
        return cls.model_validate(dict(value))

    def severity_policy(self) -> dict[str, Any]:
        """The SEVERITY_POLICY document the classify step reads (camelCase, as in cdk.json)."""
        return {
            "defaultSeverity": self.default_severity,
            "severityPatterns": [p.model_dump(by_alias=True) for p in self.severity_patterns],
            "namespaceSeverity": dict(self.namespace_severity),
            "sourceSeverity": dict(self.source_severity),
        }

    def severity_policy_json(self) -> str:
        return json.dumps(self.severity_policy(), separators=(",", ":"), sort_keys=True)

    def ingest_policy_json(self) -> str:
        """The INGEST_POLICY document the ingest step reads (camelCase, as in cdk.json)."""
        policy = {
            "correlationWindowMinutes": self.correlation_window_minutes,
            "reopenWindowMinutes": self.reopen_window_minutes,
            "foldByResource": self.fold_by_resource,
        }
        return json.dumps(policy, separators=(",", ":"), sort_keys=True)

    def to_context(self) -> dict[str, Any]:
        """The camelCase JSON object as written in cdk.json."""
        return self.model_dump(by_alias=True, mode="json")
