"""Elastic Load Balancing (ALB, NLB): target health with its reason codes, the load balancers'
state, and their metrics, to tell the load balancer's fault from its targets'.

`HTTPCode_ELB_5XX_Count` counts errors the load balancer generated itself,
`HTTPCode_Target_5XX_Count` those its targets returned. ELB 5xx without target 5xx means no
target gave an answer: none was healthy (503), one closed or garbled the connection (502) or
did not answer within the idle timeout (504). With health checks failing on `Elb.InternalError`
the fault is the load balancer's own, AWS's side. Reason codes and states are those of the
ELB API reference (`TargetHealth`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from diagnostics import elb_reasons, metrics
from diagnostics.finding import (
    APPLICATION,
    AWS,
    INFRASTRUCTURE,
    OK,
    Cause,
    Finding,
    finding_from_client_error,
)
from diagnostics.metrics import Series
from diagnostics.paging import Deadline, batches, paginate
from diagnostics.targets import Targets
from shared.errors import error_code

SOURCE = "elb"
# DescribeLoadBalancers takes at most 20 names per request; target groups are asked alike.
NAMES_BATCH = 20
SLOW_P99_SECONDS = 3.0
NAMESPACES = {
    "application": "AWS/ApplicationELB",
    "network": "AWS/NetworkELB",
    "gateway": "AWS/GatewayELB",
}
_NOT_FOUND = ("TargetGroupNotFound", "LoadBalancerNotFound")


@dataclass
class Balancer:
    """One load balancer and what its metrics said over the window."""

    arn: str
    name: str
    kind: str = "application"
    state: str = ""
    state_reason: str = ""
    elb_5xx: int = 0
    target_5xx: int = 0
    requests: int = 0
    p99_seconds: float | None = None
    unhealthy_max: int = 0

    @property
    def dimension(self) -> str:
        """`app/<name>/<id>`: the `LoadBalancer` dimension of its metrics."""
        return self.arn.split(":loadbalancer/", 1)[-1]


@dataclass
class Group:
    """One target group and the current health of its targets."""

    arn: str
    name: str
    record: dict[str, Any] = field(default_factory=dict)
    health: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""

    @property
    def dimension(self) -> str:
        """`targetgroup/<name>/<id>`: the `TargetGroup` dimension of its metrics."""
        return self.arn.rsplit(":", 1)[-1]

    @property
    def balancers(self) -> list[str]:
        return list(self.record.get("LoadBalancerArns", []))

    def health_check(self) -> str:
        """`HTTP /health on traffic-port, expects 200` (for the evidence)."""
        r = self.record
        text = f"{r.get('HealthCheckProtocol', '?')} {r.get('HealthCheckPath', '')}".strip()
        text += f" on port {r.get('HealthCheckPort', 'traffic-port')}"
        codes = r.get("Matcher", {}).get("HttpCode") or r.get("Matcher", {}).get("GrpcCode")
        return f"{text}, expects {codes}" if codes else text


def resource_name(resource_id: str, marker: str) -> str:
    """The name inside an ARN, a dimension value (`targetgroup/web/73e2...`,
    `app/web/50dc...`) or a bare name."""
    text = resource_id.split(marker, 1)[1] if marker in resource_id else resource_id
    parts = text.split("/")
    if len(parts) >= 2 and parts[0] in ("app", "net", "gwy"):
        return parts[1]
    if len(parts) >= 2 and parts[0] == "targetgroup":
        return parts[1]
    return parts[0]


def _state(description: dict[str, Any]) -> str:
    return str(description.get("TargetHealth", {}).get("State", ""))


def _reason(description: dict[str, Any]) -> str:
    return str(description.get("TargetHealth", {}).get("Reason", ""))


def _target_label(group: Group, description: dict[str, Any]) -> str:
    target = description.get("Target", {})
    port = f":{target['Port']}" if target.get("Port") else ""
    return f"{target.get('Id', '?')}{port} ({group.name})"


def target_causes(groups: list[Group]) -> list[Cause]:
    """One cause per reason code seen on unhealthy or unused targets, with its scope over
    every target of the incident's target groups ("2 of 6 targets unhealthy")."""
    total = sum(len(g.health) for g in groups)
    seen: dict[str, Cause] = {}
    for group in groups:
        for description in group.health:
            reason = elb_reasons.REASONS.get(_reason(description))
            if reason is None or _state(description) == "healthy":
                continue
            cause = seen.get(reason.code)
            if cause is None:
                cause = Cause(reason.code, reason.domain, reason.title, reason.fix, ongoing=True)
                seen[reason.code] = cause
            cause.resources.append(str(description.get("Target", {}).get("Id", "")))
            if len(cause.evidence) < 3:
                detail = description.get("TargetHealth", {}).get("Description", "")
                said = f"{_reason(description)} ({detail})" if detail else _reason(description)
                cause.evidence.append(
                    f"{_target_label(group, description)}: {said}; "
                    f"health check {group.health_check()}"
                )
    for cause in seen.values():
        state = "unused" if cause.code in elb_reasons.UNUSED_CODES else "unhealthy"
        cause.scope = f"{len(cause.resources)} of {total} targets {state}"
    empty = [g for g in groups if not g.health and not g.error]
    if empty:
        seen["elb.no_targets"] = Cause(
            "elb.no_targets",
            INFRASTRUCTURE,
            "Target groups without registered targets: the load balancer answers 503",
            "Register targets (check the Auto Scaling group, ECS service or Lambda "
            "attachment that should keep them registered).",
            f"{len(empty)} of {len(groups)} target groups empty",
            [g.name for g in empty],
            [f"{g.name}: no targets registered" for g in empty],
            ongoing=True,
        )
    return list(seen.values())


