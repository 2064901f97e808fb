"""The payloads the state machine hands each Lambda step (docs/contracts.md), checked so a
malformed payload fails fast with InvalidIncidentInput instead of a KeyError deep inside."""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

import msgspec
from msgspec import Meta, field

from incidents.model import Incident
from shared.records import NONEMPTY, read, repr_without

T = TypeVar("T", bound=msgspec.Struct)


class ClassifyPayload(msgspec.Struct, kw_only=True):
    """What ClassifyIncident passes: the execution input and the execution's identity."""

    input: Any
    execution_name: Annotated[str, Meta(min_length=1, max_length=80)]
    execution_arn: Annotated[str, NONEMPTY]
    started_at: Annotated[str, NONEMPTY]


class IncidentPayload(msgspec.Struct, kw_only=True):
    """`{"incident": {...}}` for CollectDiagnostics and CreateIncidentChannel."""

    incident: Incident


class MonitorPayload(msgspec.Struct, kw_only=True):
    """MonitorRecovery's `{task_token, incident_id, execution_arn}`."""

    task_token: Annotated[str, NONEMPTY]
    incident_id: Annotated[str, NONEMPTY]
    execution_arn: str = ""

    def __repr__(self) -> str:
        return repr_without(self, "task_token")  # a capability: never in logged reprs


class PostmortemPayload(msgspec.Struct, kw_only=True):
    """DocumentIncident's `{incident, response, recovery, execution_arn}`."""

    incident: Incident
    response: dict[str, Any] = field(default_factory=dict)
    recovery: dict[str, Any] = field(default_factory=dict)
    execution_arn: Annotated[str, NONEMPTY]


class EscalationRequest(msgspec.Struct, kw_only=True):
    """Why the workflow escalates: its wait timed out, its heartbeat lapsed, or an operator."""

    reason: Literal["timeout", "heartbeat", "operator"]
    by: Annotated[str, Meta(max_length=200)] = "runbook"
    note: Annotated[str, Meta(max_length=2000)] = ""


class WaitSettings(msgspec.Struct, kw_only=True):
    """`$.settings`: the recovery wait and heartbeat the stack configured."""

    recovery_timeout_seconds: Annotated[int, Meta(ge=1)]
    heartbeat_seconds: Annotated[int, Meta(ge=1)]
    stabilisation_seconds: int = 0


class Notice(msgspec.Struct, kw_only=True):
    """`$.notification`: the page classify worded."""

    subject: Annotated[str, Meta(max_length=200)] = ""
    message: Annotated[str, Meta(max_length=20000)] = ""


class EngagePayload(msgspec.Struct, kw_only=True):
    """Engage's `{incident, notification, settings, execution_arn}`."""

    incident: Incident
    notification: Notice = field(default_factory=Notice)
    settings: WaitSettings
    execution_arn: str = ""


class EscalatePayload(msgspec.Struct, kw_only=True):
    """Escalate's `{incident, request, execution_arn}` (and, to time the next wait of an
    active escalation plan, `settings` and `notification`)."""

    incident: Incident
    request: EscalationRequest
    execution_arn: str = ""
    settings: WaitSettings | None = None
    notification: Notice = field(default_factory=Notice)


class StabilityPayload(msgspec.Struct, kw_only=True):
    """CheckStability's `{incident, recovery}` (recovery: what MonitorRecovery resumed with)."""

    incident: Incident
    recovery: dict[str, Any] = field(default_factory=dict)


class ResolveRequest(msgspec.Struct, kw_only=True):
    """A direct resolve request to the recovery function (API, Slack button)."""

    incident_id: Annotated[str, NONEMPTY]
    by: Annotated[str, Meta(min_length=1, max_length=200)] = "api"
    note: Annotated[str, Meta(max_length=2000)] = ""


def parse_payload(model: type[T], event: Any) -> T:
    """Check `event` against `model`, or raise InvalidIncidentInput naming what is wrong."""
    return read(model, event, f"invalid {model.__name__}")
