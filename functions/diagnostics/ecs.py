"""ECS: service events and the tasks that stopped, with ECS's documented stop causes.

DescribeServices gives the service's own event log (placement failures, unhealthy targets);
ListTasks(desiredStatus=STOPPED) + DescribeTasks (at most 100 per call) give each stopped
task's stoppedReason, stopCode and container exit codes. ECS keeps stopped tasks visible for
about an hour; older stops are in the logs source's ECS events query.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from diagnostics.finding import (
    APPLICATION,
    INFRASTRUCTURE,
    OK,
    Cause,
    Finding,
    finding_from_client_error,
)
from diagnostics.paging import Deadline, batches, paginate
from diagnostics.targets import Targets
from shared.timeutil import iso, parse_time

SOURCE = "ecs"
DESCRIBE_TASKS_BATCH = 100
DESCRIBE_SERVICES_BATCH = 10
_EVENTS = 20

# (code, pattern on the stoppedReason / event message, domain, title, fix)
_RULES: tuple[tuple[str, re.Pattern[str], Any, str, str], ...] = (
    (
        "ecs.image_pull",
        re.compile(r"CannotPullContainerError|pull image manifest|failed to resolve ref"),
        INFRASTRUCTURE,
        "Tasks cannot pull their container image",
        "Check the image URI and tag exist; the task execution role needs ECR read access; "
        "tasks in private subnets need a NAT gateway or ECR/S3 VPC endpoints.",
    ),
    (
        "ecs.iam",
        re.compile(r"(?i)AccessDenied|not authorized|unable to assume (the )?role"),
        INFRASTRUCTURE,
        "ECS is denied by IAM (task or task execution role)",
        "Fix the role's trust policy (ecs-tasks.amazonaws.com) and grant the action named in "
        "the reason to the task execution role (ECR, Secrets Manager, logs) or task role.",
    ),
    (
        "ecs.resource_initialization",
        re.compile(r"ResourceInitializationError"),
        INFRASTRUCTURE,
        "Task resources could not be initialised (secrets, registry auth, log group)",
        "The task's subnet must reach Secrets Manager/SSM/ECR/CloudWatch Logs (NAT or VPC "
        "endpoints) and the execution role must be allowed to read them.",
    ),
    (
        "ecs.capacity",
        re.compile(
            r"(?i)insufficient (memory|cpu)|RESOURCE:(MEMORY|CPU|PORTS)|no container instance "
            r"met|Capacity is unavailable|unable to place a task"
        ),
        INFRASTRUCTURE,
        "Not enough capacity to place tasks",
        "Add container instances or capacity-provider headroom, free the conflicting host "
        "port, or try other Availability Zones / Fargate Spot vs on-demand.",
    ),
    (
        "ecs.elb_health_check",
        re.compile(r"(?i)failed ELB health checks|unhealthy in target-group"),
        APPLICATION,
        "Tasks fail the load balancer's health checks",
        "Check the health-check path, port and success codes against the container, and the "
        "service's health-check grace period against the application's start-up time.",
    ),
    (
        "ecs.container_health_check",
        re.compile(r"(?i)failed container health checks"),
        APPLICATION,
        "Tasks fail their container health check",
        "Run the task definition's healthCheck command in the container; check start period.",
    ),
    (
        "ecs.essential_container_exited",
        re.compile(r"Essential container in task exited"),
        APPLICATION,
        "An essential container exited",
        "Read the container's logs around its stop time; exit 1 is an application error, "
        "139 a segfault, 143 a SIGTERM that was not handled in time.",
    ),
)
_OOM = (
    "ecs.out_of_memory",
    INFRASTRUCTURE,
    "Containers killed for exceeding their memory (exit 137, OutOfMemory)",
    "Raise the container/task memory, or find the leak; exit code 137 is SIGKILL from the OOM "
    "killer.",
)
_NOT_A_FAULT = ("UserInitiated", "ServiceSchedulerInitiated")


def classify_reason(reason: str, stop_code: str, containers: list[dict[str, Any]]) -> Cause | None:
    """The documented cause behind a stopped task (or a service event), if any."""
    container_text = " ".join(str(c.get("reason", "")) for c in containers)
    exits = [c.get("exitCode") for c in containers]
    if "OutOfMemory" in reason + container_text or (137 in exits and stop_code not in _NOT_A_FAULT):
        code, domain, title, fix = _OOM
        return Cause(code, domain, title, fix)
    text = f"{reason} {container_text}"
    for code, pattern, domain, title, fix in _RULES:
        if pattern.search(text):
            return Cause(code, domain, title, fix)
    return None


def _task_line(task: dict[str, Any]) -> str:
    exits = ", ".join(
        f"{c.get('name')}={c.get('exitCode')}"
        for c in task.get("containers", [])
        if c.get("exitCode") is not None
    )
    arn = task.get("taskArn", "").rsplit("/", 1)[-1]
    return f"{arn}: {task.get('stopCode', '')} {task.get('stoppedReason', '')} [{exits}]"[:300]


class EcsSource:
    """Reads services and stopped tasks through an injected ECS client."""

    def __init__(self, ecs: Any) -> None:
        self._ecs = ecs

    def collect(self, targets: Targets, start: datetime, deadline: Deadline) -> list[Finding]:
        by_cluster: dict[str, list[str]] = {}
        for cluster, service in targets.ecs_services:
            by_cluster.setdefault(cluster, []).append(service)
        findings = []
        for cluster, names in by_cluster.items():
            for batch in batches(names, DESCRIBE_SERVICES_BATCH):
                try:
                    described = self._ecs.describe_services(cluster=cluster, services=batch)
                except ClientError as exc:
                    findings.append(finding_from_client_error(SOURCE, cluster, exc))
                    continue
                for service in described.get("services", []):
                    findings.append(self._service(cluster, service, start, deadline))
                for failure in described.get("failures", []):
                    target = f"{cluster}/{failure.get('arn', '').rsplit('/', 1)[-1]}"
                    findings.append(
                        Finding(SOURCE, target, "not_found", f"{failure.get('reason')}")
                    )
        return findings

    def _service(
        self, cluster: str, service: dict[str, Any], start: datetime, deadline: Deadline
    ) -> Finding:
        name = service["serviceName"]
        target = f"{cluster}/{name}"
        try:
            stopped = self._stopped_tasks(cluster, name, start, deadline)
        except ClientError as exc:
            return finding_from_client_error(SOURCE, target, exc)
        running, desired = service.get("runningCount", 0), service.get("desiredCount", 0)
        events = [
            {"at": iso(parse_time(e["createdAt"])), "message": e.get("message", "")}
            for e in service.get("events", [])[:_EVENTS]
            if parse_time(e["createdAt"]) >= start
        ]
        causes: dict[str, Cause] = {}
        counts: dict[str, int] = {}
        for task in stopped:
            cause = classify_reason(
                task.get("stoppedReason", ""), task.get("stopCode", ""), task.get("containers", [])
            )
            if cause is None:
                continue
            kept = causes.setdefault(cause.code, cause)
            counts[cause.code] = counts.get(cause.code, 0) + 1
            kept.resources.append(task.get("taskArn", ""))
            if len(kept.evidence) < 3:
                kept.evidence.append(_task_line(task))
        total = len(stopped) + running
        for code, cause in causes.items():
            cause.scope = f"{counts[code]} of {total} tasks"
            cause.resources = [target, *cause.resources[:5]]
        for event in events:
            cause = classify_reason(event["message"], "", [])
            if cause is not None and cause.code not in causes:
                cause.scope = f"service {target} ({running} of {desired} tasks running)"
                cause.resources = [target]
                cause.evidence = [event["message"][:300]]
                causes[cause.code] = cause
        summary = {
            "running": running,
            "desired": desired,
            "pending": service.get("pendingCount", 0),
            "stopped_in_window": len(stopped),
            "stop_codes": _count(t.get("stopCode", "") for t in stopped),
        }
        message = f"{running} of {desired} tasks running; {len(stopped)} stopped in the window" + (
            f"; causes: {', '.join(causes)}" if causes else ""
        )
        evidence = {
            "events": events,
            "deployments": [
                {
                    k: str(d.get(k, ""))
                    for k in (
                        "id",
                        "status",
                        "rolloutState",
                        "taskDefinition",
                        "desiredCount",
                        "runningCount",
                        "failedTasks",
                    )
                }
                for d in service.get("deployments", [])
            ],
            "stopped_tasks": [_task_record(t) for t in stopped],
        }
        return Finding(SOURCE, target, OK, message, summary, evidence, list(causes.values()))

    def _stopped_tasks(
        self, cluster: str, service: str, start: datetime, deadline: Deadline
    ) -> list[dict[str, Any]]:
        arns = paginate(
            self._ecs,
            "list_tasks",
            "taskArns",
            deadline,
            cluster=cluster,
            serviceName=service,
            desiredStatus="STOPPED",
        ).items
        tasks: list[dict[str, Any]] = []
        for batch in batches(arns, DESCRIBE_TASKS_BATCH):
            if deadline.expired():
                break
            tasks += self._ecs.describe_tasks(cluster=cluster, tasks=batch).get("tasks", [])
        return [t for t in tasks if "stoppedAt" not in t or parse_time(t["stoppedAt"]) >= start]


def _task_record(task: dict[str, Any]) -> dict[str, Any]:
    return {
        "task": task.get("taskArn", ""),
        "stopCode": task.get("stopCode", ""),
        "stoppedReason": task.get("stoppedReason", ""),
        "stoppedAt": iso(parse_time(task["stoppedAt"])) if task.get("stoppedAt") else None,
        "containers": [
            {k: c.get(k) for k in ("name", "exitCode", "reason", "lastStatus")}
            for c in task.get("containers", [])
        ],
    }


def _count(values: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        if value:
            counts[value] = counts.get(value, 0) + 1
    return counts
