"""The logs source: the shipped Logs Insights queries over the incident's log groups.

Phase one starts every query that applies at once (error counts, recent errors, slow or
memory-bound Lambda invocations, error spikes, API Gateway errors, ECS stop reasons, VPC flow
rejects). Phase two follows one failing request and one trace across all the groups, using
the ids phase one found. Each query becomes one finding; error signatures become causes.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from diagnostics import queries as q
from diagnostics import signatures
from diagnostics.ecs import classify_reason
from diagnostics.finding import (
    APPLICATION,
    INFRASTRUCTURE,
    OK,
    OUTSIDE,
    SKIPPED,
    Cause,
    Finding,
)
from diagnostics.log_groups import LogGroupResolver, LogGroups
from diagnostics.logs_insights import LogsInsights, Query, QueryRun, finding_for
from diagnostics.paging import Deadline
from diagnostics.targets import Targets

SOURCE = "logs_insights"
_TRACE_ID = re.compile(r"1-[0-9a-f]{8}-[0-9a-f]{24}")
_CORRELATION_LIMIT = 50
# Keep a margin inside the step's budget to stop running queries cleanly.
STOP_MARGIN_SECONDS = 2.0


def plan_queries(groups: LogGroups) -> list[Query]:
    """The phase-one queries that apply to the groups found."""
    plan: list[Query] = []
    app = tuple(groups.application)
    if app:
        plan += [
            Query("error_counts", q.ERROR_COUNTS, app),
            Query("recent_errors", q.RECENT_ERRORS, app, limit=50),
            Query("error_spikes", q.ERROR_SPIKES, app),
        ]
        lambdas = tuple(g for g in app if g.startswith("/aws/lambda/"))
        if lambdas:
            plan.append(
                Query("lambda_slow_or_memory_bound", q.LAMBDA_SLOW_OR_MEMORY_BOUND, lambdas)
            )
    if groups.api_access:
        plan.append(Query("api_gateway_errors", q.API_GATEWAY_ERRORS, tuple(groups.api_access)))
    if groups.ecs_events:
        query = q.ecs_stopped_reasons(groups.ecs_services)
        plan.append(Query("ecs_stopped_reasons", query, tuple(groups.ecs_events)))
    if groups.flow_logs:
        plan.append(Query("vpc_flow_rejects", q.VPC_FLOW_REJECTS, tuple(groups.flow_logs)))
    return plan


def correlation_queries(runs: list[QueryRun], groups: LogGroups) -> list[Query]:
    """Follow the newest failing request id and the first trace id seen in error lines."""
    recent = next((r for r in runs if r.query.name == "recent_errors"), None)
    everywhere = tuple(groups.application + groups.api_access)
    if recent is None or not everywhere:
        return []
    plan: list[Query] = []
    request_id = next((r["@requestId"] for r in recent.rows if r.get("@requestId")), "")
    if request_id:
        try:
            text = q.by_request_id(request_id, _CORRELATION_LIMIT)
            plan.append(Query("correlate_request", text, everywhere))
        except ValueError:
            pass
    trace = next(
        (m.group(0) for r in recent.rows if (m := _TRACE_ID.search(r.get("@message", "")))), ""
    )
    if trace:
        plan.append(Query("correlate_trace", q.by_trace_id(trace, _CORRELATION_LIMIT), everywhere))
    return plan


def causes_for(run: QueryRun) -> list[Cause]:
    """What each query's rows say about the cause."""
    name = run.query.name
    if name == "recent_errors":
        lines = [
            (r.get("@log", "").partition(":")[2] or run.target, r.get("@message", ""))
            for r in run.rows
        ]
        return signatures.causes_in(lines)
    if name == "lambda_slow_or_memory_bound":
        return _slow_causes(q.parse_slow_invocations(run.rows), run.log_groups)
    if name == "api_gateway_errors":
        return _api_causes(q.parse_api_gateway_errors(run.rows))
    if name == "ecs_stopped_reasons":
        found: dict[str, Cause] = {}
        for row in q.parse_ecs_stopped_reasons(run.rows):
            cause = classify_reason(row["reason"], row["stop_code"], [])
            if cause is not None:
                kept = found.setdefault(cause.code, cause)
                kept.evidence.append(f"{row['tasks']} tasks: {row['stop_code']} {row['reason']}")
        return list(found.values())
    if name == "vpc_flow_rejects":
        rejects = q.parse_flow_rejects(run.rows)
        if rejects:
            return [
                Cause(
                    "network.flow_rejected",
                    INFRASTRUCTURE,
                    "Traffic rejected by a security group or network ACL (VPC flow logs)",
                    "Compare the rejected destination ports with the security-group and NACL "
                    "rules the network source lists; NACLs also need the return ephemeral ports.",
                    f"{sum(r['rejects'] for r in rejects)} rejected flows",
                    evidence=[
                        f"{r['source']} -> {r['destination']}:{r['port']} proto {r['protocol']}"
                        f" x{r['rejects']}"
                        for r in rejects[:5]
                    ],
                )
            ]
    return []


