"""Choose the diagnostic sources for an incident's resources and run them concurrently within
one overall time budget. A source that fails, throttles or runs out of time becomes a finding
that says so: diagnostics never fail the step, because they must never hold up paging or the
postmortem. That includes making the clients: a member account's role that cannot be assumed
becomes one finding per source it would have served, naming the role and the AWS error code."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

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
from shared.aws import RoleUnavailable
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


Run = Callable[[], Finding | list[Finding]]


@dataclass(frozen=True)
class Task:
    """One unit of work: a source applied to a target, answering one or more findings."""

    source: str
    target: str
    run: Run


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
        them (AWS side first). A source whose clients cannot be made (a member-account role
        that cannot be assumed, STS unreachable) is planned as its failure finding, so the
        others still run and the evidence is still written."""
        targets = targets_for(incident)
        if targets.empty():
            return []
        s, e, d = window.start, window.end, self._deadline
        c = _RememberingClients(self._clients, incident.region)
        region = incident.region or ""
        ids = [r.id for r in incident.resources]
        store = self._health_store
        specs: list[tuple[str, str, bool, Callable[[], Run]]] = [
            (
                "health",
                region,
                True,
                lambda: partial(
                    HealthSource(c("health", region=HEALTH_REGION), store).collect,
                    targets,
                    incident.account,
                    region,
                    s,
                    d,
                    ids,
                ),
            ),
            (
                "ec2",
                ", ".join(targets.instances),
                bool(targets.instances),
                lambda: partial(Ec2Source(c("ec2"), c("cloudwatch")).collect, targets, s, e, d),
            ),
            (
                "rds",
                ", ".join(targets.db_instances),
                bool(targets.db_instances),
                lambda: partial(
                    RdsSource(c("rds"), c("cloudwatch"), c("pi")).collect, targets, s, e, d
                ),
            ),
            (
                "ecs",
                _names(targets.ecs_services),
                bool(targets.ecs_services),
                lambda: partial(EcsSource(c("ecs")).collect, targets, s, d),
            ),
            (
                "elb",
                ", ".join(targets.target_groups + targets.load_balancers),
                bool(targets.target_groups or targets.load_balancers),
                lambda: partial(ElbSource(c("elbv2"), c("cloudwatch")).collect, targets, s, e, d),
            ),
            (
                "lambda_metrics",
                ", ".join(targets.functions),
                bool(targets.functions),
                lambda: partial(LambdaMetrics(c("cloudwatch")).collect, targets.functions, s, e, d),
            ),
            (
                "codedeploy",
                "deployments",
                bool(targets.deployments or targets.deployment_groups),
                lambda: partial(CodeDeploySource(c("codedeploy")).collect, targets, s, e, d),
            ),
            (
                "network",
                "paths",
                _has_paths(targets),
                lambda: partial(NetworkSource(c).collect, targets, d),
            ),
            (
                "xray",
                "traces",
                bool(targets.functions or targets.ecs_services or targets.apis),
                lambda: partial(XRaySource(c("xray")).collect, targets, s, e, d),
            ),
            (
                "logs_insights",
                "log groups",
                True,
                lambda: partial(LogsSource(c).collect, targets, s, e, d),
            ),
        ]
        return [_task(source, target, build) for source, target, applies, build in specs if applies]

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


class _RememberingClients:
    """The client factory, remembering a role that could not be assumed in a region: every
    later source there fails at once with the same error instead of asking STS again."""

    def __init__(self, clients: ClientFactory, home_region: str | None) -> None:
        self._clients = clients
        self._home_region = home_region
        self._refused: dict[str | None, RoleUnavailable] = {}

    def __call__(self, service: str, region: str | None = None) -> Any:
        key = region or self._home_region
        refused = self._refused.get(key)
        if refused is not None:
            raise refused
        try:
            return self._clients(service, region)
        except RoleUnavailable as exc:
            self._refused[key] = exc
            raise


def _task(source: str, target: str, build: Callable[[], Run]) -> Task:
    """`build` makes the source's clients now (on this thread); if that fails, the task
    answers with the finding that says why."""
    try:
        run = build()
    except (RoleUnavailable, ClientError, BotoCoreError) as exc:
        failure = _failure(source, target, exc)
        return Task(source, target, lambda: failure)
    return Task(source, target, run)


def _failure(source: str, target: str, error: BaseException) -> Finding:
    """What went wrong, in words a responder can act on."""
    if isinstance(error, RoleUnavailable):
        return _role_finding(source, target, error)
    if isinstance(error, ClientError):
        return finding_from_client_error(source, target, error)
    return Finding(source, target, ERROR, f"{type(error).__name__}: {error}"[:500])


def _role_finding(source: str, target: str, error: RoleUnavailable) -> Finding:
    account = error.role_arn.split(":")[4]
    message = (
        f"not read: could not assume {error.role_arn} in {error.region} ({error.code}: "
        f"{error.detail[:200]})"
    )
    if error.code == "RegionDisabledException":
        message += f"; activate STS in {error.region} for account {account} (IAM account settings)"
    elif error.code.startswith("AccessDenied"):
        message += (
            f"; the role must exist in account {account}, trust this account's "
            "collect_diagnostics role, and that role must be allowed sts:AssumeRole on it"
        )
    summary = {"role_arn": error.role_arn, "region": error.region, "error_code": error.code}
    return Finding(source, target, ERROR, message[:500], summary)


def _names(services: list[tuple[str, str]]) -> str:
    return ", ".join(f"{c}/{s}" for c, s in services)


def _has_paths(targets: Targets) -> bool:
    """Clients whose rules (to a database, to AWS APIs) or routes out can be checked."""
    return bool(targets.functions or targets.ecs_services or targets.instances)


def _result(task: Task, future: Future[Finding | list[Finding]], budget: float) -> list[Finding]:
    if not future.done():
        return [Finding(task.source, task.target, TIMEOUT, f"no answer within {budget:.0f}s")]
    error = future.exception()
    if error is not None:
        # A role refused mid-run too: a source that makes clients lazily, or a refresh of the
        # assumed role's credentials.
        return [_failure(task.source, task.target, error)]
    result = future.result()
    return result if isinstance(result, list) else [result]
