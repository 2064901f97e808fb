"""Typed errors. Lambda reports an exception's class name as the error type, and the state
machine's Retry/Catch match on those names, so the names here are part of the contract."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import ClientError

# Error codes that mean "try again later", not "your request is wrong".
_TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "RequestThrottled",
        "SlowDown",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalServerError",
        "InternalFailure",
        "InternalError",
        "LimitExceededException",
    }
)


class IncidentError(Exception):
    """Base class so callers (CLI, handlers) can catch every domain error at once."""


class TransientDependencyError(IncidentError):
    """A dependency throttled or failed with a 5xx: the state machine retries the step."""


class InvalidIncidentInput(IncidentError):
    """The event or payload cannot describe an incident: retrying would not help."""


class IncidentNotFound(IncidentError):
    """No incident record with that id."""


class AlreadyResolved(IncidentError):
    """The incident was already resolved: a second resolve must never resume twice."""


class AlreadyAcknowledged(IncidentError):
    """Somebody acknowledged the incident before: the message says who and when."""


class NotWaiting(IncidentError):
    """The workflow is not waiting for recovery right now (still responding or stabilising)."""


class ConfigurationError(IncidentError):
    """A required environment variable is missing or invalid (a deployment bug)."""


def error_code(error: ClientError) -> str:
    """The AWS error code of a botocore ClientError ('' when absent)."""
    return str(error.response.get("Error", {}).get("Code", ""))


def is_transient(error: ClientError) -> bool:
    """Throttling and server-side failures are worth a retry; everything else is not."""
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return error_code(error) in _TRANSIENT_CODES or status >= 500


def reraise_transient(error: ClientError, what: str) -> None:
    """Turn a transient ClientError into TransientDependencyError so the ASL retries it."""
    if is_transient(error):
        raise TransientDependencyError(f"{what}: {error_code(error)}") from error


@contextmanager
def transient_errors(what: str) -> Iterator[None]:
    """Around an AWS call whose failures the caller does not handle: transient ones become
    TransientDependencyError (retried by the ASL), the rest propagate unchanged."""
    try:
        yield
    except ClientError as exc:
        reraise_transient(exc, what)
        raise
