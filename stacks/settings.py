"""Deployment settings: the cdk.json context key ``incident-runbook``, validated.

The defaults here are the documented defaults in cdk.json (a test keeps the two equal). Keys are
camelCase in cdk.json and snake_case in Python; both spellings are accepted. The models are
msgspec structs, like the Lambda steps' records (docs/dependencies.md): a key is declared with
its type, bounds (`Meta`) and default; a check across keys or beyond a bound goes in
`__post_init__` (raise ValueError with a message that names the key). Values must have their
JSON type (`"600"` is not a number); an unknown key is an error, so a typo is never ignored.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
from msgspec import Meta, field
from msgspec.structs import force_setattr

CONTEXT_KEY = "incident-runbook"

Severity = Literal["critical", "high", "standard"]

# The retention periods CloudWatch Logs accepts (logs.RetentionDays minus "infinite").
VALID_LOG_RETENTION_DAYS = frozenset(
    {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
     2922, 3288, 3653}
)  # fmt: skip

# Step Functions' upper bound for a task's TimeoutSeconds.
MAX_TASK_TIMEOUT_SECONDS = 99_999_999


class SettingsError(ValueError):
    """The settings are invalid; the message names the key (`- at `$.recoveryTimeoutSeconds``)."""


class SeverityPattern(
    msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True, rename="camel"
):
    """A regular expression on the alarm name and the severity it decides (first match wins)."""

    pattern: Annotated[str, Meta(min_length=1)]
    severity: Severity

    def __post_init__(self) -> None:
        try:
            re.compile(self.pattern)
        except re.error as exc:
            raise ValueError(f"invalid regular expression {self.pattern!r}: {exc}") from exc


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


class Subscription(
    msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True, rename="camel"
):
    """One subscriber of a topic: an email address, an E.164 phone number or an https URL."""

    protocol: Protocol
    endpoint: Annotated[str, Meta(min_length=1, max_length=2048)]

    def __post_init__(self) -> None:
        if not _ENDPOINT_FORMS[self.protocol].fullmatch(self.endpoint):
            raise ValueError(f"{self.protocol} endpoint {self.endpoint!r} is not valid")


def _no_subscribers() -> dict[TopicName, tuple[Subscription, ...]]:
    return {topic: () for topic in TOPICS}


# EventBridge Scheduler's recurring expressions (one-time at(...) makes no drill schedule).
_SCHEDULE = re.compile(
    r"^(rate\(\s*[1-9][0-9]*\s+(minute|minutes|hour|hours|day|days)\s*\)|cron\(.+\))$"
)
DrillTarget = Literal["topic", "rotation"]


class DrillSettings(
    msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True, rename="camel"
):
    """`drill` (docs/drills.md): what a drill pages, the schedule (off by default) and the
    dead-man's switch that fires when no drill completed within the window."""

    # "topic": the drill topic (DrillTopicArn) only; "rotation": the response plans and
    # severity topics, as a real critical incident would (marked [DRILL]).
    target: DrillTarget = "topic"
    # "" = no schedule and no dead-man's switch; else an EventBridge Scheduler rate()/cron().
    schedule: Annotated[str, Meta(max_length=256)] = ""
    # The schedule created DISABLED and the switch's actions off (a change freeze).
    paused: bool = False
    # The switch fires when no drill completed in this many hours (hourly periods, <= 7 days).
    dead_mans_window_hours: Annotated[int, Meta(ge=1, le=168)] = 26
    # Subscribers of the drill topic, and of the switch's own topic (not the runbook's).
    subscriptions: tuple[Subscription, ...] = ()
    dead_man_subscriptions: tuple[Subscription, ...] = ()

    def __post_init__(self) -> None:
        text = self.schedule.strip()
        if text and not _SCHEDULE.fullmatch(text):
            raise ValueError(
                f"drill.schedule must be empty (off), rate(N minutes|hours|days) or cron(...); "
                f"got {self.schedule!r}"
            )
        force_setattr(self, "schedule", text)

    @property
    def scheduled(self) -> bool:
        return bool(self.schedule)


SOURCE_KEY = re.compile(r"^[a-z0-9][a-z0-9.-]*(/[A-Za-z0-9_]+)?$")


