"""Tell people the postmortem exists: the notification topic and the incident channel.

Delivery happens after the document and the record are written, so every link works. It is
best effort: botocore and slack-sdk retry on their own, and a failure is reported in the
step's result, logged and counted instead of failing the step (a retry would write the same
document again and could not make the topic or Slack answer).
"""

from __future__ import annotations

import re
from typing import Any, Protocol

import msgspec
from botocore.exceptions import BotoCoreError, ClientError

from incidents.model import Incident
from postmortem.console import s3_object_url
from shared.errors import error_code
from shared.s3uri import split_uri

SUBJECT_LIMIT = 99
_NOT_PRINTABLE_ASCII = re.compile(r"[^\x20-\x7e]+")


class Announcement(msgspec.Struct, frozen=True):
    """What is said, wherever it is said."""

    subject: str
    text: str
    uri: str
    console_url: str
    summary: str


class ChannelPoster(Protocol):
    """Posts text into the incident's chat channel (the hook for chat integrations)."""

    def post(self, channel_id: str, announcement: Announcement) -> None: ...


def _subject(status: str, incident: Incident) -> str:
    text = f"[{status}] Postmortem: {incident.title}"
    text = " ".join(_NOT_PRINTABLE_ASCII.sub(" ", text).split())
    return text if len(text) <= SUBJECT_LIMIT else text[: SUBJECT_LIMIT - 3].rstrip() + "..."


def announcement(
    incident: Incident, status: str, summary: str, uri: str, region: str
) -> Announcement:
    """The message: status, summary, where the document is and how to fetch it."""
    bucket, key = split_uri(uri)
    console = s3_object_url(region, bucket, key) if key else ""
    lines = [
        f"Postmortem for incident {incident.incident_id} ({status})",
        "",
        summary,
        "",
        f"Document: {uri}",
    ]
    if console:
        lines.append(f"In the S3 console: {console}")
    lines.append(f"Download: runbook postmortem {incident.incident_id} --out postmortem.md")
    return Announcement(_subject(status, incident), "\n".join(lines), uri, console, summary)


class TopicNotifier:
    """Publishes to the notification topic through an injected SNS client."""

    def __init__(self, sns: Any, topic_arn: str) -> None:
        self._sns = sns
        self._topic_arn = topic_arn

    def publish(self, incident: Incident, message: Announcement) -> str:
        """Returns the SNS message id."""
        answer = self._sns.publish(
            TopicArn=self._topic_arn,
            Subject=message.subject,
            Message=message.text,
            MessageAttributes={
                "incident_id": {"DataType": "String", "StringValue": incident.incident_id},
                "severity": {"DataType": "String", "StringValue": incident.severity},
                "kind": {"DataType": "String", "StringValue": "postmortem"},
            },
        )
        return str(answer.get("MessageId", ""))


def _failed(error: Exception) -> str:
    if isinstance(error, ClientError):
        return f"failed ({error_code(error) or 'error'})"
    return f"failed ({type(error).__name__})"


def deliver(
    incident: Incident,
    message: Announcement,
    notifier: TopicNotifier | None,
    poster: ChannelPoster | None,
    channel_id: str | None,
) -> dict[str, str]:
    """Publish and post; returns what happened to each (`published`, `posted`, `skipped: ...`,
    `failed (...)`)."""
    outcome: dict[str, str] = {}
    if notifier is None:
        outcome["topic"] = "skipped: no notification topic configured"
    else:
        try:
            outcome["topic"] = f"published ({notifier.publish(incident, message)})"
        except (ClientError, BotoCoreError) as exc:
            outcome["topic"] = _failed(exc)
    if not channel_id:
        outcome["channel"] = "skipped: the incident has no channel"
    elif poster is None:
        outcome["channel"] = "skipped: no chat integration configured for the postmortem"
    else:
        try:
            poster.post(channel_id, message)
            outcome["channel"] = "posted"
        except Exception as exc:  # any chat failure is reported in the result, never raised
            outcome["channel"] = _failed(exc)
    return outcome
