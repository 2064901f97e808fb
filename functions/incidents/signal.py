"""`Signal`: what every input shape (alarm, Health, ECS, CodeDeploy, operator) boils down to.

A signal carries what opening and classifying an incident needs, plus what correlation needs:
the key of the thing that fired (alarm, ECS service, deployment group, Health event), the keys
it may fold on (its resources), and the AWS Health services its resources belong to.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from msgspec import field

from incidents.ids import incident_id as make_incident_id
from incidents.model import Incident, Resource, Severity, TimelineEntry
from shared.timeutil import iso, parse_time

# The severity rule of an incident that classify has not seen yet.
PENDING_RULE = "pending classification"


class Signal(msgspec.Struct, kw_only=True):
    """One normalised trigger; `kind` is alarm | health | ecs | codedeploy | drill | event |
    operator."""

    kind: str
    title: str
    description: str = ""
    source: str
    occurred_at: datetime
    signal_key: str
    # The source's own sub-kind, for per-source severity defaults (Health eventTypeCategory,
    # ECS stopCode, CodeDeploy state).
    category: str | None = None
    alarm_name: str | None = None
    alarm_arn: str | None = None
    state_value: str | None = None
    state_reason: str = ""
    namespaces: list[str] = field(default_factory=list)
    metric_names: list[str] = field(default_factory=list)
    resources: list[Resource] = field(default_factory=list)
    account: str | None = None
    region: str | None = None
    requested_severity: Severity | None = None
    # Correlation (docs/ingest.md): one key per thing that fires, fold keys shared with related
    # signals, and `service:<account>:<region>:<HEALTH CODE>` keys an AWS Health issue claims.
    correlation_key: str = ""
    fold_keys: list[str] = field(default_factory=list)
    service_keys: list[str] = field(default_factory=list)
    # False for a signal ingest records but that opens nothing (a closed Health event).
    opens_incident: bool = True
    aws_side: bool = False
    # An item ingest stores besides correlating (the `health#` item of an AWS Health event).
    record: dict[str, Any] | None = None
    # A drill (docs/drills.md): its id and what it pages ("topic" | "rotation").
    drill_id: str | None = None
    drill_target: str | None = None

    def __post_init__(self) -> None:
        # Naive times (an envelope without a zone) are UTC, so windows can compare them.
        self.occurred_at = parse_time(self.occurred_at)

    def incident_id(self) -> str:
        """The deterministic id of the incident this signal opens (also its dedupe identity)."""
        return make_incident_id(self.occurred_at, self.signal_key)

    def to_incident(self, incident_id: str) -> Incident:
        """A new OPEN incident for this signal (severity is decided later, by classify)."""
        at = iso(self.occurred_at)
        return Incident(
            incident_id=incident_id,
            title=self.title,
            description=self.description,
            severity=self.requested_severity or "standard",
            severity_rule=PENDING_RULE,
            source=self.source,
            alarm_name=self.alarm_name,
            alarm_arn=self.alarm_arn,
            resources=self.resources,
            account=self.account,
            region=self.region,
            opened_at=at,
            correlation_key=self.correlation_key or None,
            signal_count=1,
            last_signal_at=at,
            aws_side=self.aws_side or None,
            health_event_arn=(self.record or {}).get("event_arn")
            if self.kind == "health"
            else None,
            timeline=[TimelineEntry(at=at, event="opened", detail=self.source)],
            drill=True if self.drill_id else None,
            drill_id=self.drill_id,
            drill_target=self.drill_target,
        )