def _slow_causes(rows: list[q.SlowInvocation], groups: list[str] | None = None) -> list[Cause]:
    """REPORT lines: all memory used is exhaustion (infrastructure); more than MEMORY_PERCENT
    but not all is memory pressure, on the application rung: a warning that the function is
    one bigger payload away from failing, which must reach the verdict but not outrank the
    application's own errors; slower than SLOW_DURATION_MS is the application's latency."""
    causes = []
    functions = [g.removeprefix("/aws/lambda/") for g in groups or []]
    resources = functions if len(functions) == 1 else []
    full = [r for r in rows if (r["memory_used_percent"] or 0) >= 100]
    if full:
        causes.append(
            Cause(
                "lambda.out_of_memory",
                INFRASTRUCTURE,
                "Lambda invocations used all their memory",
                "Raise the function's memory size; look for data kept between invocations.",
                f"{len(full)} invocations at 100 % memory",
                list(resources),
                [
                    f"{r['request_id']}: {r['max_memory_used_mb']} of {r['memory_size_mb']} MB"
                    for r in full[:3]
                ],
            )
        )
    pressed = [r for r in rows if q.MEMORY_PERCENT < (r["memory_used_percent"] or 0) < 100]
    if pressed:
        at_least = "at least " if len(rows) >= q.SLOW_INVOCATIONS_LIMIT else ""
        causes.append(
            Cause(
                "lambda.memory_pressure",
                APPLICATION,
                f"Memory pressure: {at_least}{_invocations(len(pressed))} used more than "
                f"{q.MEMORY_PERCENT} % of their memory size",
                "Raise the function's memory size (Lambda gives CPU in proportion to memory, "
                "so this also speeds it up); then find what grows with the load: payload "
                "size, caches or data kept between invocations.",
                f"{at_least}{_invocations(len(pressed))} above {q.MEMORY_PERCENT} % of memory",
                list(resources),
                [
                    f"{r['request_id']}: {_mb(r['max_memory_used_mb'])} of "
                    f"{_mb(r['memory_size_mb'])} MB ({_memory_used(r):.0f} %)"
                    for r in sorted(pressed, key=_memory_used, reverse=True)[:3]
                ],
            )
        )
    slow = [r for r in rows if (r["duration_ms"] or 0) > q.SLOW_DURATION_MS]
    if slow:
        causes.append(
            Cause(
                "lambda.slow_invocations",
                APPLICATION,
                "Lambda invocations slower than 10 s",
                "Find the slow segment in the X-Ray traces of these request ids.",
                f"{len(slow)} slow invocations",
                list(resources),
                [f"{r['request_id']}: {r['duration_ms']} ms" for r in slow[:3]],
            )
        )
    return causes


def _memory_used(row: q.SlowInvocation) -> float:
    return row["memory_used_percent"] or 0.0


def _integration(latency_ms: float | None) -> str:
    """API Gateway logs `-` for requests that never reached the integration (throttled,
    refused by an authorizer, or failing in API Gateway itself)."""
    return "no integration call" if latency_ms is None else f"integration {latency_ms:g} ms"


def _invocations(count: int) -> str:
    return f"{count} invocation" + ("" if count == 1 else "s")


def _mb(value: float | None) -> str:
    return "?" if value is None else f"{value:g}"


