"""The bounded 429 retry handler of chat.client's WebClient.

A module of its own because subclassing slack-sdk's handler imports slack_sdk, whose package
init loads the whole WebClient (20-40 ms of a cold start, docs/performance.md): chat.client
loads this only when it builds a client, so steps that may never post do not pay for it.
"""

from __future__ import annotations

from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from chat.client import (
    MAX_RETRY_AFTER_SECONDS,
    RATE_LIMIT_BUDGET_SECONDS,
    RATE_LIMIT_RETRIES,
    retry_after,
)


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