def balancer_causes(balancers: list[Balancer], groups: list[Group]) -> list[Cause]:
    """The load balancers' side: state, ELB 5xx against target 5xx, slow targets, and targets
    that were unhealthy during the window even if they are healthy now."""
    states = [_state(d) for g in groups for d in g.health]
    reasons = {_reason(d) for g in groups for d in g.health}
    unhealthy_now = any(s.startswith("unhealthy") for s in states) or any(
        not g.health and not g.error for g in groups
    )
    causes: list[Cause] = []
    for lb in balancers:
        if lb.state and lb.state != "active":
            causes.append(
                Cause(
                    "elb.state",
                    INFRASTRUCTURE,
                    f"Load balancer {lb.name} is {lb.state}",
                    "active_impaired: it routes traffic but cannot scale (free IP addresses "
                    "in its subnets); failed: it could not be set up. Read the state reason.",
                    f"1 of {len(balancers)} load balancers",
                    [lb.name],
                    [f"{lb.name}: {lb.state} {lb.state_reason}".strip()],
                    ongoing=True,
                )
            )
        if lb.elb_5xx and not lb.target_5xx:
            causes.append(_elb_5xx(lb, "Elb.InternalError" in reasons, unhealthy_now))
        if lb.target_5xx:
            causes.append(
                Cause(
                    "elb.target_5xx",
                    APPLICATION,
                    "The targets behind the load balancer returned 5xx",
                    "Read the targets' application logs and traces for these requests; roll "
                    "back the last deployment if they started with it.",
                    f"{lb.target_5xx} target 5xx in {lb.requests} requests",
                    [lb.name],
                    [f"{lb.name}: {lb.target_5xx} target 5xx, {lb.elb_5xx} ELB 5xx"],
                )
            )
        if lb.p99_seconds is not None and lb.p99_seconds >= SLOW_P99_SECONDS:
            causes.append(
                Cause(
                    "elb.slow_targets",
                    APPLICATION,
                    f"Targets answer slowly (p99 {lb.p99_seconds:.1f} s)",
                    "Find the slow dependency in the traces; 504s follow once responses "
                    "outlast the load balancer's idle timeout.",
                    f"p99 TargetResponseTime {lb.p99_seconds:.1f} s",
                    [lb.name],
                    [f"{lb.name}: TargetResponseTime p99 {lb.p99_seconds:.2f} s"],
                )
            )
        if lb.unhealthy_max and not unhealthy_now:
            causes.append(
                Cause(
                    "elb.unhealthy_in_window",
                    INFRASTRUCTURE,
                    "Targets were unhealthy during the incident and have recovered",
                    "Compare the time with deployments, scaling activity and the targets' "
                    "logs; flapping health checks may need a longer timeout or threshold.",
                    f"up to {lb.unhealthy_max} targets unhealthy",
                    [lb.name],
                    [f"{lb.name}: UnHealthyHostCount reached {lb.unhealthy_max}"],
                )
            )
    return causes