def _api_causes(rows: list[q.ApiErrorGroup]) -> list[Cause]:
    server = [r for r in rows if (r["status"] or 0) >= 500]
    client = [r for r in rows if 400 <= (r["status"] or 0) < 500]
    causes = []
    if server:
        causes.append(
            Cause(
                "api.server_errors",
                APPLICATION,
                "API Gateway returned 5xx (integration or backend failures)",
                "Follow the integration latency: a backend timeout shows as 504, a Lambda error "
                "as 502; read that backend's logs and traces.",
                f"{sum(r['requests'] for r in server)} requests",
                evidence=[
                    f"{r['status']} {r['route']} x{r['requests']} "
                    f"({_integration(r['avg_integration_latency_ms'])})"
                    for r in server[:5]
                ],
            )
        )
    if client and not server:
        causes.append(
            Cause(
                "api.client_errors",
                OUTSIDE,
                "API Gateway answered 4xx: callers send requests it refuses",
                "Check the callers (auth tokens, request shape, rate) and the authorizer.",
                f"{sum(r['requests'] for r in client)} requests",
                evidence=[f"{r['status']} {r['route']} x{r['requests']}" for r in client[:5]],
            )
        )
    return causes


def _unlogged_apis(targets: Targets, groups: LogGroups) -> list[Finding]:
    """The incident names an API but no stage of it sends access logs to CloudWatch Logs, so
    its 4xx/5xx by route cannot be read: say so, with how to turn it on. (When the stages
    could not be read at all, the resolver's note says that instead.)"""
    resolver_failed = any("API Gateway" in note for note in groups.notes)
    if not targets.apis or groups.api_access or resolver_failed:
        return []
    names = ", ".join(targets.apis)
    message = (
        f"not run: no stage of {names} sends access logs to CloudWatch Logs; turn on access "
        "logging on the stage (JSON with $context.status, $context.resourcePath, "
        "$context.responseLatency and $context.integrationLatency) to see its errors by route"
    )
    return [Finding(SOURCE, f"api_gateway_errors: {names}", SKIPPED, message)]


def _summarise(run: QueryRun, finding: Finding) -> None:
    """Headline numbers per query (the rows themselves go to S3)."""
    name = run.query.name
    if name == "error_counts":
        bins = q.parse_error_counts(run.rows)
        finding.summary["lines"] = sum(b["matches"] for b in bins)
        finding.summary["busiest_bin"] = (
            max(bins, key=lambda b: b["matches"])["period"] if bins else None
        )
    elif name == "error_spikes":
        spikes = q.parse_error_spikes(run.rows)
        finding.summary["spike_minutes"] = len(spikes)
        finding.summary["first_spike"] = spikes[0]["minute"] if spikes else None
        finding.summary["last_spike"] = spikes[-1]["minute"] if spikes else None


class LogsSource:
    """Resolves log groups, then runs the queries in two concurrent phases."""

    def __init__(self, clients: Any, insights: LogsInsights | None = None) -> None:
        self._resolver = LogGroupResolver(clients)
        self._insights = insights or LogsInsights(clients("logs"))

    def collect(
        self, targets: Targets, start: datetime, end: datetime, deadline: Deadline
    ) -> list[Finding]:
        groups = self._resolver.resolve(targets, deadline)
        findings = [Finding(SOURCE, "log groups", OK, note) for note in groups.notes]
        findings += _unlogged_apis(targets, groups)
        runs = self._run(plan_queries(groups), start, end, deadline)
        more = correlation_queries(runs, groups)
        if more and deadline.remaining() > STOP_MARGIN_SECONDS + 1:
            runs += self._run(more, start, end, deadline)
        for run in runs:
            finding = finding_for(run, max(0.0, deadline.remaining()))
            finding.target = f"{run.query.name}: {run.target}"
            if run.failure is None:
                finding.causes = causes_for(run)
                _summarise(run, finding)
            findings.append(finding)
        return findings

    def _run(
        self, plan: list[Query], start: datetime, end: datetime, deadline: Deadline
    ) -> list[QueryRun]:
        if not plan:
            return []
        budget = max(0.5, deadline.remaining() - STOP_MARGIN_SECONDS)
        return self._insights.run_many(plan, start, end, budget)
