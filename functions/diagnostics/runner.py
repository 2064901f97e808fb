"""Choose the diagnostic sources for an incident's resources and run them concurrently within
one overall time budget. A source that fails, throttles or runs out of time becomes a finding
that says so: diagnostics never fail the step, because they must never hold up paging or the
postmortem."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from botocore.exceptions import ClientError

from diagnostics.codedeploy import CodeDeploySource
from diagnostics.ec2 import Ec2Source
from diagnostics.ecs import EcsSource
from diagnostics.elb import ElbSource
from diagnostics.finding import ERROR, TIMEOUT, Finding, finding_from_client_error
from diagnostics.health import HEALTH_REGION, HealthSource, StoredHealthEvents
from diagnostics.lambda_metrics import LambdaMetrics
from diagnostics.logs import LogsSource
from diagnostics.network import NetworkSource
from diagnostics.paging import Deadline
from diagnostics.rds import RdsSource
from diagnostics.targets import Targets, function_name, targets_for
from diagnostics.xray import XRaySource
from incidents.model import Incident
from shared.timeutil import parse_time

__all__ = ["DiagnosticsRunner", "Task", "Window", "function_name", "window_for"]

MAX_WINDOW = timedelta(days=1)
# Sources stop paging this long before the runner stops waiting for them.
SOURCE_MARGIN_SECONDS = 1.0


class ClientFactory(Protocol):
    """`clients("ec2")` or `clients("health", region="us-east-1")` for the incident's account."""

    def __call__(self, service: str, region: str | None = None) -> Any: ...


@dataclass(frozen=True)
class Window:
    """The time span the sources look at."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class Task:
    """One unit of work: a source applied to a target, answering one or more findings."""

    source: str
    target: str
    run: Callable[[], Finding | list[Finding]]


def window_for(incident: Incident, lookback_minutes: int, now: datetime) -> Window:
    """From `lookback` before the incident opened until now, at most one day."""
    start = parse_time(incident.opened_at) - timedelta(minutes=lookback_minutes)
    return Window(start=max(start, now - MAX_WINDOW), end=now)


class DiagnosticsRunner:
    """Plans and runs the sources; clients come from a factory bound to the incident's
    account and region, created up front because boto3 client creation is not thread-safe."""

    def __init__(
        self,
        clients: ClientFactory,
        budget_seconds: float,
        max_workers: int = 10,
        health_store: StoredHealthEvents | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clients = clients
        self._budget = budget_seconds
        self._max_workers = max_workers
        self._health_store = health_store or StoredHealthEvents(None)
        self._deadline = Deadline.after(max(0.5, budget_seconds - SOURCE_MARGIN_SECONDS), clock)

    def plan(self, incident: Incident, window: Window) -> list[Task]:
        """Sources that apply to the incident's resources, in the order the verdict reads
        them (AWS side first)."""
        targets = targets_for(incident)
        if targets.empty():
            return []
        start, end, deadline = window.start, window.end, self._deadline
        client = self._clients
        tasks: list[Task] = []
        region = incident.region or ""
        health = HealthSource(client("health", region=HEALTH_REGION), self._health_store)
        ids = [r.id for r in incident.resources]
        tasks.append(
            Task(
                "health",
                region,
                lambda: health.collect(targets, incident.account, region, start, deadline, ids),
            )
        )
        if targets.instances:
            ec2 = Ec2Source(client("ec2"), client("cloudwatch"))
            tasks.append(
                Task(
                    "ec2",
                    ", ".join(targets.instances),
                    lambda: ec2.collect(targets, start, end, deadline),
                )
            )
        if targets.db_instances:
            rds = RdsSource(client("rds"), client("cloudwatch"), client("pi"))
            tasks.append(
                Task(
                    "rds",
                    ", ".join(targets.db_instances),
                    lambda: rds.collect(targets, start, end, deadline),
                )
            )
        if targets.ecs_services:
            ecs = EcsSource(client("ecs"))
            tasks.append(
                Task(
                    "ecs",
                    _names(targets.ecs_services),
                    lambda: ecs.collect(targets, start, deadline),
                )
            )
        if targets.target_groups or targets.load_balancers:
            elb = ElbSource(client("elbv2"), client("cloudwatch"))
            tasks.append(
                Task(
                    "elb",
                    ", ".join(targets.target_groups + targets.load_balancers),
                    lambda: elb.collect(targets, start, end, deadline),
                )
            )
        if targets.functions:
            metrics = LambdaMetrics(client("cloudwatch"))
            tasks.append(
                Task(
                    "lambda_metrics",
                    ", ".join(targets.functions),
                    lambda: metrics.collect(targets.functions, start, end, deadline),
                )
            )
        if targets.deployments or targets.deployment_groups:
            codedeploy = CodeDeploySource(client("codedeploy"))
            tasks.append(
                Task(
                    "codedeploy",
                    "deployments",
                    lambda: codedeploy.collect(targets, start, end, deadline),
                )
            )
        if _has_paths(targets):
            network = NetworkSource(client)
            tasks.append(Task("network", "paths", lambda: network.collect(targets, deadline)))
        if targets.functions or targets.ecs_services or targets.apis:
            xray = XRaySource(client("xray"))
            tasks.append(
                Task("xray", "traces", lambda: xray.collect(targets, start, end, deadline))
            )
        logs = LogsSource(client)
        tasks.append(
            Task("logs_insights", "log groups", lambda: logs.collect(targets, start, end, deadline))
        )
        return tasks

    def run(self, tasks: list[Task]) -> list[Finding]:
        """Run every task; whatever is not done when the budget ends is reported as timeout."""
        if not tasks:
            return []
        pool = ThreadPoolExecutor(max_workers=self._max_workers, thread_name_prefix="diag")
        try:
            futures: list[tuple[Task, Future[Finding | list[Finding]]]] = [
                (task, pool.submit(task.run)) for task in tasks
            ]
            wait([f for _, f in futures], timeout=self._budget)
            findings: list[Finding] = []
            for task, future in futures:
                findings += _result(task, future, self._budget)
            return findings
        finally:
            # Do not wait for stragglers: the step must answer within its budget.
            pool.shutdown(wait=False, cancel_futures=True)


def _names(services: list[tuple[str, str]]) -> str:
    return ", ".join(f"{c}/{s}" for c, s in services)


def _has_paths(targets: Targets) -> bool:
    """Clients whose rules (to a database, to AWS APIs) or routes out can be checked."""
    return bool(targets.functions or targets.ecs_services or targets.instances)


def _result(task: Task, future: Future[Finding | list[Finding]], budget: float) -> list[Finding]:
    if not future.done():
        return [Finding(task.source, task.target, TIMEOUT, f"no answer within {budget:.0f}s")]
    error = future.exception()
    if isinstance(error, ClientError):
        return [finding_from_client_error(task.source, task.target, error)]
    if error is not None:
        return [Finding(task.source, task.target, ERROR, f"{type(error).__name__}: {error}"[:500])]
    result = future.result()
    return result if isinstance(result, list) else [result]
