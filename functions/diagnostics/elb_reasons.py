"""Target health reason codes (ELB API reference, `TargetHealth`) mapped to the fault domain
and the fix a responder applies. Codes of targets that are still starting (`initial`), leaving
(`draining`) or not health-checked at all (`Target.HealthCheckDisabled`) are not faults."""

from __future__ import annotations

from dataclasses import dataclass

from diagnostics.finding import APPLICATION, AWS, INFRASTRUCTURE, Domain


@dataclass(frozen=True)
class Reason:
    code: str
    domain: Domain
    title: str
    fix: str


REASONS: dict[str, Reason] = {
    "Target.ResponseCodeMismatch": Reason(
        "elb.response_code_mismatch",
        APPLICATION,
        "Health checks get an unexpected HTTP status from the targets",
        "The health-check endpoint answers outside the matcher: fix the endpoint (often a "
        "dependency it checks is down), or the path or matcher if they are wrong.",
    ),
    "Target.Timeout": Reason(
        "elb.health_check_timeout",
        INFRASTRUCTURE,
        "Health checks time out",
        "Let the load balancer reach the targets on the health-check port (target security "
        "group inbound from the load balancer's group, network ACLs both ways); if it can, the "
        "targets are overloaded or hung: check CPU, memory and the health-check timeout.",
    ),
    "Target.FailedHealthChecks": Reason(
        "elb.failed_health_checks",
        INFRASTRUCTURE,
        "Health checks cannot connect to the targets or get malformed answers",
        "Check that the application runs and listens on the health-check port and protocol, "
        "and that the target security group allows the load balancer.",
    ),
    "Elb.InternalError": Reason(
        "elb.internal_error",
        AWS,
        "Health checks fail with an internal error of the load balancer",
        "An Elastic Load Balancing fault, not the targets': check AWS Health for ELB in this "
        "region and open a support case with the load balancer and target group ARNs.",
    ),
    "Target.NotInUse": Reason(
        "elb.target_not_in_use",
        INFRASTRUCTURE,
        "Targets are not in use: no load balancer uses the target group, or the targets are "
        "in an Availability Zone the load balancer does not serve",
        "Forward a listener rule to the target group, or enable the targets' Availability "
        "Zones (subnets) on the load balancer.",
    ),
    "Target.NotRegistered": Reason(
        "elb.target_not_registered",
        INFRASTRUCTURE,
        "Targets are not registered with the target group",
        "Register them; check the Auto Scaling group or ECS service that should.",
    ),
    "Target.InvalidState": Reason(
        "elb.target_invalid_state",
        INFRASTRUCTURE,
        "Targets are stopped or terminated",
        "Start or replace the instances; read the Auto Scaling group's activity history.",
    ),
    "Target.IpUnusable": Reason(
        "elb.target_ip_unusable",
        INFRASTRUCTURE,
        "Target IP addresses cannot be used (a load balancer holds them)",
        "Register the application's own IP addresses, not a load balancer's.",
    ),
}
# Codes of the `unused` state (the others are `unhealthy`).
UNUSED_CODES = frozenset(
    {
        "elb.target_not_in_use",
        "elb.target_not_registered",
        "elb.target_invalid_state",
        "elb.target_ip_unusable",
    }
)
