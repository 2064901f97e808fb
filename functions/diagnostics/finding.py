"""What a diagnostic source reports: a small summary for the state, full evidence for S3, and
the known causes it recognised, each placed in a fault domain so the verdict can isolate the
fault the way a responder would (AWS side first, then infrastructure, application, outside)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from botocore.exceptions import ClientError

from shared.errors import error_code

OK = "ok"
NOT_FOUND = "not_found"
SKIPPED = "skipped"
THROTTLED = "throttled"
TIMEOUT = "timeout"
ERROR = "error"
# Statuses that mean the source could not tell us anything.
FAILED_STATUSES = frozenset({THROTTLED, TIMEOUT, ERROR})

# Fault domains, in the order a careful responder rules them in or out.
Domain = Literal["aws", "infrastructure", "application", "outside"]
AWS: Domain = "aws"
INFRASTRUCTURE: Domain = "infrastructure"
APPLICATION: Domain = "application"
OUTSIDE: Domain = "outside"
DOMAIN_ORDER: tuple[Domain, ...] = (AWS, INFRASTRUCTURE, APPLICATION, OUTSIDE)

_THROTTLE_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "LimitExceededException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
    }
)
_NOT_FOUND_CODES = frozenset(
    {
        "ResourceNotFoundException",
        "ServiceNotFoundException",
        "ClusterNotFoundException",
        "DBInstanceNotFound",
        "DBInstanceNotFoundFault",
        "InvalidInstanceID.NotFound",
        "DeploymentDoesNotExistException",
        "TargetGroupNotFound",
        "LoadBalancerNotFound",
        "NotFoundException",
    }
)


@dataclass
class Cause:
    """A known cause recognised in the evidence, with the fix a responder would apply.

    `domain` places it on the isolation ladder; `scope` says how much is affected
    ("2 of 6 tasks"); `evidence` holds short excerpts (log lines, trace ids, status details).
    `requires` names cause codes of which at least one must be seen by some source for this
    cause to count in the verdict: a fact that is only a fault given a symptom (a subnet
    without a route to the internet is by design until something times out connecting out).
    """

    code: str
    domain: Domain
    title: str
    fix: str = ""
    scope: str = ""
    resources: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    ongoing: bool | None = None
    started_at: str | None = None
    requires: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Finding:
    """One source's result for one target (a function, a log group, a service...)."""

    source: str
    target: str
    status: str
    message: str = ""
    summary: dict[str, Any] = field(default_factory=dict)
    evidence: dict[str, Any] = field(default_factory=dict)
    causes: list[Cause] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Everything, for the S3 evidence document."""
        return asdict(self)


def is_throttle(error: ClientError) -> bool:
    """Did AWS throttle this call (after botocore's own retries)?"""
    return error_code(error) in _THROTTLE_CODES


def finding_from_client_error(source: str, target: str, error: ClientError) -> Finding:
    """Say plainly what went wrong: missing resource, throttling, or another AWS error."""
    code = error_code(error)
    text = str(error.response.get("Error", {}).get("Message", ""))[:300]
    if code in _NOT_FOUND_CODES:
        return Finding(source, target, NOT_FOUND, f"{target} does not exist ({text})")
    if code in _THROTTLE_CODES:
        return Finding(source, target, THROTTLED, f"throttled by AWS ({code}); try again later")
    if code in ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation"):
        return Finding(
            source,
            target,
            ERROR,
            f"{code}: the diagnostics role may not read this ({text}); grant the read-only "
            "action or skip this source",
        )
    return Finding(source, target, ERROR, f"{code}: {text}")
