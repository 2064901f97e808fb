"""The slack-sdk WebClient every Slack call goes through, and what its errors mean for the
state machine.

Rate limits: a 429's Retry-After is honoured a bounded number of times, but only while the
wait is short. A Lambda has 30 seconds, so a long Retry-After becomes TransientDependencyError
and Step Functions retries the step later instead of the function sleeping into its timeout.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn, TypeGuard, TypeVar
from urllib.error import URLError

from shared.errors import TransientDependencyError

# slack_sdk is imported where a client is built or its errors caught, never at module level:
# importing any of it runs slack_sdk/__init__, which loads the whole WebClient (20-40 ms of a
# cold start, docs/performance.md), and most steps only maybe post an update.
if TYPE_CHECKING:
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

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
    from slack_sdk import WebClient
    from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler

    from chat.retry import BoundedRateLimitRetryHandler

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
    from slack_sdk.errors import SlackApiError

    try:
        return request()
    except SlackApiError as exc:
        raise_for(exc)
    except CONNECTION_ERRORS as exc:
        raise TransientDependencyError(f"Slack: {type(exc).__name__}") from exc


def is_api_error(error: BaseException) -> TypeGuard[SlackApiError]:
    """Whether `error` is slack-sdk's SlackApiError, without importing slack_sdk: if it was
    never imported, nothing can have raised one."""
    errors = sys.modules.get("slack_sdk.errors")
    return errors is not None and isinstance(error, errors.SlackApiError)


def __getattr__(name: str) -> Any:
    # `chat.client.BoundedRateLimitRetryHandler` stays importable from here (it lives in
    # chat.retry so that slack_sdk loads only when a client is built).
    if name == "BoundedRateLimitRetryHandler":
        from chat.retry import BoundedRateLimitRetryHandler

        return BoundedRateLimitRetryHandler
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
