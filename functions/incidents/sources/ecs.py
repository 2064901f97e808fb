"""ECS "Task State Change" events (ECS Developer Guide, "Amazon ECS task state change events").

A stopped task is an incident when an essential container exited non-zero, or when it stopped
for any reason but a normal one: scale-in or a deployment replacing it (the service scheduler,
`Scaling activity initiated by ...`) or somebody stopping it (`UserInitiated`). Correlation
key: the ECS service (`group: service:<name>`), or the task family for standalone tasks.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import field

from incidents.correlation_keys import ecs_key, fold_keys_for, service_keys_for
from incidents.model import Resource
from incidents.signal import Signal
from incidents.sources.envelope import AwsEvent, aws_time, invalid, parse_event
from shared.records import NONEMPTY

SOURCE = "aws.ecs"
DETAIL_TYPE = "ECS Task State Change"
STOPPED = "STOPPED"
ESSENTIAL_EXITED = "EssentialContainerExited"
SCHEDULER = "ServiceSchedulerInitiated"
USER = "UserInitiated"
# The service scheduler's reason when it stops a task to scale in or to replace it.
SCALING_REASON = "Scaling activity initiated by"


class Container(msgspec.Struct, kw_only=True):
    name: str = ""
    exitCode: int | None = None
    reason: str | None = None
    lastStatus: str | None = None


class TaskDetail(msgspec.Struct, kw_only=True):
    clusterArn: Annotated[str, NONEMPTY]
    taskArn: Annotated[str, NONEMPTY]
    lastStatus: Annotated[str, NONEMPTY]
    group: str = ""
    desiredStatus: str | None = None
    stopCode: str | None = None
    stoppedReason: str = ""
    stoppedAt: str | None = None
    taskDefinitionArn: str = ""
    containers: list[Container] = field(default_factory=list)


class TaskEvent(AwsEvent):
    detail: TaskDetail


def failed_containers(detail: TaskDetail) -> list[Container]:
    return [c for c in detail.containers if c.exitCode not in (None, 0)]


def why_not_an_incident(detail: TaskDetail) -> str | None:
    """None if the stop is an incident, else why it is a normal stop."""
    if detail.lastStatus != STOPPED:
        return f"task is {detail.lastStatus}, not {STOPPED}"
    code = detail.stopCode
    if code == USER:
        return "stopped by a user (UserInitiated)"
    if code == SCHEDULER and detail.stoppedReason.startswith(SCALING_REASON):
        return f"normal scale-in or replacement: {detail.stoppedReason[:200]}"
    if code in (ESSENTIAL_EXITED, None) and not failed_containers(detail):
        return "every container exited 0 (a normal completion)"
    return None


def _cluster_name(cluster_arn: str) -> str:
    return cluster_arn.rsplit("/", 1)[-1]


def _title(service: str, detail: TaskDetail) -> str:
    failed = failed_containers(detail)
    exits = ", ".join(f"{c.name or '?'} exited {c.exitCode}" for c in failed)
    why = exits or detail.stoppedReason or detail.stopCode or "stopped"
    return f"ECS task stopped in {service}: {why}"[:256]


def parse(event: Any) -> Signal:
    """A stopped task that is an incident; a normal stop is an InvalidIncidentInput."""
    parsed = parse_event(event, TaskEvent, "malformed ECS task state change event")
    detail = parsed.detail
    reason = why_not_an_incident(detail)
    if reason:
        raise invalid("ECS task stop is not an incident", reason)
    try:
        occurred_at = aws_time(detail.stoppedAt) if detail.stoppedAt else parsed.time
    except ValueError as exc:
        raise invalid("malformed ECS task state change event", exc) from exc
    cluster = _cluster_name(detail.clusterArn)
    account, region = parsed.account or None, parsed.region or None
    resources = [Resource(type="AWS::ARN", id=detail.taskArn[:2048])]
    group = detail.group or f"task:{detail.taskDefinitionArn or detail.taskArn}"
    service = f"{cluster}/{group.removeprefix('service:')}"
    if group.startswith("service:"):
        resources.insert(0, Resource(type="AWS::ECS::Service", id=service[:2048]))
    lines = [detail.stoppedReason] + [
        f"{c.name}: exit {c.exitCode}{f' ({c.reason})' if c.reason else ''}"
        for c in failed_containers(detail)
    ]
    return Signal(
        kind="ecs",
        title=_title(service, detail),
        description="\n".join(line for line in lines if line)[:4096],
        source=SOURCE,
        category=detail.stopCode or "unknown",
        occurred_at=occurred_at,
        signal_key=f"{detail.taskArn}|{detail.lastStatus}|{detail.stoppedAt or parsed.time}",
        state_value=detail.lastStatus,
        state_reason=detail.stoppedReason[:2000],
        resources=resources,
        account=account,
        region=region,
        correlation_key=ecs_key(account, region, cluster, group),
        fold_keys=fold_keys_for(resources, account, region),
        service_keys=service_keys_for(resources, account, region),
    )
