"""The slack-sdk WebClient every Slack call goes through, and what its errors mean for the
state machine.

Rate limits: a 429's Retry-After is honoured a bounded number of times, but only while the
wait is short. A Lambda has 30 seconds, so a long Retry-After becomes TransientDependencyError
and Step Functions retries the step later instead of the function sleeping into its timeout.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn, TypeVar
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from shared.errors import TransientDependencyError

T = TypeVar("T")

RATE_LIMIT_RETRIES = 2
# Longest single Retry-After slept inside the function, and all such sleeps of one client.
MAX_RETRY_AFTER_SECONDS = 5
RATE_LIMIT_BUDGET_SECONDS = 12
REQUEST_TIMEOUT_SECONDS = 8

# Slack error codes that mean "later", not "never" (the rest are permanent).
TRANSIENT_CODES = frozenset(
    {"ratelimited", "service_unavailable", "fatal_error", "internal_error", "request_timeout"}
)


class SlackChannelError(Exception):
    """Slack refused for good (bad token, missing scope, bad name): retrying would not help.
    The class name is what the state machine's Catch records."""


class BoundedRateLimitRetryHandler(RateLimitErrorRetryHandler):
    """slack-sdk's 429 handler, declining waits longer than `max_wait` or than what is left of
    `budget` (the caller then sees the 429 as a SlackApiError)."""

    def __init__(
        self,
        max_retry_count: int = RATE_LIMIT_RETRIES,
        max_wait: float = MAX_RETRY_AFTER_SECONDS,
        budget: float = RATE_LIMIT_BUDGET_SECONDS,
    ) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.max_wait = max_wait
        self.remaining = budget

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None or response.status_code != 429:
            return False
        wait = retry_after(response.headers)
        # slack-sdk adds up to a second of jitter to the wait.
        return wait is not None and wait <= self.max_wait and wait + 1 <= self.remaining

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        if response is not None:
            self.remaining -= (retry_after(response.headers) or 0) + 1
        super().prepare_for_next_attempt(
            state=state, request=request, response=response, error=error
        )


def retry_after(headers: dict[str, Any]) -> int | None:
    """Seconds from a Retry-After header (slack-sdk keeps header values in lists)."""
    for key, value in headers.items():
        if key.lower() == "retry-after":
            raw = value[0] if isinstance(value, list) and value else value
            try:
                return max(0, int(str(raw).strip()))
            except ValueError:
                return None
    return None


def web_client(token: str, base_url: str = "") -> WebClient:
    """A WebClient (fresh per invocation: its rate-limit budget is per invocation) that
    retries connection errors once and short rate limits twice. `base_url` overrides Slack's
    API root (the fake Slack in tests, the emulator)."""
    kwargs: dict[str, Any] = {}
    if base_url:
        kwargs["base_url"] = base_url if base_url.endswith("/") else base_url + "/"
    return WebClient(
        token=token,
        timeout=REQUEST_TIMEOUT_SECONDS,
        retry_handlers=[ConnectionErrorRetryHandler(), BoundedRateLimitRetryHandler()],
        **kwargs,
    )


def error_code(error: SlackApiError) -> str:
    """Slack's error code (`invalid_auth`), `ratelimited` for a 429, `http_<status>` for a 5xx
    (whose body is rarely JSON)."""
    status = int(getattr(error.response, "status_code", 0) or 0)
    if status == 429:
        return "ratelimited"
    if status >= 500:
        return f"http_{status}"
    data = getattr(error.response, "data", None)
    code = data.get("error") if isinstance(data, dict) else None
    return str(code) if code else "unknown_error"


def is_transient(error: SlackApiError) -> bool:
    """429s, 5xx and Slack's own "try later" codes."""
    code = error_code(error)
    return code == "ratelimited" or code.startswith("http_5") or code in TRANSIENT_CODES


def raise_for(error: SlackApiError) -> NoReturn:
    """TransientDependencyError (the ASL retries) or SlackChannelError (it records a failure)."""
    code = error_code(error)
    if is_transient(error):
        raise TransientDependencyError(f"Slack: {code}") from error
    raise SlackChannelError(f"Slack: {code}") from error


CONNECTION_ERRORS = (URLError, ConnectionError, TimeoutError)


def call(request: Callable[[], T]) -> T:
    """Run one Web API call, translating its failures for the state machine."""
    try:
        return request()
    except SlackApiError as exc:
        raise_for(exc)
    except CONNECTION_ERRORS as exc:
        raise TransientDependencyError(f"Slack: {type(exc).__name__}") from exc