class Settings(
    msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True, rename="camel"
):
    """Everything a deployment can tune; see docs/contracts.md for what each key means."""

    # Paging and escalation (docs/contracts.md, "Paging, escalation and operator actions").
    recovery_timeout_seconds: Annotated[int, Meta(ge=1, le=MAX_TASK_TIMEOUT_SECONDS)] = 3600
    heartbeat_seconds: Annotated[int, Meta(ge=1, le=MAX_TASK_TIMEOUT_SECONDS)] = 300
    stabilisation_seconds: Annotated[int, Meta(ge=0, le=24 * 3600)] = 300
    max_escalations: Annotated[int, Meta(ge=0, le=20)] = 2
    # Every topic is present (`__post_init__` fills the ones not given).
    subscriptions: dict[TopicName, tuple[Subscription, ...]] = field(
        default_factory=_no_subscribers
    )
    slack_secret_name: str = ""
    slack_responders: tuple[str, ...] = ()
    default_severity: Severity = "standard"
    severity_patterns: tuple[SeverityPattern, ...] = field(default_factory=_default_patterns)
    namespace_severity: dict[str, Severity] = field(default_factory=_default_namespace_severity)
    source_severity: dict[str, Severity] = field(default_factory=_default_source_severity)
    # Ingest correlation (docs/ingest.md): related signals within this window fold into one
    # incident; a key that fires again this soon after its incident closed reopens it.
    correlation_window_minutes: Annotated[int, Meta(ge=0, le=24 * 60)] = 5
    reopen_window_minutes: Annotated[int, Meta(ge=0, le=7 * 24 * 60)] = 30
    fold_by_resource: bool = True
    diagnostics_lookback_minutes: Annotated[int, Meta(ge=1, le=24 * 60)] = 30
    log_retention_days: int = 30
    timezone: str = "UTC"
    powertools_layer_version: Annotated[int, Meta(ge=1)] = 27
    # Read-only role assumed in member accounts by collect_diagnostics ("" = this account only).
    diagnostics_role_name: Annotated[str, Meta(pattern=r"^[\w+=,.@-]{0,64}$")] = ""
    # People (docs/oncall.md): the response declaration file, relative to the app's directory
    # (absent: no people, the severity topics page as before), and how many times faster
    # than declared its stage durations and engagement offsets run (1 on AWS; the emulator's
    # demo and tests compress minutes into seconds).
    response_file: Annotated[str, Meta(min_length=1, max_length=1024)] = "incident-response.yaml"
    time_compression: Annotated[int, Meta(ge=1, le=3600)] = 1
    # Drills and the dead-man's switch (docs/drills.md).
    drill: DrillSettings = field(default_factory=DrillSettings)
    local: bool = False

    def __post_init__(self) -> None:
        """The checks a type and bounds cannot say, each naming its key; then normalise."""
        if self.log_retention_days not in VALID_LOG_RETENTION_DAYS:
            allowed = ", ".join(str(v) for v in sorted(VALID_LOG_RETENTION_DAYS))
            raise ValueError(
                f"logRetentionDays must be one of {allowed}; got {self.log_retention_days}"
            )
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"timezone: unknown time zone {self.timezone!r}") from exc
        bad = [key for key in self.source_severity if not SOURCE_KEY.fullmatch(key)]
        if bad:
            raise ValueError(f"sourceSeverity keys are `source` or `source/category`; got {bad}")
        bad = [user for user in self.slack_responders if not SLACK_USER_ID.fullmatch(user)]
        if bad:
            raise ValueError(f"slackResponders are Slack user ids (U.../W...); got {bad}")
        self._heartbeat_survives_a_missed_watch()
        # Frozen, so normalised in place once, before anyone sees the instance.
        every_topic = {topic: tuple(self.subscriptions.get(topic, ())) for topic in TOPICS}
        force_setattr(self, "subscriptions", every_topic)
        force_setattr(self, "slack_secret_name", self.slack_secret_name.strip())

    def _heartbeat_survives_a_missed_watch(self) -> None:
        if self.local:
            return
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

    @classmethod
    def from_context(cls, value: Any) -> Settings:
        """Validate the context value: a mapping, a JSON string (``cdk -c``) or nothing.
        SettingsError names the key and the problem."""
        if value is None:
            return cls()
        if isinstance(value, str):
            value = json.loads(value) if value.strip() else {}
        if not isinstance(value, Mapping):
            raise TypeError(
                f"context key {CONTEXT_KEY!r} must be a JSON object, got {type(value).__name__}"
            )
        # snake_case keys as their camelCase names; of two spellings of a key the later wins
        # (cdk.json's settings overlaid with the caller's, stacks/application.py).
        camel = dict(zip(cls.__struct_fields__, cls.__struct_encode_fields__, strict=True))
        given = {camel.get(key, key): item for key, item in value.items()}
        try:
            return msgspec.convert(given, cls)
        except msgspec.ValidationError as exc:
            raise SettingsError(f"invalid {CONTEXT_KEY!r} settings: {exc}") from exc

    def severity_policy(self) -> dict[str, Any]:
        """The SEVERITY_POLICY document the classify step reads (camelCase, as in cdk.json)."""
        return {
            "defaultSeverity": self.default_severity,
            "severityPatterns": [msgspec.to_builtins(p) for p in self.severity_patterns],
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
        """The camelCase JSON object as written in cdk.json (JSON types: lists, not tuples)."""
        context: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(self))
        return context