def _elb_5xx(lb: Balancer, internal_error: bool, unhealthy_now: bool) -> Cause:
    evidence = [f"{lb.name}: {lb.elb_5xx} ELB 5xx, no target 5xx, in {lb.requests} requests"]
    if internal_error:
        return Cause(
            "elb.lb_5xx",
            AWS,
            "The load balancer itself fails: ELB 5xx without target 5xx, health checks fail "
            "with Elb.InternalError",
            "An Elastic Load Balancing fault: check AWS Health for ELB, open a support case "
            "with the load balancer ARN and the times of the errors.",
            f"{lb.elb_5xx} ELB 5xx in {lb.requests} requests",
            [lb.name],
            evidence,
            ongoing=True,
        )
    if unhealthy_now:
        title = "The load balancer answers 5xx because its targets are unhealthy"
        fix = "Fix the targets' health (causes above): with no healthy target it answers 503."
    else:
        title = "The load balancer returned 5xx that its targets did not"
        fix = (
            "502: targets closed the connection or answered malformed (keep-alive shorter than "
            "the load balancer's idle timeout); 503: no healthy target; 504: no answer within "
            "the idle timeout. With none of those, ask AWS Support."
        )
    return Cause(
        "elb.lb_5xx",
        INFRASTRUCTURE,
        title,
        fix,
        f"{lb.elb_5xx} ELB 5xx in {lb.requests} requests",
        [lb.name],
        evidence,
    )


def series_for(balancers: list[Balancer], groups: list[Group]) -> list[Series]:
    """Per load balancer: ELB and target 5xx, requests, p99 response time (ALB only); per
    (target group, load balancer): the peak UnHealthyHostCount."""
    series: list[Series] = []
    index = {lb.arn: n for n, lb in enumerate(balancers)}
    for n, lb in enumerate(balancers):
        namespace = NAMESPACES.get(lb.kind, NAMESPACES["application"])
        dims: tuple[tuple[str, str], ...] = (("LoadBalancer", lb.dimension),)
        if lb.kind == "application":
            series += [
                Series(f"lb{n}_elb5xx", namespace, "HTTPCode_ELB_5XX_Count", dims, "Sum"),
                Series(f"lb{n}_tgt5xx", namespace, "HTTPCode_Target_5XX_Count", dims, "Sum"),
                Series(f"lb{n}_requests", namespace, "RequestCount", dims, "Sum"),
                Series(f"lb{n}_p99", namespace, "TargetResponseTime", dims, "p99"),
            ]
    for g, group in enumerate(groups):
        for arn in group.balancers:
            if arn not in index:
                continue
            lb = balancers[index[arn]]
            dims = (("TargetGroup", group.dimension), ("LoadBalancer", lb.dimension))
            namespace = NAMESPACES.get(lb.kind, NAMESPACES["application"])
            series.append(
                Series(
                    f"tg{g}_lb{index[arn]}_unhealthy",
                    namespace,
                    "UnHealthyHostCount",
                    dims,
                    "Maximum",
                )
            )
    return series


