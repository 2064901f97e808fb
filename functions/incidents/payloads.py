"""The payloads the state machine hands each Lambda step (docs/contracts.md), checked so a
malformed payload fails fast with InvalidIncidentInput instead of a KeyError deep inside."""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from incidents.model import Incident
from shared.errors import InvalidIncidentInput
from shared.schema import NONEMPTY, Record, Rule, SchemaError, field, parse

T = TypeVar("T", bound=Record)


class ClassifyPayload(Record):
    """What ClassifyIncident passes: the execution input and the execution's identity."""

    input: Any
    execution_name: Annotated[str, Rule(min_length=1, max_length=80)]
    execution_arn: Annotated[str, NONEMPTY]
    started_at: Annotated[str, NONEMPTY]


class IncidentPayload(Record):
    """`{"incident": {...}}` for CollectDiagnostics and CreateIncidentChannel."""

    incident: Incident


class MonitorPayload(Record):
    """MonitorRecovery's `{task_token, incident_id, execution_arn}`."""

    task_token: Annotated[str, NONEMPTY] = field(repr=False)
    incident_id: Annotated[str, NONEMPTY]
    execution_arn: str = ""


class PostmortemPayload(Record):
    """DocumentIncident's `{incident, response, recovery, execution_arn}`."""

    incident: Incident
    response: dict[str, Any] = field(default_factory=dict)
    recovery: dict[str, Any] = field(default_factory=dict)
    execution_arn: Annotated[str, NONEMPTY]


class EscalationRequest(Record):
    """Why the workflow escalates: its wait timed out, its heartbeat lapsed, or an operator."""

    reason: Literal["timeout", "heartbeat", "operator"]
    by: Annotated[str, Rule(max_length=200)] = "runbook"
    note: Annotated[str, Rule(max_length=2000)] = ""


class EscalatePayload(Record):
    """Escalate's `{incident, request, execution_arn}`."""

    incident: Incident
    request: EscalationRequest
    execution_arn: str = ""


class StabilityPayload(Record):
    """CheckStability's `{incident, recovery}` (recovery: what MonitorRecovery resumed with)."""

    incident: Incident
    recovery: dict[str, Any] = field(default_factory=dict)


class ResolveRequest(Record):
    """A direct resolve request to the recovery function (API, Slack button)."""

    incident_id: Annotated[str, NONEMPTY]
    by: Annotated[str, Rule(min_length=1, max_length=200)] = "api"
    note: Annotated[str, Rule(max_length=2000)] = ""


def parse_payload(model: type[T], event: Any) -> T:
    """Check `event` against `model`, or raise InvalidIncidentInput naming what is wrong."""
    try:
        return parse(model, event)
    except SchemaError as exc:
        raise InvalidIncidentInput(f"invalid {model.__name__}: {exc.summary()}") from exc
