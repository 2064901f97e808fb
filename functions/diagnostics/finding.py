"""What a diagnostic source reports: a small summary for the state, full evidence for S3."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from shared.errors import error_code

OK = "ok"
NOT_FOUND = "not_found"
THROTTLED = "throttled"
TIMEOUT = "timeout"
ERROR = "error"
# Statuses that mean the source could not tell us anything.
FAILED_STATUSES = frozenset({THROTTLED, TIMEOUT, ERROR})

_THROTTLE_CODES = frozenset(
    {"ThrottlingException", "Throttling", "LimitExceededException", "TooManyRequestsException"}
)


@dataclass
class Finding:
    """One source's result for one target (a function, a log group...)."""

    source: str
    target: str
    status: str
    message: str = ""
    summary: dict[str, Any] = field(default_factory=dict)
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Everything, for the S3 evidence document."""
        return asdict(self)


def finding_from_client_error(source: str, target: str, error: ClientError) -> Finding:
    """Say plainly what went wrong: missing resource, throttling, or another AWS error."""
    code = error_code(error)
    text = str(error.response.get("Error", {}).get("Message", ""))[:300]
    if code == "ResourceNotFoundException":
        return Finding(source, target, NOT_FOUND, f"{target} does not exist ({text})")
    if code in _THROTTLE_CODES:
        return Finding(source, target, THROTTLED, f"throttled by AWS ({code}); try again later")
    return Finding(source, target, ERROR, f"{code}: {text}")
