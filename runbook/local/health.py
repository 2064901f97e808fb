"""AWS Health on the emulator: an account without a Business/Enterprise support plan.

moto has no Health API (its dispatcher fails with a 500). On AWS, accounts without a qualifying
support plan get SubscriptionRequiredException from every Health action, and the diagnostics
step falls back to the Health events stored from EventBridge; the emulator answers the same way
so that path runs locally, instead of an internal error.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

HEALTH_TARGET_PREFIX = "AWSHealth_20160804."
SUBSCRIPTION_REQUIRED = {
    "__type": "SubscriptionRequiredException",
    "message": "The AWS Premium Support Subscription is required to use this service.",
}

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def without_support_plan(app: WsgiApp) -> WsgiApp:
    """Wrap moto's WSGI app: Health requests get SubscriptionRequiredException."""

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
        if not target.startswith(HEALTH_TARGET_PREFIX):
            return app(environ, start_response)
        body = json.dumps(SUBSCRIPTION_REQUIRED).encode()
        start_response(
            "400 Bad Request",
            [
                ("Content-Type", "application/x-amz-json-1.1"),
                ("Content-Length", str(len(body))),
                ("x-amzn-ErrorType", "SubscriptionRequiredException"),
            ],
        )
        return [body]

    return wrapped
