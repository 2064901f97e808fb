"""The contact pager against moto's SNS: one Publish to the contact's topic reaches only the
subscription whose filter policy names the channel (SQS subscriptions stand in for the phone
and the mailbox); Slack channels are direct messages; failures are outcomes, not crashes."""

from __future__ import annotations

import json
from typing import Any

import boto3
import msgspec
import pytest

from oncall.engagement import PlannedPage
from oncall.paging import ContactPager
from tests.conftest import REGION
from tests.unit.oncall.test_engagement import CONFIG

SUBJECT = "[CRITICAL] payments-api: payments-5xx"
MESSAGE = "payments-5xx is in ALARM since 10:00 UTC.\nAcknowledge: runbook ack inc-1 --by alice"


def page(contact: str, channel: str) -> PlannedPage:
    kind = CONFIG.contact(contact).channel(channel).type
    return PlannedPage(
        stage=0,
        contact=contact,
        contact_name=contact.title(),
        channel=channel,
        channel_type=kind,
        via="contact",
        due_at="2026-01-06T10:00:00Z",
    )


@pytest.fixture
def sns_topic(moto: None) -> dict[str, Any]:
    """alice's topic with a `phone` and an `email` subscription (SQS), each filtered."""
    sns = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    topic = sns.create_topic(Name="IncidentRunbook-contact-alice")["TopicArn"]
    queues = {}
    for channel in ("phone", "email"):
        url = sqs.create_queue(QueueName=f"alice-{channel}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sns.subscribe(
            TopicArn=topic,
            Protocol="sqs",
            Endpoint=arn,
            Attributes={"FilterPolicy": json.dumps({"channel": [channel]})},
        )
        queues[channel] = url
    return {"sns": sns, "sqs": sqs, "topic": topic, "queues": queues}


def received(env: dict[str, Any], channel: str) -> list[dict[str, Any]]:
    messages = (
        env["sqs"]
        .receive_message(QueueUrl=env["queues"][channel], MaxNumberOfMessages=10, WaitTimeSeconds=0)
        .get("Messages", [])
    )
    return [json.loads(m["Body"]) for m in messages]


def pager(env: dict[str, Any], **kwargs: Any) -> ContactPager:
    return ContactPager(env["sns"], lambda contact: f"{env['topic'][:-5]}{contact}", **kwargs)


def test_one_publish_reaches_exactly_the_channel_it_names(sns_topic: dict[str, Any]) -> None:
    status, detail = pager(sns_topic).send(CONFIG, page("alice", "phone"), subject=SUBJECT,
                                           message=MESSAGE)  # fmt: skip
    assert status == "sent"
    assert detail.startswith("sms via SNS message ")
    assert "+44" not in detail
    phone = received(sns_topic, "phone")
    assert [m["Message"] for m in phone] == [MESSAGE]
    assert phone[0]["MessageAttributes"]["channel"] == {"Type": "String", "Value": "phone"}
    assert "Subject" not in phone[0]  # a text message has no subject
    assert received(sns_topic, "email") == []


def test_email_carries_a_subject_sns_accepts(sns_topic: dict[str, Any]) -> None:
    long_subject = "[CRITICAL]\tpayments \u2013 " + "x" * 200
    status, _ = pager(sns_topic).send(CONFIG, page("alice", "email"), subject=long_subject,
                                      message=MESSAGE)  # fmt: skip
    assert status == "sent"
    (email,) = received(sns_topic, "email")
    assert email["Message"] == MESSAGE
    assert email["Subject"].startswith("[CRITICAL] payments")
    assert len(email["Subject"]) < 100 and email["Subject"].isascii()
    assert received(sns_topic, "phone") == []


def test_an_sns_failure_is_a_failed_page_not_an_exception(sns_topic: dict[str, Any]) -> None:
    broken = ContactPager(sns_topic["sns"], lambda contact: sns_topic["topic"] + "-gone")
    status, detail = broken.send(CONFIG, page("alice", "phone"), subject=SUBJECT, message=MESSAGE)
    assert (status, detail) == ("failed", "SNS Publish: NotFound")


def test_slack_is_a_direct_message_to_the_user_id() -> None:
    sent: list[tuple[str, str]] = []
    pager = ContactPager(object(), lambda c: "unused", slack_dm=lambda u, t: sent.append((u, t)))
    status, detail = pager.send(CONFIG, page("alice", "slack"), subject="A <b> & c", message="m>")
    assert (status, detail) == ("sent", "slack direct message")
    assert sent == [("U0ALICE01", "*A &lt;b&gt; &amp; c*\nm&gt;")]


class _SlackApiError(Exception):
    def __init__(self) -> None:
        super().__init__("The request to the Slack API failed. (url: ...) user U0ALICE01")
        self.response = {"ok": False, "error": "cannot_dm_bot"}


def test_slack_failures_and_no_slack_are_failed_pages() -> None:
    def failing(user: str, text: str) -> None:
        raise _SlackApiError()

    pager = ContactPager(object(), lambda c: "unused", slack_dm=failing)
    status, detail = pager.send(CONFIG, page("alice", "slack"), subject=SUBJECT, message=MESSAGE)
    assert (status, detail) == ("failed", "Slack direct message: cannot_dm_bot")
    assert "U0ALICE01" not in detail

    def timing_out(user: str, text: str) -> None:
        raise TimeoutError("read timed out")

    pager = ContactPager(object(), lambda c: "unused", slack_dm=timing_out)
    assert pager.send(CONFIG, page("alice", "slack"), subject="s", message="m") == (
        "failed",
        "Slack direct message: TimeoutError",
    )
    unconfigured = ContactPager(object(), lambda c: "unused")
    assert unconfigured.send(CONFIG, page("alice", "slack"), subject="s", message="m") == (
        "failed",
        "Slack not configured",
    )


def test_a_page_for_a_channel_no_longer_declared_fails_with_the_reason() -> None:
    stale = msgspec.structs.replace(page("alice", "phone"), channel="pager")
    status, detail = ContactPager(object(), lambda c: "unused").send(
        CONFIG, stale, subject="s", message="m"
    )
    assert status == "failed"
    assert detail == "contact alice has no channel 'pager' (known: slack, phone, email): not paged"
