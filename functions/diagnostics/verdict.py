"""Where the fault lies, decided the way a careful responder isolates it.

First AWS's side (an open Health issue, a failed EC2 system status check, an AWS-scheduled
event), then the user's infrastructure (instance status, exhausted resources: storage,
memory, CPU, concurrency, capacity; permissions; network rules), then the application (logs,
traces, error signatures), and only with none of those, outside AWS (clients' connectivity).
The first rung with evidence is the verdict; the evidence and its impact scope come with it,
and what was ruled out on the rungs above is said too, no more firmly than the evidence allows:
without the Health API (no support plan) only the Health events stored from EventBridge were
checked, and the verdict says that rather than "no AWS Health issue".
"""

from __future__ import annotations

from typing import Any

from diagnostics.finding import (
    APPLICATION,
    AWS,
    DOMAIN_ORDER,
    FAILED_STATUSES,
    INFRASTRUCTURE,
    OK,
    OUTSIDE,
    Cause,
    Finding,
)
from diagnostics.health import read_from_stored_events

UNDETERMINED = "undetermined"
_HEADLINES = {
    AWS: "AWS side",
    INFRASTRUCTURE: "Your infrastructure",
    APPLICATION: "The application",
    OUTSIDE: "Outside AWS",
}
# What a source that ran cleanly without a cause of that domain rules out.
_RULED_OUT: dict[str, dict[str, str]] = {
    AWS: {
        "health": "no AWS Health issue for these services and regions",
        "ec2": "EC2 system status checks pass",
        "elb": "no load balancer internal error",
    },
    INFRASTRUCTURE: {
        "ec2": "EC2 instance status checks pass and CPU is not exhausted",
        "rds": "RDS instances are available with storage and CPU to spare",
        "lambda_metrics": "no Lambda throttling",
        "network": "no security group or network ACL blocks the paths checked",
        "ecs": "no ECS capacity, image or IAM failure",
        "elb": "no load balancer, target registration or health-check connection fault",
    },
}
# What a Health finding read from the stored events rules out (it is not the Health API's word).
_HEALTH_STORED_ONLY = (
    "no AWS Health issue among the Health events stored from EventBridge (checked against those "
    "only: the AWS Health API could not be read)"
)
_MAX_CAUSES = 5
_MAX_EVIDENCE = 3


def _trim(cause: Cause) -> dict[str, Any]:
    data = cause.to_dict()
    data.pop("requires", None)
    data["resources"] = data["resources"][:5]
    data["evidence"] = [e[:300] for e in data["evidence"][:_MAX_EVIDENCE]]
    return data


def _ruled_out(findings: list[Finding], domain: str, kept: list[Cause]) -> list[str]:
    reasons = []
    for source, reason in _RULED_OUT.get(domain, {}).items():
        ran = [f for f in findings if f.source == source and f.status == OK]
        if ran and not any(c.domain == domain and c in kept for f in ran for c in f.causes):
            stored_only = source == "health" and any(
                read_from_stored_events(f.summary, f.message) for f in ran
            )
            reasons.append(_HEALTH_STORED_ONLY if stored_only else reason)
    return reasons


def standing(findings: list[Finding]) -> list[Cause]:
    """Every cause, less those whose required symptom no source saw (`Cause.requires`)."""
    causes = [c for f in findings for c in f.causes]
    seen = {c.code for c in causes}
    return [c for c in causes if not c.requires or seen.intersection(c.requires)]


def decide(findings: list[Finding]) -> dict[str, Any]:
    """The verdict: domain, headline, scope, causes (evidence), what was ruled out."""
    causes = standing(findings)
    failed = sorted({f"{f.source} ({f.status})" for f in findings if f.status in FAILED_STATUSES})
    ruled_out: list[str] = []
    for domain in DOMAIN_ORDER:
        mine = [c for c in causes if c.domain == domain]
        if not mine:
            ruled_out += _ruled_out(findings, domain, causes)
            continue
        top = mine[0]
        others = sorted({c.code for c in causes if c.domain != domain})
        return {
            "domain": domain,
            "headline": f"{_HEADLINES[domain]}: {top.title}",
            "scope": top.scope,
            "causes": [_trim(c) for c in mine[:_MAX_CAUSES]],
            "ruled_out": ruled_out,
            "other_evidence": others,
            "sources_failed": failed,
        }
    headline = "No cause found in the evidence"
    if failed:
        headline += f"; {len(failed)} sources could not be read"
    return {
        "domain": UNDETERMINED,
        "headline": headline,
        "scope": "",
        "causes": [],
        "ruled_out": ruled_out,
        "other_evidence": [],
        "sources_failed": failed,
    }
