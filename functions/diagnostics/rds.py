"""RDS: instance status and the action it needs, CPU/storage/connection metrics, and (when
enabled) Performance Insights' peak database load (GetResourceMetrics) with its top wait
events and top SQL (DescribeDimensionKeys).

Statuses and actions follow the RDS User Guide ("Viewing Amazon RDS DB instance status").
Performance Insights is optional: when it is off, not allowed, or not reachable (as on the
local emulator) the finding says so and the rest stands.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from diagnostics import metrics
from diagnostics.finding import INFRASTRUCTURE, OK, Cause, Finding, finding_from_client_error
from diagnostics.metrics import Series
from diagnostics.paging import Deadline, paginate
from diagnostics.targets import Targets

SOURCE = "rds"
LOW_STORAGE_FRACTION = 0.10
CPU_EXHAUSTED_PERCENT = 95.0
_GIB = 1024**3
_METRICS = (
    ("cpu", "CPUUtilization", "Maximum"),
    ("storage", "FreeStorageSpace", "Minimum"),
    ("connections", "DatabaseConnections", "Maximum"),
)

# status -> (what it means, the action it needs)
STATUS_ACTIONS: dict[str, tuple[str, str]] = {
    "failed": (
        "The instance has failed and RDS cannot recover it",
        "Restore to the latest restorable time (point-in-time restore) and repoint clients.",
    ),
    "storage-full": (
        "The instance has reached its allocated storage",
        "Modify the instance to add storage now (or enable storage autoscaling); alarm on "
        "FreeStorageSpace to see it coming.",
    ),
    "incompatible-network": (
        "RDS cannot complete a recovery action because of the VPC's state (for example no "
        "free IP address in a subnet)",
        "Free IP addresses in the DB subnet group's subnets (or add subnets), then reboot.",
    ),
    "inaccessible-encryption-credentials": (
        "The KMS key that encrypts the instance cannot be accessed",
        "Re-enable the key and restore its grants/key policy; a deleted key means restoring "
        "from a backup encrypted with an accessible key.",
    ),
    "inaccessible-encryption-credentials-recoverable": (
        "The KMS key is inaccessible but the instance can still be recovered",
        "Re-enable the KMS key within 7 days, then start the instance.",
    ),
    "incompatible-parameters": (
        "The DB parameter group's parameters are not compatible with the instance",
        "Revert the parameter changes (or make them compatible) and reboot.",
    ),
    "incompatible-option-group": (
        "An option group change could not be applied",
        "Revert the option group to the last working one.",
    ),
    "incompatible-restore": (
        "A point-in-time restore could not complete",
        "Check the parameter group and restore to another time or from a snapshot.",
    ),
    "restore-error": (
        "Restoring to a point in time or from a snapshot failed",
        "Retry the restore; check the snapshot, instance class and storage settings.",
    ),
    "insufficient-capacity": (
        "RDS does not have enough capacity for the instance class in this AZ",
        "Retry later, choose another instance class, or another Availability Zone.",
    ),
    "stopped": ("The instance is stopped", "Start it (and check who stopped it in CloudTrail)."),
    "storage-optimization": (
        "Storage is being optimised after a modification",
        "Wait; performance may be reduced until it completes.",
    ),
    "rebooting": ("The instance is rebooting", "Wait; check who rebooted it and why."),
    "maintenance": (
        "RDS is applying maintenance",
        "Wait for it to finish; move the maintenance window out of busy hours.",
    ),
    "upgrading": ("The engine version is being upgraded", "Wait; watch the event log."),
    "modifying": ("A modification is being applied", "Wait; check pending modifications."),
}
_HEALTHY = frozenset(
    {
        "available",
        "backing-up",
        "configuring-enhanced-monitoring",
        "configuring-log-exports",
        "configuring-iam-database-auth",
    }
)


def _status_cause(db: dict[str, Any]) -> Cause | None:
    status = db.get("DBInstanceStatus", "")
    if status in _HEALTHY or status not in STATUS_ACTIONS:
        return None
    meaning, action = STATUS_ACTIONS[status]
    return Cause(
        f"rds.{status}",
        INFRASTRUCTURE,
        f"{db['DBInstanceIdentifier']} is {status}: {meaning}",
        action,
        "1 DB instance",
        [db["DBInstanceIdentifier"]],
        [f"DBInstanceStatus={status}"],
        ongoing=True,
    )


def _metric_causes(db: dict[str, Any], cpu: float, free: float | None) -> list[Cause]:
    name = db["DBInstanceIdentifier"]
    causes = []
    allocated = float(db.get("AllocatedStorage", 0)) * _GIB
    if free is not None and allocated and free < LOW_STORAGE_FRACTION * allocated:
        causes.append(
            Cause(
                "rds.low_storage",
                INFRASTRUCTURE,
                f"{name} is running out of storage",
                STATUS_ACTIONS["storage-full"][1],
                "1 DB instance",
                [name],
                [f"FreeStorageSpace min {free / _GIB:.1f} GiB of {allocated / _GIB:.0f} GiB"],
            )
        )
    if cpu >= CPU_EXHAUSTED_PERCENT:
        causes.append(
            Cause(
                "rds.cpu_exhausted",
                INFRASTRUCTURE,
                f"{name} CPU at {cpu:.0f} %",
                "Find the top SQL by load (Performance Insights) before scaling up.",
                "1 DB instance",
                [name],
                [f"CPUUtilization max {cpu:.0f} %"],
            )
        )
    return causes


class RdsSource:
    """Reads DB instances, metrics and Performance Insights through injected clients."""

    def __init__(self, rds: Any, cloudwatch: Any, pi: Any) -> None:
        self._rds = rds
        self._cloudwatch = cloudwatch
        self._pi = pi

    def collect(
        self, targets: Targets, start: datetime, end: datetime, deadline: Deadline
    ) -> list[Finding]:
        ids = targets.db_instances
        series = [
            Series(f"d{n}_{key}", "AWS/RDS", metric, (("DBInstanceIdentifier", i),), stat)
            for n, i in enumerate(ids)
            for key, metric, stat in _METRICS
        ]
        try:
            dbs = paginate(
                self._rds,
                "describe_db_instances",
                "DBInstances",
                deadline,
                Filters=[{"Name": "db-instance-id", "Values": ids}],
            ).items
            results = metrics.fetch(self._cloudwatch, series, start, end, deadline)
        except ClientError as exc:
            return [finding_from_client_error(SOURCE, ", ".join(ids), exc)]
        values = metrics.values_by_id(results)
        found = {db["DBInstanceIdentifier"]: db for db in dbs}
        findings = []
        for n, name in enumerate(ids):
            db = found.get(name)
            if db is None:
                findings.append(Finding(SOURCE, name, "not_found", f"{name} does not exist"))
                continue
            cpu = max(values.get(f"d{n}_cpu", []), default=0.0)
            free = min(values.get(f"d{n}_storage", []), default=None)
            conns = max(values.get(f"d{n}_connections", []), default=0.0)
            causes = [c for c in [_status_cause(db)] if c] + _metric_causes(db, cpu, free)
            summary: dict[str, Any] = {
                "status": db.get("DBInstanceStatus"),
                "engine": db.get("Engine"),
                "max_cpu": round(cpu, 1),
                "min_free_storage_gib": round(free / _GIB, 2) if free is not None else None,
                "max_connections": int(conns),
            }
            evidence: dict[str, Any] = {
                "series": [s for s in metrics.evidence(results) if s["id"].startswith(f"d{n}_")]
            }
            if db.get("PerformanceInsightsEnabled"):
                insights = self._performance_insights(db, start, end)
                summary["performance_insights"] = insights
                evidence["performance_insights"] = insights
            else:
                summary["performance_insights"] = "not enabled"
            message = f"{name} is {db.get('DBInstanceStatus')}; CPU max {cpu:.0f} %"
            findings.append(Finding(SOURCE, name, OK, message, summary, evidence, causes))
        return findings

    def _performance_insights(self, db: dict[str, Any], start: datetime, end: datetime) -> Any:
        """Top wait events and top SQL by db.load.avg, or why they are unavailable."""
        identity = {
            "ServiceType": "RDS",
            "Identifier": db.get("DbiResourceId", ""),
            "StartTime": start,
            "EndTime": end,
        }
        common = {**identity, "Metric": "db.load.avg"}
        try:
            load = self._pi.get_resource_metrics(
                **identity, MetricQueries=[{"Metric": "db.load.avg"}], PeriodInSeconds=60
            )
            waits = self._pi.describe_dimension_keys(
                **common, GroupBy={"Group": "db.wait_event", "Limit": 5}
            )
            sql = self._pi.describe_dimension_keys(
                **common, GroupBy={"Group": "db.sql_tokenized", "Limit": 5}
            )
        except (ClientError, BotoCoreError) as exc:
            return f"unavailable: {exc}"[:300]
        points = [
            p.get("Value", 0.0)
            for m in load.get("MetricList", [])
            for p in m.get("DataPoints", [])
            if p.get("Value") is not None
        ]
        return {
            "db_load_max": round(max(points), 2) if points else None,
            "top_wait_events": [
                {
                    "name": k.get("Dimensions", {}).get("db.wait_event.name"),
                    "type": k.get("Dimensions", {}).get("db.wait_event.type"),
                    "load": round(k.get("Total", 0.0), 3),
                }
                for k in waits.get("Keys", [])
            ],
            "top_sql": [
                {
                    "statement": str(k.get("Dimensions", {}).get("db.sql_tokenized.statement", ""))[
                        :300
                    ],
                    "load": round(k.get("Total", 0.0), 3),
                }
                for k in sql.get("Keys", [])
            ],
        }
