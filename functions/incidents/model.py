"""The incident record (docs/contracts.md, "Incidents table") and its DynamoDB mapping."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, field

from shared.records import read_item, repr_without

Severity = Literal["critical", "high", "standard"]
SEVERITIES: tuple[Severity, ...] = ("critical", "high", "standard")
Status = Literal["OPEN", "MONITORING", "RESOLVED", "UNRESOLVED"]
OPEN_STATUSES: tuple[Status, ...] = ("OPEN", "MONITORING")

# The fields the state machine carries in `$.incident` (kept small on purpose).
STATE_FIELDS = (
    "incident_id",
    "title",
    "description",
    "severity",
    "severity_rule",
    "source",
    "alarm_name",
    "alarm_arn",
    "resources",
    "account",
    "region",
    "opened_at",
    "execution_arn",
    "drill",
    "drill_id",
    "drill_target",
)


class Resource(msgspec.Struct, kw_only=True, frozen=True):
    """An affected resource, typed with CloudFormation type names (AWS::Lambda::Function)."""

    type: Annotated[str, Meta(min_length=1, max_length=256)]
    id: Annotated[str, Meta(min_length=1, max_length=2048)]


class TimelineEntry(msgspec.Struct, kw_only=True):
    """One line of the incident's own timeline."""

    at: str
    event: str
    detail: str = ""


class RecoverySignal(msgspec.Struct, kw_only=True):
    """A resolution: an alarm OK (`recovered`) or an operator (`resolved`). Stored as
    `recovery_signal` when it arrives before MonitorRecovery stored its token."""

    at: str
    by: str
    note: str = ""
    status: Literal["recovered", "resolved"] = "resolved"


class Channel(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The incident's chat channel, once CreateIncidentChannel ran (stored without the
    absent id and name)."""

    status: str
    id: str | None = None
    name: str | None = None


class Incident(msgspec.Struct, kw_only=True):
    """An incident as stored in the table; optional fields fill in as the workflow runs."""

    incident_id: str
    title: str
    description: str = ""
    severity: Severity = "standard"
    severity_rule: str = ""
    status: Status = "OPEN"
    source: str = "unknown"
    alarm_name: str | None = None
    alarm_arn: str | None = None
    resources: list[Resource] = field(default_factory=list)
    account: str | None = None
    region: str | None = None
    opened_at: str
    updated_at: str | None = None
    execution_arn: str | None = None
    # A capability (it resumes the workflow): kept out of repr, so out of logged reprs.
    task_token: str | None = None
    recovery_signal: RecoverySignal | None = None
    resolved_at: str | None = None
    resolved_by: str | None = None
    resolution_note: str | None = None
    timeline: list[TimelineEntry] = field(default_factory=list)
    diagnostics_uri: str | None = None
    postmortem_uri: str | None = None
    channel: Channel | None = None
    # Correlation bookkeeping (docs/ingest.md): the key that opened the incident, how many
    # signals it absorbed, the newest one's time, how often it reopened, and whether an open
    # AWS Health issue makes it an AWS-side incident.
    correlation_key: str | None = None
    correlation_keys: set[str] | None = None
    signal_count: int | None = None
    last_signal_at: str | None = None
    reopen_count: int | None = None
    aws_side: bool | None = None
    health_event_arn: str | None = None
    # Paging and escalation (docs/contracts.md, "Paging, escalation and operator actions").
    acknowledged_at: str | None = None
    acknowledged_by: str | None = None
    acknowledgement_note: str | None = None
    escalation_count: int | None = None
    timeout_count: int | None = None
    last_escalated_at: str | None = None
    flap_count: int | None = None
    # A severity upgrade whose page has not gone out yet (ingest sends it).
    upgrade_page_pending: Severity | None = None
    # The diagnostics verdict, short (`domain`, `headline`, `scope`), for pages and updates.
    verdict: dict[str, Any] | None = None
    # The alarm went OK and the workflow is stabilising: still open, so a re-fire joins it.
    recovering: RecoverySignal | None = None
    # People (docs/oncall.md): the response plan chosen at classify, the escalation plan's
    # run (oncall.engagement.Engagement as plain data: pages, stages, who acknowledged).
    response_plan: str | None = None
    engagement: dict[str, Any] | None = None
    # OpsCenter (docs/oncall.md, "OpsCenter"): the incident's OpsItem, or why there is none.
    ops_item_id: str | None = None
    ops_item_problem: str | None = None
    # Remediation (docs/remediation.md): remediation.record.RemediationRecord as plain data
    # (proposal, decision, run, before/after), and the decision's task token while the
    # workflow waits for one (a capability, like task_token).
    remediation: dict[str, Any] | None = None
    remediation_token: str | None = None
    # A drill (docs/drills.md): not a real incident; `drill_target` is what it pages: the drill
    # topic ("topic") or the response plans as a real incident ("rotation").
    drill: bool | None = None
    drill_id: str | None = None
    drill_target: str | None = None

    def __repr__(self) -> str:
        return repr_without(self, "task_token", "remediation_token")

    @property
    def is_open(self) -> bool:
        """Still being worked: OPEN/MONITORING and no resolution recorded yet (an alarm that
        went OK and is being confirmed still counts as open: it may fire again)."""
        return self.status in OPEN_STATUSES and not self.resolved_at

    def closed_at(self) -> str | None:
        """When the incident stopped being open (its resolution, else its last update)."""
        if self.is_open:
            return None
        return self.resolved_at or self.updated_at or self.opened_at

    def to_item(self) -> dict[str, Any]:
        """The DynamoDB item: absent values are left out, so GSI by_alarm stays sparse; the
        correlation keys stay a set (a DynamoDB string set, which ingest ADDs to)."""
        plain = msgspec.to_builtins(self, builtin_types=(Decimal,))
        item = {name: value for name, value in plain.items() if value is not None}
        if self.correlation_keys is not None:
            item["correlation_keys"] = set(self.correlation_keys)
        return item

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Incident:
        """Build from a DynamoDB item (boto3's resource layer: numbers are Decimal)."""
        return read_item(cls, item, f"incident record {str(item.get('incident_id'))[:80]!r}")

    def to_state(self) -> dict[str, Any]:
        """The small `$.incident` object of the state machine (never the token or timeline)."""
        data = {
            name: msgspec.to_builtins(value)
            for name in STATE_FIELDS
            if (value := getattr(self, name)) is not None
        }
        data.setdefault("description", "")
        return data
