"""Choose the diagnostic sources for an incident's resources and run them concurrently within
an overall time budget. A source that fails becomes a finding with status `error`: diagnostics
never fail the step, because they must never hold up paging or the postmortem."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from diagnostics.finding import ERROR, TIMEOUT, Finding
from diagnostics.lambda_metrics import LambdaMetrics
from diagnostics.logs_insights import LogsInsights
from incidents.model import Incident
from shared.timeutil import parse_time

LAMBDA_TYPE = "AWS::Lambda::Function"
MAX_WINDOW = timedelta(days=1)
ClientFactory = Callable[[str], Any]


@dataclass(frozen=True)
class Window:
    """The time span the sources look at."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class Task:
    """One unit of work: a source applied to a target."""

    source: str
    target: str
    run: Callable[[], Finding]


def function_name(resource_id: str) -> str:
    """`orders-api` from a name or a function ARN (aliases/versions dropped)."""
    if resource_id.startswith("arn:"):
        return resource_id.split(":")[6]
    return resource_id.split(":")[0]


def window_for(incident: Incident, lookback_minutes: int, now: datetime) -> Window:
    """From `lookback` before the incident opened until now, at most one day."""
    start = parse_time(incident.opened_at) - timedelta(minutes=lookback_minutes)
    return Window(start=max(start, now - MAX_WINDOW), end=now)


class DiagnosticsRunner:
    """Plans and runs the sources; clients come from a factory bound to the incident's
    account and region, created up front because boto3 client creation is not thread-safe."""

    def __init__(self, clients: ClientFactory, budget_seconds: float, max_workers: int = 4) -> None:
        self._clients = clients
        self._budget = budget_seconds
        self._max_workers = max_workers

    def plan(self, incident: Incident, window: Window) -> list[Task]:
        """Sources that apply to the incident's resources (Lambda functions for now)."""
        functions = sorted(
            {function_name(r.id) for r in incident.resources if r.type == LAMBDA_TYPE}
        )
        if not functions:
            return []
        metrics = LambdaMetrics(self._clients("cloudwatch"))
        logs = LogsInsights(self._clients("logs"))
        # Leave the logs queries a margin to stop cleanly inside the overall budget.
        query_budget = max(1.0, self._budget - 2.0)
        tasks = [
            Task(
                "lambda_metrics",
                ", ".join(functions),
                lambda: metrics.collect(functions, window.start, window.end),
            )
        ]
        for name in functions:
            tasks.append(
                Task(
                    "logs_insights",
                    f"/aws/lambda/{name}",
                    partial(logs.collect, name, window.start, window.end, query_budget),
                )
            )
        return tasks

    def run(self, tasks: list[Task]) -> list[Finding]:
        """Run every task; whatever is not done when the budget ends is reported as timeout."""
        if not tasks:
            return []
        pool = ThreadPoolExecutor(max_workers=self._max_workers, thread_name_prefix="diag")
        try:
            futures: list[tuple[Task, Future[Finding]]] = [
                (task, pool.submit(task.run)) for task in tasks
            ]
            wait([f for _, f in futures], timeout=self._budget)
            return [_result(task, future, self._budget) for task, future in futures]
        finally:
            # Do not wait for stragglers: the step must answer within its budget.
            pool.shutdown(wait=False, cancel_futures=True)


def _result(task: Task, future: Future[Finding], budget: float) -> Finding:
    if not future.done():
        return Finding(task.source, task.target, TIMEOUT, f"no answer within {budget:.0f}s")
    error = future.exception()
    if error is not None:
        return Finding(task.source, task.target, ERROR, f"{type(error).__name__}: {error}"[:500])
    return future.result()
