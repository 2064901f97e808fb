"""Slack's request signing (v0): prove a request came from Slack and is fresh.

Slack signs `v0:<X-Slack-Request-Timestamp>:<raw body>` with HMAC-SHA256 keyed by the app's
signing secret and sends `X-Slack-Signature: v0=<hex>`. The timestamp bounds replays: a captured
request stops verifying after five minutes. Verification works on the raw bytes, before anything
parses the body, and compares in constant time so the signature cannot be guessed byte by byte.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

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


def sign(signing_secret: str, timestamp: str, body: bytes) -> str:
    """`v0=<hex>` for `body` sent at `timestamp` (what Slack puts in X-Slack-Signature)."""
    base = f"{VERSION}:{timestamp}:".encode() + body
    digest = hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()
    return f"{VERSION}={digest}"


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
    skew = abs((time.time() if now is None else now) - int(timestamp))
    if skew > TOLERANCE_SECONDS:
        raise StaleRequest(
            f"request timestamp is {int(skew)} s away from now "
            f"(more than {TOLERANCE_SECONDS} s): possible replay"
        )
    if not signature.startswith(f"{VERSION}="):
        raise BadSignature(f"signature is not a {VERSION} signature")
    expected = sign(signing_secret, timestamp, body)
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        raise BadSignature("signature does not match the request body")
