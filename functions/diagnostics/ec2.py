"""EC2: status checks, scheduled events and CPU/status-check metrics of the instances.

The two status checks split the fault domain (EC2 User Guide, "Status checks"): a failed
*system* check is AWS's side (loss of network connectivity or system power, software or
hardware issues on the physical host); a failed *instance* check is ours (failed system
checks aside: incorrect networking or startup configuration, exhausted memory, a corrupted
file system, an incompatible kernel).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from diagnostics import metrics
from diagnostics.finding import AWS, INFRASTRUCTURE, OK, Cause, Finding, finding_from_client_error
from diagnostics.metrics import Series
from diagnostics.paging import Deadline, paginate
from diagnostics.targets import Targets
from shared.timeutil import iso, parse_time

SOURCE = "ec2"
CPU_EXHAUSTED_PERCENT = 95.0
_METRICS = (
    ("cpu", "CPUUtilization", "Maximum"),
    ("system", "StatusCheckFailed_System", "Maximum"),
    ("instance", "StatusCheckFailed_Instance", "Maximum"),
)


def _impaired_since(status: dict[str, Any]) -> str | None:
    for detail in status.get("Details", []):
        if detail.get("ImpairedSince"):
            return iso(parse_time(detail["ImpairedSince"]))
    return None


def causes_for(statuses: list[dict[str, Any]], cpu: dict[str, float], total: int) -> list[Cause]:
    """System impaired -> AWS; instance impaired or CPU pinned -> the user's infrastructure."""
    system = [s for s in statuses if s.get("SystemStatus", {}).get("Status") == "impaired"]
    instance = [
        s
        for s in statuses
        if s.get("InstanceStatus", {}).get("Status") == "impaired" and s not in system
    ]
    events = [
        (s["InstanceId"], e)
        for s in statuses
        for e in s.get("Events", [])
        if not e.get("Description", "").startswith("[Completed]")
    ]
    causes = []
    if system:
        causes.append(
            Cause(
                "ec2.system_status_impaired",
                AWS,
                "System status check failed: a problem with the AWS host",
                "Loss of network connectivity or power, or a software/hardware issue on the "
                "physical host. Stop and start an EBS-backed instance to move it to another "
                "host (a reboot does not), replace an instance-store one, or wait for AWS.",
                f"{len(system)} of {total} instances",
                [s["InstanceId"] for s in system],
                [
                    f"{s['InstanceId']}: system {s['SystemStatus'].get('Details')}"
                    for s in system[:3]
                ],
                ongoing=True,
                started_at=min(
                    (t for s in system if (t := _impaired_since(s["SystemStatus"]))), default=None
                ),
            )
        )
    if instance:
        causes.append(
            Cause(
                "ec2.instance_status_impaired",
                INFRASTRUCTURE,
                "Instance status check failed: a problem inside the instance",
                "Incorrect networking or startup configuration, exhausted memory, a corrupted "
                "file system or an incompatible kernel: read the console output, reboot, and "
                "fix the configuration.",
                f"{len(instance)} of {total} instances",
                [s["InstanceId"] for s in instance],
                [
                    f"{s['InstanceId']}: instance {s['InstanceStatus'].get('Details')}"
                    for s in instance[:3]
                ],
                ongoing=True,
                started_at=min(
                    (t for s in instance if (t := _impaired_since(s["InstanceStatus"]))),
                    default=None,
                ),
            )
        )
    if events:
        causes.append(
            Cause(
                "ec2.scheduled_event",
                AWS,
                "AWS scheduled an event (retirement, maintenance, reboot) for the instances",
                "Retirement means degraded host hardware: stop and start (or replace) the "
                "instance before the event's deadline.",
                f"{len({i for i, _ in events})} of {total} instances",
                sorted({i for i, _ in events}),
                [
                    f"{i}: {e.get('Code')} {e.get('Description', '')} from {e.get('NotBefore')}"
                    for i, e in events[:3]
                ],
            )
        )
    hot = sorted(i for i, value in cpu.items() if value >= CPU_EXHAUSTED_PERCENT)
    if hot:
        causes.append(
            Cause(
                "ec2.cpu_exhausted",
                INFRASTRUCTURE,
                f"CPU at or above {CPU_EXHAUSTED_PERCENT:g} %",
                "Scale out or up, or find the runaway process; burstable instances may have "
                "run out of CPU credits.",
                f"{len(hot)} of {total} instances",
                hot,
                [f"{i}: max CPU {cpu[i]:.0f} %" for i in hot[:3]],
            )
        )
    return causes


class Ec2Source:
    """Reads instance status and metrics through injected EC2 and CloudWatch clients."""

    def __init__(self, ec2: Any, cloudwatch: Any) -> None:
        self._ec2 = ec2
        self._cloudwatch = cloudwatch

    def collect(
        self, targets: Targets, start: datetime, end: datetime, deadline: Deadline
    ) -> list[Finding]:
        ids = targets.instances
        target = ", ".join(ids)
        series = [
            Series(f"i{n}_{key}", "AWS/EC2", metric, (("InstanceId", i),), stat)
            for n, i in enumerate(ids)
            for key, metric, stat in _METRICS
        ]
        try:
            statuses = paginate(
                self._ec2,
                "describe_instance_status",
                "InstanceStatuses",
                deadline,
                InstanceIds=ids,
                IncludeAllInstances=True,
            ).items
            results = metrics.fetch(self._cloudwatch, series, start, end, deadline)
        except ClientError as exc:
            return [finding_from_client_error(SOURCE, target, exc)]
        values = metrics.values_by_id(results)
        cpu = {i: max(values.get(f"i{n}_cpu", []), default=0.0) for n, i in enumerate(ids)}
        per_instance = {
            s["InstanceId"]: {
                "state": s.get("InstanceState", {}).get("Name"),
                "system": s.get("SystemStatus", {}).get("Status"),
                "instance": s.get("InstanceStatus", {}).get("Status"),
                "max_cpu": round(cpu.get(s["InstanceId"], 0.0), 1),
            }
            for s in statuses
        }
        causes = causes_for(statuses, cpu, len(ids))
        impaired = [
            i for i, s in per_instance.items() if "impaired" in (s["system"], s["instance"])
        ]
        message = (
            f"{len(impaired)} of {len(ids)} instances impaired"
            if impaired
            else f"status checks pass on {len(per_instance)} of {len(ids)} instances"
        )
        evidence = {"statuses": _jsonable(statuses), "series": metrics.evidence(results)}
        return [Finding(SOURCE, target, OK, message, {"instances": per_instance}, evidence, causes)]


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value