def apply_metrics(balancers: list[Balancer], results: list[dict[str, Any]]) -> None:
    values = metrics.values_by_id(results)
    for n, lb in enumerate(balancers):
        lb.elb_5xx = int(sum(values.get(f"lb{n}_elb5xx", [])))
        lb.target_5xx = int(sum(values.get(f"lb{n}_tgt5xx", [])))
        lb.requests = int(sum(values.get(f"lb{n}_requests", [])))
        p99 = values.get(f"lb{n}_p99", [])
        lb.p99_seconds = round(max(p99), 3) if p99 else None
        lb.unhealthy_max = int(
            max(
                (v for key, vs in values.items() if key.endswith(f"_lb{n}_unhealthy") for v in vs),
                default=0,
            )
        )


def summarise(balancers: list[Balancer], groups: list[Group]) -> dict[str, Any]:
    """Small per-resource numbers for the state (the records go to the evidence)."""
    target_groups = {}
    for group in groups:
        states: dict[str, int] = {}
        reasons: dict[str, int] = {}
        for d in group.health:
            states[_state(d)] = states.get(_state(d), 0) + 1
            if _reason(d):
                reasons[_reason(d)] = reasons.get(_reason(d), 0) + 1
        target_groups[group.name] = {
            "targets": len(group.health),
            "states": states,
            "reasons": reasons,
            **({"error": group.error} if group.error else {}),
        }
    load_balancers = {
        lb.name: {
            "type": lb.kind,
            "state": lb.state,
            "elb_5xx": lb.elb_5xx,
            "target_5xx": lb.target_5xx,
            "requests": lb.requests,
            "target_response_time_p99_s": lb.p99_seconds,
            "unhealthy_hosts_max": lb.unhealthy_max,
        }
        for lb in balancers
    }
    return {"target_groups": target_groups, "load_balancers": load_balancers}


def message_for(balancers: list[Balancer], groups: list[Group]) -> str:
    total = sum(len(g.health) for g in groups)
    bad = sum(1 for g in groups for d in g.health if _state(d).startswith("unhealthy"))
    plural = "" if len(groups) == 1 else "s"
    text = f"{bad} of {total} targets unhealthy in {len(groups)} target group{plural}"
    unread = [g.name for g in groups if g.error]
    if unread:
        text += f"; target health not read for {', '.join(unread)}"
    if balancers:
        elb = sum(lb.elb_5xx for lb in balancers)
        target = sum(lb.target_5xx for lb in balancers)
        text += f"; {elb} ELB 5xx, {target} target 5xx"
    return text


