"""The payloads the state machine hands each Lambda step (docs/contracts.md), validated so a
malformed payload fails fast with InvalidIncidentInput instead of a KeyError deep inside."""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from incidents.model import Incident
from shared.errors import InvalidIncidentInput, validation_summary

T = TypeVar("T", bound=BaseModel)


class _Payload(BaseModel):
    # Each step validates one of these models: a schema is built on its first validation, so
    # the seven a step never uses are never built (~0.7 ms of its cold start, docs/performance.md).
    model_config = ConfigDict(defer_build=True)


class ClassifyPayload(_Payload):
    """What ClassifyIncident passes: the execution input and the execution's identity."""

    input: Any
    execution_name: str = Field(min_length=1, max_length=80)
    execution_arn: str = Field(min_length=1)
    started_at: str = Field(min_length=1)


class IncidentPayload(_Payload):
    """`{"incident": {...}}` for CollectDiagnostics and CreateIncidentChannel."""

    incident: Incident


class MonitorPayload(_Payload):
    """MonitorRecovery's `{task_token, incident_id, execution_arn}`."""

    task_token: str = Field(min_length=1)
    incident_id: str = Field(min_length=1)
    execution_arn: str = ""


class PostmortemPayload(_Payload):
    """DocumentIncident's `{incident, response, recovery, execution_arn}`."""

    incident: Incident
    response: dict[str, Any] = Field(default_factory=dict)
    recovery: dict[str, Any] = Field(default_factory=dict)
    execution_arn: str = Field(min_length=1)


class EscalationRequest(_Payload):
    """Why the workflow escalates: its wait timed out, its heartbeat lapsed, or an operator."""

    reason: Literal["timeout", "heartbeat", "operator"]
    by: str = Field(default="runbook", max_length=200)
    note: str = Field(default="", max_length=2000)


class EscalatePayload(_Payload):
    """Escalate's `{incident, request, execution_arn}`."""

    incident: Incident
    request: EscalationRequest
    execution_arn: str = ""


class StabilityPayload(_Payload):
    """CheckStability's `{incident, recovery}` (recovery: what MonitorRecovery resumed with)."""

    incident: Incident
    recovery: dict[str, Any] = Field(default_factory=dict)


class ResolveRequest(_Payload):
    """A direct resolve request to the recovery function (API, Slack button)."""

    incident_id: str = Field(min_length=1)
    by: str = Field(default="api", min_length=1, max_length=200)
    note: str = Field(default="", max_length=2000)


def parse_payload(model: type[T], event: Any) -> T:
    """Validate `event` as `model`, or raise InvalidIncidentInput naming what is wrong."""
    try:
        return model.model_validate(event)
    except ValidationError as exc:
        summary = validation_summary(exc)
        raise InvalidIncidentInput(f"invalid {model.__name__}: {summary}") from exc
