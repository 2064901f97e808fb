"""What Slack's answers mean for the state machine, and the bounded rate-limit retries."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web import SlackResponse

from chat.client import (
    BoundedRateLimitRetryHandler,
    SlackChannelError,
    error_code,
    raise_for,
    retry_after,
    web_client,
)
from shared.errors import TransientDependencyError

REQUEST = HttpRequest(method="POST", url="https://slack.com/api/x", headers={})


def _error(status: int, data: Any) -> SlackApiError:
    response = SlackResponse(
        client=None,
        http_verb="POST",
        api_url="https://slack.com/api/x",
        req_args={},
        data=data,
        headers={},
        status_code=status,
    )
    return SlackApiError("failed", response)


@pytest.mark.parametrize(
    ("status", "data", "code", "transient"),
    [
        (200, {"ok": False, "error": "invalid_auth"}, "invalid_auth", False),
        (200, {"ok": False, "error": "missing_scope"}, "missing_scope", False),
        (200, {"ok": False, "error": "internal_error"}, "internal_error", True),
        (200, {"ok": False, "error": "ratelimited"}, "ratelimited", True),
        (429, {"ok": False, "error": "ratelimited"}, "ratelimited", True),
        (
            500,
            {"ok": False, "error": "Received a response in a non-JSON format: <html>"},
            "http_500",
            True,
        ),
        (503, {"ok": False, "error": "service_unavailable"}, "http_503", True),
        (200, {"ok": False}, "unknown_error", False),
    ],
)
def test_error_codes_and_their_meaning(status, data, code, transient) -> None:
    error = _error(status, data)
    assert error_code(error) == code
    expected = TransientDependencyError if transient else SlackChannelError
    with pytest.raises(expected, match=f"^Slack: {code}$"):
        raise_for(error)


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"Retry-After": ["3"]}, 3),
        ({"retry-after": "7"}, 7),
        ({"Retry-After": ["-4"]}, 0),
        ({"Retry-After": ["Wed, 21 Oct 2015 07:28:00 GMT"]}, None),
        ({}, None),
    ],
)
def test_retry_after(headers, seconds) -> None:
    assert retry_after(headers) == seconds


def _429(seconds: str | None) -> HttpResponse:
    headers = {"Retry-After": [seconds]} if seconds is not None else {}
    return HttpResponse(status_code=429, headers=headers)


def test_short_waits_are_retried_twice_within_the_budget(monkeypatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr("slack_sdk.http_retry.builtin_handlers.time.sleep", slept.append)
    handler = BoundedRateLimitRetryHandler(max_retry_count=2, max_wait=5, budget=12)
    state = RetryState()
    for _ in range(2):
        assert handler.can_retry(state=state, request=REQUEST, response=_429("2"))
        handler.prepare_for_next_attempt(state=state, request=REQUEST, response=_429("2"))
    assert not handler.can_retry(state=state, request=REQUEST, response=_429("2"))
    assert len(slept) == 2 and all(2 <= s < 3 for s in slept)


def test_long_unknown_or_over_budget_waits_are_declined() -> None:
    handler = BoundedRateLimitRetryHandler(max_retry_count=5, max_wait=5, budget=12)
    state = RetryState()
    assert not handler.can_retry(state=state, request=REQUEST, response=_429("30"))
    assert not handler.can_retry(state=state, request=REQUEST, response=_429(None))
    assert not handler.can_retry(
        state=state, request=REQUEST, response=HttpResponse(status_code=500, headers={})
    )
    handler.remaining = 4
    assert not handler.can_retry(state=state, request=REQUEST, response=_429("4"))
    assert handler.can_retry(state=state, request=REQUEST, response=_429("3"))


def test_base_url_gets_its_trailing_slash() -> None:
    assert web_client("xoxb-t", "http://127.0.0.1:9/api").base_url == "http://127.0.0.1:9/api/"
    assert web_client("xoxb-t").base_url == "https://slack.com/api/"
