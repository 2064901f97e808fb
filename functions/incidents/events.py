"""Parse the signals that open (or resolve) an incident into one normalised `Signal`.

Shapes (docs/contracts.md, "Execution input"): the ingest wrapper `{incident_id, event}`, an
operator's `{title, severity?, resources?, description?}`, or a raw EventBridge event. The
sources ingest handles (incidents/sources) are parsed strictly, as AWS documents them; here,
for the state machine's input, any other EventBridge event still opens an incident generically.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from msgspec import Meta, field

from incidents.model import Resource, Severity
from incidents.signal import PENDING_RULE, Signal
from incidents.sources import alarm, parser_for
from incidents.sources.envelope import invalid
from shared.errors import InvalidIncidentInput
from shared.records import NONEMPTY, read
from shared.timeutil import parse_time

__all__ = [
    "ALARM_DETAIL_TYPE",
    "PENDING_RULE",
    "OperatorInput",
    "Signal",
    "parse_alarm_event",
    "parse_eventbridge_event",
    "parse_execution_input",
    "parse_ingest_input",
    "parse_operator_input",
]

ALARM_DETAIL_TYPE = alarm.DETAIL_TYPE
ECS_SERVICE = "AWS::ECS::Service"
# Not a CloudFormation type: a CodeDeploy deployment id (d-XXXXXXXXX) from a CodeDeploy event.
CODEDEPLOY_DEPLOYMENT = "AWS::CodeDeploy::Deployment"


class _EventBridgeEvent(msgspec.Struct, kw_only=True):
    id: str = ""
    detail_type: Annotated[str, NONEMPTY] = field(name="detail-type")
    source: Annotated[str, NONEMPTY]
    account: str = ""
    time: str = ""
    region: str = ""
    resources: list[str] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict)


class OperatorInput(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """What an operator types in the console or the CLI to open an incident (a mistyped key
    is refused, not ignored)."""

    title: Annotated[str, Meta(min_length=1, max_length=256)]
    severity: Severity | None = None
    resources: list[Resource] = field(default_factory=list)
    description: Annotated[str, Meta(max_length=4096)] = ""


def _event_resources(envelope: _EventBridgeEvent) -> list[Resource]:
    """The event's ARNs, plus what its detail names that no ARN does: a CodeDeploy
    deployment id, or the ECS service (`group: service:NAME`) a task belongs to."""
    resources = [Resource(type="AWS::ARN", id=arn[:2048]) for arn in envelope.resources if arn]
    detail = envelope.detail
    deployment = detail.get("deploymentId")
    if isinstance(deployment, str) and deployment:
        resources.append(Resource(type=CODEDEPLOY_DEPLOYMENT, id=deployment[:2048]))
    group, cluster = detail.get("group"), detail.get("clusterArn")
    if isinstance(group, str) and group.startswith("service:") and isinstance(cluster, str):
        name = cluster.rsplit("/", 1)[-1]
        service = f"{name}/{group[len('service:') :]}"
        resources.append(Resource(type=ECS_SERVICE, id=service[:2048]))
    return resources


def parse_alarm_event(event: Any) -> Signal:
    """Parse a CloudWatch Alarm State Change event (any state: ALARM opens, OK recovers)."""
    return alarm.parse(event)


def _generic(event: Any) -> Signal:
    envelope = read(_EventBridgeEvent, event, "malformed EventBridge event")
    try:
        occurred_at = parse_time(envelope.time)
    except ValueError as exc:
        raise invalid("malformed EventBridge event", f"time: {exc}") from exc
    description = envelope.detail.get("eventDescription", "")
    return Signal(
        kind="event",
        title=f"{envelope.detail_type} ({envelope.source})"[:256],
        description=str(description)[:4096],
        source=envelope.source,
        occurred_at=occurred_at,
        signal_key=envelope.id or f"{envelope.source}|{envelope.time}|{envelope.resources}",
        resources=_event_resources(envelope),
        account=envelope.account or None,
        region=envelope.region or None,
    )


def parse_eventbridge_event(event: Any) -> Signal:
    """Any EventBridge event: alarms strictly; the other sources ingest handles as their
    parser reads them when it can (so ids match ingest's), else generically."""
    if isinstance(event, dict) and event.get("detail-type") == ALARM_DETAIL_TYPE:
        return parse_alarm_event(event)
    parse = parser_for(event)
    if parse is not None:
        try:
            return parse(event)
        except InvalidIncidentInput:
            pass
    return _generic(event)


def parse_operator_input(data: Any, started_at: datetime, key: str) -> Signal:
    """An operator's request; `key` (the execution name) makes it unique."""
    operator = read(OperatorInput, data, "invalid operator input")
    return Signal(
        kind="operator",
        title=operator.title,
        description=operator.description,
        source="operator",
        occurred_at=started_at,
        signal_key=f"operator|{key}",
        resources=operator.resources,
        requested_severity=operator.severity,
    )


def parse_ingest_input(data: Any) -> tuple[str, dict[str, Any]]:
    """The ingest wrapper `{incident_id, event}` that ingest starts executions with."""
    if not isinstance(data, dict) or set(data) != {"incident_id", "event"}:
        raise invalid("invalid ingest input", "expected exactly {incident_id, event}")
    given = data["incident_id"]
    if (
        not isinstance(given, str)
        or not 1 <= len(given) <= 80
        or not isinstance(data["event"], dict)
    ):
        raise invalid(
            "invalid ingest input", "incident_id must be 1-80 characters, event an object"
        )
    return data["incident_id"], data["event"]


def parse_execution_input(
    data: Any, started_at: datetime, execution_name: str
) -> tuple[str | None, Signal]:
    """Recognise the three execution input shapes; returns (given incident id, signal)."""
    if not isinstance(data, dict):
        raise invalid("invalid execution input", "expected a JSON object")
    if "incident_id" in data and "event" in data:
        given_id, event = parse_ingest_input(data)
        return given_id, parse_eventbridge_event(event)
    if "detail-type" in data:
        return None, parse_eventbridge_event(data)
    if "title" in data:
        return None, parse_operator_input(data, started_at, execution_name)
    raise invalid(
        "invalid execution input",
        "expected {incident_id, event}, {title, ...} or an EventBridge event",
    )
