"""Load balancer logic without AWS: names from alarm dimensions and ARNs, reason codes to causes
with their scope, ELB 5xx against target 5xx, and the metric queries."""

from __future__ import annotations

from typing import Any

import pytest

from diagnostics.elb import (
    Balancer,
    Group,
    balancer_causes,
    resource_name,
    series_for,
    target_causes,
)

LB_ARN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188"
TG_ARN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-tg/73e2d6bc24d8a067"


@pytest.mark.parametrize(
    ("resource_id", "marker", "name"),
    [
        ("app/web/50dc6c495c0c9188", "loadbalancer/", "web"),
        ("net/edge/50dc6c495c0c9188", "loadbalancer/", "edge"),
        (LB_ARN, "loadbalancer/", "web"),
        ("web", "loadbalancer/", "web"),
        ("targetgroup/web-tg/73e2d6bc24d8a067", "targetgroup/", "web-tg"),
        (TG_ARN, "targetgroup/", "web-tg"),
        ("web-tg", "targetgroup/", "web-tg"),
    ],
)
def test_names_from_dimensions_arns_and_names(resource_id: str, marker: str, name: str) -> None:
    assert resource_name(resource_id, marker) == name


def _target(n: int, state: str, reason: str = "") -> dict[str, Any]:
    health = {"State": state, **({"Reason": reason} if reason else {})}
    return {"Target": {"Id": f"i-{n}", "Port": 8080}, "TargetHealth": health}


def _group(*health: dict[str, Any]) -> Group:
    record = {"HealthCheckProtocol": "HTTP", "HealthCheckPath": "/ping",
              "HealthCheckPort": "traffic-port", "Matcher": {"HttpCode": "200-299"},
              "LoadBalancerArns": [LB_ARN]}  # fmt: skip
    return Group(TG_ARN, "web-tg", record, list(health))


def test_reason_codes_become_causes_with_scope_over_every_target() -> None:
    group = _group(
        _target(1, "unhealthy", "Target.Timeout"),
        _target(2, "unhealthy", "Target.Timeout"),
        _target(3, "unhealthy.draining", "Target.FailedHealthChecks"),
        _target(4, "initial", "Elb.InitialHealthChecking"),
        _target(5, "draining", "Target.DeregistrationInProgress"),
        _target(6, "healthy"),
    )
    causes = {c.code: c for c in target_causes([group])}
    assert set(causes) == {"elb.health_check_timeout", "elb.failed_health_checks"}
    timeout = causes["elb.health_check_timeout"]
    assert (timeout.domain, timeout.scope, timeout.resources) == (
        "infrastructure", "2 of 6 targets unhealthy", ["i-1", "i-2"])  # fmt: skip
    assert timeout.evidence[0] == (
        "i-1:8080 (web-tg): Target.Timeout; health check HTTP /ping on port traffic-port, "
        "expects 200-299"
    )


def test_an_empty_group_answers_503() -> None:
    (cause,) = target_causes([_group()])
    assert (cause.code, cause.scope) == ("elb.no_targets", "1 of 1 target groups empty")


def _lb(**numbers: Any) -> Balancer:
    return Balancer(LB_ARN, "web", "application", "active", **numbers)


def test_elb_5xx_without_target_5xx_depends_on_what_the_targets_say() -> None:
    lb = _lb(elb_5xx=40, requests=400)
    alone = balancer_causes([lb], [_group(_target(1, "healthy"))])
    assert [(c.code, c.domain) for c in alone] == [("elb.lb_5xx", "infrastructure")]
    assert alone[0].title == "The load balancer returned 5xx that its targets did not"

    unhealthy = _group(_target(1, "unhealthy", "Target.ResponseCodeMismatch"))
    (cause,) = balancer_causes([lb], [unhealthy])
    assert "because its targets are unhealthy" in cause.title

    internal = _group(_target(1, "unhealthy", "Elb.InternalError"))
    (cause,) = balancer_causes([lb], [internal])
    assert (cause.domain, cause.ongoing) == ("aws", True)
    assert cause.evidence == ["web: 40 ELB 5xx, no target 5xx, in 400 requests"]


def test_target_5xx_slow_targets_state_and_recovered_targets() -> None:
    lb = Balancer(LB_ARN, "web", "application", "active_impaired", "no free IP addresses",
                  elb_5xx=3, target_5xx=9, requests=90, p99_seconds=4.2,
                  unhealthy_max=2)  # fmt: skip
    causes = {c.code: c for c in balancer_causes([lb], [_group(_target(1, "healthy"))])}
    assert set(causes) == {"elb.state", "elb.target_5xx", "elb.slow_targets",
                           "elb.unhealthy_in_window"}  # fmt: skip
    assert causes["elb.state"].evidence == ["web: active_impaired no free IP addresses"]
    assert causes["elb.target_5xx"].domain == "application"
    assert causes["elb.slow_targets"].title == "Targets answer slowly (p99 4.2 s)"
    assert causes["elb.unhealthy_in_window"].scope == "up to 2 targets unhealthy"


def test_alb_series_per_balancer_and_per_group_pair_nlb_health_only() -> None:
    nlb = Balancer(LB_ARN.replace("app/web", "net/edge"), "edge", "network")
    group = _group()
    group.record["LoadBalancerArns"] = [LB_ARN, nlb.arn]
    series = {s.id: s for s in series_for([_lb(), nlb], [group])}
    assert sorted(series) == ["lb0_elb5xx", "lb0_p99", "lb0_requests", "lb0_tgt5xx",
                              "tg0_lb0_unhealthy", "tg0_lb1_unhealthy"]  # fmt: skip
    assert series["lb0_p99"].stat == "p99"
    assert series["tg0_lb1_unhealthy"].namespace == "AWS/NetworkELB"
    assert series["tg0_lb1_unhealthy"].dimensions == (
        ("TargetGroup", "targetgroup/web-tg/73e2d6bc24d8a067"),
        ("LoadBalancer", "net/edge/50dc6c495c0c9188"),
    )
