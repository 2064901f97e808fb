"""Which log groups hold the incident's logs, found from its resources.

Lambda functions log to /aws/lambda/<name>; ECS containers to the awslogs group of their task
definition; API Gateway access logs to the group a stage names; VPC flow logs to the groups
DescribeFlowLogs lists. ECS task state-change events are read from the log group the stack's
EventBridge rule delivers every STOPPED task to (ECS itself keeps stopped tasks for about an
hour), named by the ECS_EVENTS_LOG_GROUP environment variable; the query over it is narrowed
to the incident's services (`ecs_services`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from diagnostics.logs_insights import log_group_for
from diagnostics.paging import Deadline, batches, paginate
from diagnostics.queries import MAX_ECS_SERVICES, is_ecs_name
from diagnostics.targets import Targets

# Set by the stack on collect_diagnostics (docs/contracts.md, "Lambda environment").
ENV_ECS_EVENTS_LOG_GROUP = "ECS_EVENTS_LOG_GROUP"
# Without the variable (a function deployed before the stack owned the group, or tests).
DEFAULT_ECS_EVENTS_LOG_GROUP = "/aws/events/ecs"
MAX_FLOW_LOG_GROUPS = 10
# DescribeServices takes at most 10 services per call.
DESCRIBE_SERVICES_BATCH = 10


@dataclass
class LogGroups:
    """Log groups by what they contain; `notes` says what could not be resolved."""

    application: list[str] = field(default_factory=list)
    api_access: list[str] = field(default_factory=list)
    ecs_events: list[str] = field(default_factory=list)
    # The (cluster, service) pairs whose tasks to read in `ecs_events`; set with it.
    ecs_services: list[tuple[str, str]] = field(default_factory=list)
    flow_logs: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def ecs_events_log_group() -> str:
    """The log group the stack delivers ECS Task State Change (STOPPED) events to."""
    return os.environ.get(ENV_ECS_EVENTS_LOG_GROUP, "").strip() or DEFAULT_ECS_EVENTS_LOG_GROUP


def _group_from_arn(arn: str) -> str:
    """`arn:aws:logs:r:a:log-group:NAME[:*]` -> NAME."""
    name = arn.split(":log-group:", 1)[-1]
    return name.removesuffix(":*")


class LogGroupResolver:
    """Resolves log groups with injected clients (each failure becomes a note)."""

    def __init__(self, clients: Any) -> None:
        self._clients = clients

    def resolve(self, targets: Targets, deadline: Deadline) -> LogGroups:
        found = LogGroups(application=[log_group_for(f) for f in targets.functions])
        if targets.ecs_services:
            self._ecs(targets, found)
            self._ecs_events(targets, found)
        if targets.apis:
            self._apis(targets, found, deadline)
        if targets.instances or targets.db_instances or targets.ecs_services:
            self._flow_logs(found, deadline)
        return found

    def _ecs(self, targets: Targets, found: LogGroups) -> None:
        ecs = self._clients("ecs")
        by_cluster: dict[str, list[str]] = {}
        for cluster, service in targets.ecs_services:
            by_cluster.setdefault(cluster, []).append(service)
        try:
            definitions = set()
            for cluster, services in by_cluster.items():
                for batch in batches(services, DESCRIBE_SERVICES_BATCH):
                    described = ecs.describe_services(cluster=cluster, services=batch)
                    definitions |= {s["taskDefinition"] for s in described.get("services", [])}
            for definition in sorted(definitions):
                task_def = ecs.describe_task_definition(taskDefinition=definition)
                for container in task_def["taskDefinition"].get("containerDefinitions", []):
                    config = container.get("logConfiguration", {})
                    group = config.get("options", {}).get("awslogs-group")
                    if config.get("logDriver") == "awslogs" and group:
                        _append(found.application, group)
        except ClientError as exc:
            found.notes.append(f"ECS log groups not resolved: {exc}"[:300])

    @staticmethod
    def _ecs_events(targets: Targets, found: LogGroups) -> None:
        """The incident's services whose stopped tasks the events query reads (names ECS
        could not have issued are left out, beyond MAX_ECS_SERVICES too, with a note)."""
        valid = [pair for pair in targets.ecs_services if all(map(is_ecs_name, pair))]
        left_out = [f"{c}/{s}" for c, s in targets.ecs_services if (c, s) not in valid]
        left_out += [f"{c}/{s}" for c, s in valid[MAX_ECS_SERVICES:]]
        if left_out:
            found.notes.append(f"ECS task events not queried for: {', '.join(left_out)}"[:300])
        found.ecs_services = valid[:MAX_ECS_SERVICES]
        if found.ecs_services:
            found.ecs_events.append(ecs_events_log_group())

    def _apis(self, targets: Targets, found: LogGroups, deadline: Deadline) -> None:
        apigateway = self._clients("apigateway")
        try:
            apis = paginate(apigateway, "get_rest_apis", "items", deadline).items
            ids = {a["name"]: a["id"] for a in apis}
            for name in targets.apis:
                api_id = ids.get(name, name)
                for stage in apigateway.get_stages(restApiId=api_id).get("item", []):
                    arn = stage.get("accessLogSettings", {}).get("destinationArn", "")
                    if arn.startswith("arn:aws") and ":log-group:" in arn:
                        _append(found.api_access, _group_from_arn(arn))
        except ClientError as exc:
            found.notes.append(f"API Gateway access log groups not resolved: {exc}"[:300])

    def _flow_logs(self, found: LogGroups, deadline: Deadline) -> None:
        try:
            flow_logs = paginate(
                self._clients("ec2"),
                "describe_flow_logs",
                "FlowLogs",
                deadline,
                Filters=[{"Name": "log-destination-type", "Values": ["cloud-watch-logs"]}],
            ).items
        except ClientError as exc:
            found.notes.append(f"VPC flow-log groups not resolved: {exc}"[:300])
            return
        for flow_log in flow_logs:
            group = flow_log.get("LogGroupName")
            if group and len(found.flow_logs) < MAX_FLOW_LOG_GROUPS:
                _append(found.flow_logs, group)


def _append(values: list[str], value: str) -> None:
    if value not in values:
        values.append(value)
