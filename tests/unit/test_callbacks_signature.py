"""Slack's v0 request signature: Slack's own published example, and every way to fail."""

from __future__ import annotations

import pytest

from callbacks.signature import (
    TOLERANCE_SECONDS,
    BadSignature,
    SignatureMissing,
    StaleRequest,
    sign,
    verify,
)

# Slack's worked example ("Verifying requests from Slack", api.slack.com and docs.slack.dev):
# its placeholder signing secret, timestamp, slash-command body and resulting signature.
DOC_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
DOC_TIMESTAMP = "1531420618"
DOC_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow"
    b"&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner"
    b"&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands"
    b"%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
    b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
DOC_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"

SECRET = "test-signing-secret"
NOW = 1_700_000_000
BODY = b"payload=%7B%22type%22%3A%22block_actions%22%7D"


def headers(timestamp: int | str = NOW, body: bytes = BODY, secret: str = SECRET) -> dict:
    return {
        "X-Slack-Request-Timestamp": str(timestamp),
        "X-Slack-Signature": sign(secret, str(timestamp), body),
    }


def test_slack_documented_example_verifies() -> None:
    assert sign(DOC_SECRET, DOC_TIMESTAMP, DOC_BODY) == DOC_SIGNATURE
    request = {"X-Slack-Request-Timestamp": DOC_TIMESTAMP, "X-Slack-Signature": DOC_SIGNATURE}
    verify(DOC_SECRET, request, DOC_BODY, now=int(DOC_TIMESTAMP) + 10)


def test_documented_example_fails_with_one_byte_changed() -> None:
    request = {"X-Slack-Request-Timestamp": DOC_TIMESTAMP, "X-Slack-Signature": DOC_SIGNATURE}
    with pytest.raises(BadSignature, match="does not match"):
        verify(DOC_SECRET, request, DOC_BODY.replace(b"roadrunner", b"roadrunnes"), now=1531420618)


def test_valid_request_with_api_gateway_lowercase_headers() -> None:
    lowered = {name.lower(): value for name, value in headers().items()}
    verify(SECRET, lowered, BODY, now=NOW)


@pytest.mark.parametrize("drop", ["X-Slack-Signature", "X-Slack-Request-Timestamp"])
def test_missing_header_is_unsigned(drop: str) -> None:
    request = headers()
    del request[drop]
    with pytest.raises(SignatureMissing, match=drop.lower()):
        verify(SECRET, request, BODY, now=NOW)


def test_no_headers_at_all() -> None:
    with pytest.raises(SignatureMissing, match="x-slack-signature, x-slack-request-timestamp"):
        verify(SECRET, {}, BODY, now=NOW)


def test_empty_signature_counts_as_missing() -> None:
    with pytest.raises(SignatureMissing):
        verify(SECRET, {**headers(), "X-Slack-Signature": " "}, BODY, now=NOW)


def test_signed_with_another_secret() -> None:
    with pytest.raises(BadSignature, match="does not match"):
        verify(SECRET, headers(secret="someone-else"), BODY, now=NOW)


def test_tampered_body() -> None:
    with pytest.raises(BadSignature, match="does not match"):
        verify(SECRET, headers(), BODY + b"&x=1", now=NOW)


def test_signature_moved_to_another_timestamp() -> None:
    request = {**headers(), "X-Slack-Request-Timestamp": str(NOW + 1)}
    with pytest.raises(BadSignature):
        verify(SECRET, request, BODY, now=NOW)


@pytest.mark.parametrize("bad", ["v1=" + "0" * 64, "0" * 64, "v0=zz", "v0=é" + "0" * 63])
def test_malformed_signature(bad: str) -> None:
    with pytest.raises(BadSignature):
        verify(SECRET, {**headers(), "X-Slack-Signature": bad}, BODY, now=NOW)


@pytest.mark.parametrize("offset", [-(TOLERANCE_SECONDS + 1), TOLERANCE_SECONDS + 1])
def test_stale_in_the_past_or_future(offset: int) -> None:
    # Correctly signed, but 301 s away from now (a replay, or a skewed clock).
    with pytest.raises(StaleRequest, match="301 s"):
        verify(SECRET, headers(timestamp=NOW + offset), BODY, now=NOW)


@pytest.mark.parametrize("offset", [-TOLERANCE_SECONDS, TOLERANCE_SECONDS])
def test_edges_of_the_window_are_accepted(offset: int) -> None:
    verify(SECRET, headers(timestamp=NOW + offset), BODY, now=NOW)


# Arabic-Indic digits are str.isdigit() but not a Unix time in ASCII.
@pytest.mark.parametrize(
    "timestamp", ["soon", "1700000000.5", "-1700000000", "\u0661\u0667" + "\u0660" * 8]
)
def test_non_numeric_timestamp(timestamp: str) -> None:
    request = {**headers(), "X-Slack-Request-Timestamp": timestamp}
    with pytest.raises(BadSignature, match="not a Unix time"):
        verify(SECRET, request, BODY, now=NOW)


def test_uses_the_clock_when_now_is_not_given() -> None:
    with pytest.raises(StaleRequest):
        verify(SECRET, headers(timestamp=NOW), BODY)  # 2023: long past


def test_empty_secret_is_refused_rather_than_trusted() -> None:
    with pytest.raises(ValueError, match="no signing secret"):
        verify("", headers(), BODY, now=NOW)


def test_errors_never_quote_the_signature_or_secret() -> None:
    request = headers(secret="someone-else")
    with pytest.raises(BadSignature) as caught:
        verify(SECRET, request, BODY, now=NOW)
    assert request["X-Slack-Signature"] not in str(caught.value)
    assert SECRET not in str(caught.value)


def test_a_body_that_is_not_utf8_is_a_bad_signature_not_a_crash() -> None:
    body = b"payload=\xff"
    with pytest.raises(BadSignature, match="not UTF-8"):
        verify(SECRET, {**headers(), "X-Slack-Signature": "v0=" + "0" * 64}, body, now=NOW)
