"""Slack's request signing (v0): prove a request came from Slack and is fresh.

Slack signs `v0:<X-Slack-Request-Timestamp>:<raw body>` with HMAC-SHA256 keyed by the app's
signing secret and sends `X-Slack-Signature: v0=<hex>`. The timestamp bounds replays: a captured
request stops verifying after five minutes. Verification works on the raw bytes, before anything
parses the body.

The signature itself is slack-sdk's `SignatureVerifier` (it computes the HMAC and compares in
constant time). It answers only yes or no, and raises on some malformed input (a non-numeric
timestamp, a non-ASCII signature), so the checks before it here say *why* a request is refused
(`SignatureMissing`, `StaleRequest`, `BadSignature`) for the logs and metrics. slack_sdk is
imported on the first verification, not with this module: its package init loads the whole
WebClient (about 15 ms, docs/dependencies.md), which the handler's cold start need not pay.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from slack_sdk.signature import SignatureVerifier

VERSION = "v0"
TOLERANCE_SECONDS = 300
SIGNATURE_HEADER = "x-slack-signature"
TIMESTAMP_HEADER = "x-slack-request-timestamp"


class SignatureError(Exception):
    """The request cannot be trusted; the message says why (never the secret or signature)."""


class SignatureMissing(SignatureError):
    """A signing header is absent or empty: the request is unsigned."""


class StaleRequest(SignatureError):
    """The timestamp is outside the replay window (in the past or the future)."""


class BadSignature(SignatureError):
    """The signature (or its timestamp) is malformed or does not match the body."""


class _At:
    """slack-sdk's Clock, fixed at the moment the caller checked the window against."""

    def __init__(self, now: float) -> None:
        self._now = now

    def now(self) -> float:
        return self._now


def _verifier(signing_secret: str, now: float) -> SignatureVerifier:
    from slack_sdk.signature import SignatureVerifier

    return SignatureVerifier(signing_secret, clock=_At(now))  # type: ignore[arg-type]


def sign(signing_secret: str, timestamp: str, body: bytes) -> str:
    """`v0=<hex>` for `body` sent at `timestamp` (what Slack puts in X-Slack-Signature)."""
    signature = _verifier(signing_secret, 0).generate_signature(timestamp=timestamp, body=body)
    if signature is None:  # slack-sdk returns None only without a timestamp
        raise ValueError("no timestamp to sign")
    return signature


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value.strip() if isinstance(value, str) else ""
    return ""


def verify(
    signing_secret: str,
    headers: Mapping[str, str],
    body: bytes,
    now: float | None = None,
) -> None:
    """Return if Slack signed `body` less than five minutes from `now`; raise otherwise.

    Header names are matched case-insensitively (API Gateway lower-cases them).
    """
    if not signing_secret:
        # An empty key would let anyone compute a valid signature.
        raise ValueError("no signing secret: refusing to verify")
    signature = _header(headers, SIGNATURE_HEADER)
    timestamp = _header(headers, TIMESTAMP_HEADER)
    if not signature or not timestamp:
        missing = [
            name
            for name, value in ((SIGNATURE_HEADER, signature), (TIMESTAMP_HEADER, timestamp))
            if not value
        ]
        raise SignatureMissing(f"unsigned request: missing {', '.join(missing)}")
    if not (timestamp.isascii() and timestamp.isdigit()):
        raise BadSignature(f"{TIMESTAMP_HEADER} is not a Unix time in seconds")
    moment = time.time() if now is None else now
    skew = abs(moment - int(timestamp))
    if skew > TOLERANCE_SECONDS:
        raise StaleRequest(
            f"request timestamp is {int(skew)} s away from now "
            f"(more than {TOLERANCE_SECONDS} s): possible replay"
        )
    if not (signature.isascii() and signature.startswith(f"{VERSION}=")):
        raise BadSignature(f"signature is not a {VERSION} signature")
    try:
        valid = _verifier(signing_secret, moment).is_valid(body, timestamp, signature)
    except UnicodeDecodeError as exc:  # slack-sdk signs the body as text
        raise BadSignature("request body is not UTF-8") from exc
    if not valid:
        raise BadSignature("signature does not match the request body")