class ElbSource:
    """Reads target groups, target health and load balancers through an injected `elbv2`
    client, and their metrics in one GetMetricData request."""

    def __init__(self, elbv2: Any, cloudwatch: Any) -> None:
        self._elbv2 = elbv2
        self._cloudwatch = cloudwatch

    def collect(
        self, targets: Targets, start: datetime, end: datetime, deadline: Deadline
    ) -> list[Finding]:
        target = ", ".join(targets.target_groups + targets.load_balancers)
        missing: list[str] = []
        try:
            balancers = self._balancers(
                [resource_name(i, "loadbalancer/") for i in targets.load_balancers],
                deadline,
                missing,
            )
            groups = self._groups(targets, balancers, deadline, missing)
            known = {lb.arn for lb in balancers}
            extra = sorted({a for g in groups for a in g.balancers} - known)
            balancers += self._balancers_by_arn(extra, deadline)
        except ClientError as exc:
            return [finding_from_client_error(SOURCE, target, exc)]
        if not groups and not balancers:
            return [Finding(SOURCE, target, "not_found", f"{target} does not exist")]
        self._health(groups, deadline)
        series = series_for(balancers, groups)
        results: list[dict[str, Any]] = []
        metrics_error = ""
        if series:
            try:
                results = metrics.fetch(self._cloudwatch, series, start, end, deadline)
            except ClientError as exc:
                metrics_error = f"metrics unavailable: {error_code(exc)}"
        apply_metrics(balancers, results)
        causes = target_causes(groups) + balancer_causes(balancers, groups)
        summary = summarise(balancers, groups)
        message = message_for(balancers, groups)
        for note in (f"not found: {', '.join(missing)}" if missing else "", metrics_error):
            if note:
                message += f"; {note}"
                summary.setdefault("notes", []).append(note)
        evidence = {
            "load_balancers": [lb.__dict__ for lb in balancers],
            "target_groups": [
                {"record": g.record, "health": g.health, "error": g.error} for g in groups
            ],
            "series": metrics.evidence(results),
        }
        return [Finding(SOURCE, target, OK, message, summary, evidence, causes)]

    def _balancers(
        self, names: list[str], deadline: Deadline, missing: list[str]
    ) -> list[Balancer]:
        records = self._named("describe_load_balancers", "LoadBalancers", names, deadline, missing)
        return [_balancer(r) for r in records]

    def _balancers_by_arn(self, arns: list[str], deadline: Deadline) -> list[Balancer]:
        found: list[Balancer] = []
        for batch in batches(arns, NAMES_BATCH):
            listing = paginate(
                self._elbv2,
                "describe_load_balancers",
                "LoadBalancers",
                deadline,
                LoadBalancerArns=batch,
            )
            found += [_balancer(r) for r in listing.items]
        return found

    def _groups(
        self, targets: Targets, balancers: list[Balancer], deadline: Deadline, missing: list[str]
    ) -> list[Group]:
        """The incident's target groups; with none named, every group of its load balancers."""
        if targets.target_groups:
            names = [resource_name(i, "targetgroup/") for i in targets.target_groups]
            records = self._named(
                "describe_target_groups", "TargetGroups", names, deadline, missing
            )
        else:
            records = []
            for lb in balancers:
                records += paginate(
                    self._elbv2,
                    "describe_target_groups",
                    "TargetGroups",
                    deadline,
                    LoadBalancerArn=lb.arn,
                ).items
        unique = {r["TargetGroupArn"]: r for r in records}
        return [Group(arn, r.get("TargetGroupName", ""), r) for arn, r in unique.items()]

    def _named(
        self, operation: str, key: str, names: list[str], deadline: Deadline, missing: list[str]
    ) -> list[dict[str, Any]]:
        """Records for `names` in batches; a batch with a missing name is asked name by name
        so one deleted resource does not hide the others."""
        records: list[dict[str, Any]] = []
        for batch in batches(sorted(set(names)), NAMES_BATCH):
            try:
                records += paginate(self._elbv2, operation, key, deadline, Names=batch).items
            except ClientError as exc:
                if error_code(exc) not in _NOT_FOUND:
                    raise
                records += self._one_by_one(operation, key, batch, deadline, missing)
        return records

    def _one_by_one(
        self,
        operation: str,
        key: str,
        names: Iterable[str],
        deadline: Deadline,
        missing: list[str],
    ) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        for name in names:
            try:
                records += paginate(self._elbv2, operation, key, deadline, Names=[name]).items
            except ClientError as exc:
                if error_code(exc) not in _NOT_FOUND:
                    raise
                missing.append(name)
        return records

    def _health(self, groups: list[Group], deadline: Deadline) -> None:
        """DescribeTargetHealth per group (the API takes one group); a failing group is noted
        and the others still answer."""
        for group in groups:
            if deadline.expired():
                group.error = "not read: out of time"
                continue
            try:
                answer = self._elbv2.describe_target_health(TargetGroupArn=group.arn)
            except ClientError as exc:
                group.error = (
                    f"{error_code(exc)}: {exc.response.get('Error', {}).get('Message', '')}"
                )
                continue
            group.health = list(answer.get("TargetHealthDescriptions", []))


def _balancer(record: dict[str, Any]) -> Balancer:
    state = record.get("State", {})
    return Balancer(
        arn=record["LoadBalancerArn"],
        name=record.get("LoadBalancerName", ""),
        kind=record.get("Type", "application"),
        state=state.get("Code", ""),
        state_reason=state.get("Reason", ""),
    )
