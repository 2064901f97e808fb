"""Known error signatures in log lines, mapped to the cause and the fix a responder applies.

Order matters: the first signature that matches a line claims it, so specific ones (a Lambda
timeout, an IAM denial) come before the generic "unhandled exception".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from diagnostics.finding import APPLICATION, INFRASTRUCTURE, OUTSIDE, Cause, Domain

_EXCERPTS = 3
_EXCERPT_CHARS = 300


@dataclass(frozen=True)
class Signature:
    code: str
    pattern: re.Pattern[str]
    domain: Domain
    title: str
    fix: str


SIGNATURES: tuple[Signature, ...] = (
    Signature(
        "lambda.timeout",
        re.compile(r"Task timed out after [\d.]+ seconds"),
        APPLICATION,
        "Lambda function hit its timeout",
        "Find the slow call in the X-Ray traces; give downstream calls timeouts shorter than "
        "the function's, and raise the function timeout only if the work is legitimately long.",
    ),
    Signature(
        "lambda.out_of_memory",
        re.compile(
            r"Runtime\.OutOfMemory|Runtime exited with error: signal: killed|MemoryError"
            r"|JavaScript heap out of memory|java\.lang\.OutOfMemoryError"
        ),
        INFRASTRUCTURE,
        "Lambda function ran out of memory",
        "Raise the function's memory size (Max Memory Used in the REPORT line reached Memory "
        "Size); look for data kept between invocations or loaded whole into memory.",
    ),
    Signature(
        "network.connect_timeout",
        re.compile(
            r"(?i)connect timeout on endpoint|ConnectTimeoutError|connect ETIMEDOUT"
            r"|connection timed out|timed out connecting|Could not connect to the endpoint URL"
        ),
        INFRASTRUCTURE,
        "Outbound connection timed out (VPC routing / NAT / security group)",
        "A function in a VPC reaches AWS APIs and the internet only through a NAT gateway or a "
        "VPC endpoint: check the subnets' route tables, the security group's egress and the "
        "network ACLs for the destination port.",
    ),
    Signature(
        "iam.permission_denied",
        re.compile(
            r"AccessDenied(Exception)?|is not authorized to perform|UnauthorizedOperation"
            r"|KMSAccessDeniedException|Access Denied"
        ),
        INFRASTRUCTURE,
        "Permission denied by IAM",
        "Grant the action named in the message to the execution role (or fix the resource or "
        "key policy, or the SCP that denies it); nothing else changes until it is allowed.",
    ),
    Signature(
        "dependency.throttled",
        re.compile(
            r"ThrottlingException|Rate exceeded|ProvisionedThroughputExceededException"
            r"|TooManyRequestsException|SlowDown"
        ),
        INFRASTRUCTURE,
        "A dependency throttled the calls (quota or capacity exhausted)",
        "Back off with jitter, raise the quota or provisioned capacity, or spread the load.",
    ),
    Signature(
        "lambda.import_error",
        re.compile(r"Runtime\.ImportModuleError|Unable to import module|Runtime\.HandlerNotFound"),
        APPLICATION,
        "The deployed package cannot start (import or handler error)",
        "Roll back to the last good version; check the handler name and bundled dependencies.",
    ),
    Signature(
        "client.connectivity",
        re.compile(
            r"(?i)connection reset by peer|broken pipe|client disconnected|ECONNRESET"
            r"|client closed (the )?connection|TLS handshake (timeout|error)"
        ),
        OUTSIDE,
        "Clients drop or reset connections",
        "Check the clients' network path (ISP, VPN, corporate proxy, DNS) and client "
        "timeouts; AWS-side metrics show no fault for these requests.",
    ),
    Signature(
        "application.exception",
        re.compile(r"Traceback \(most recent call last\)|\[ERROR\]|Unhandled|Exception\b"),
        APPLICATION,
        "Unhandled exception in the application",
        "Read the stack trace excerpt; roll back the last deployment if it started then.",
    ),
)


def match(message: str) -> Signature | None:
    """The first signature that matches the line, if any."""
    for signature in SIGNATURES:
        if signature.pattern.search(message):
            return signature
    return None


def causes_in(lines: Iterable[tuple[str, str]]) -> list[Cause]:
    """Causes for (resource, log line) pairs: one per signature, with counts, the resources
    it was seen in and a few excerpts."""
    seen: dict[str, Cause] = {}
    counts: dict[str, int] = {}
    for resource, line in lines:
        signature = match(line)
        if signature is None:
            continue
        cause = seen.get(signature.code)
        if cause is None:
            cause = Cause(signature.code, signature.domain, signature.title, signature.fix)
            seen[signature.code] = cause
        counts[signature.code] = counts.get(signature.code, 0) + 1
        if resource and resource not in cause.resources:
            cause.resources.append(resource)
        if len(cause.evidence) < _EXCERPTS:
            cause.evidence.append(line.strip()[:_EXCERPT_CHARS])
    for code, cause in seen.items():
        cause.scope = f"{counts[code]} log lines in {len(cause.resources) or 1} log group(s)"
    return list(seen.values())
