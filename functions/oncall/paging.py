"""Deliver one planned page to one channel of one person (docs/oncall.md, "How a person is
paged", and "Paging a person" for why).

SMS and email go through the contact's own SNS topic; the message attribute `channel` (the
channel's name) meets the subscriptions' filter policies, so exactly one subscription receives
it. Slack channels are direct messages through the caller's `slack_dm` (the same text, escaped
for mrkdwn). A delivery failure is an outcome ("failed", why), never an exception: one bad
address must not stop the next page. Nothing here logs, and no detail carries an address.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chat.mrkdwn import escape
from incidents.notification import SUBJECT_LIMIT, ascii_line
from oncall.declaration import ResponseConfig, UnknownName
from oncall.engagement import PlannedPage
from shared.errors import error_code

SlackDm = Callable[[str, str], None]
Outcome = tuple[str, str]  # ("sent" | "failed", detail)


def _subject(text: str) -> str:
    line = ascii_line(text) or "Incident"
    return line if len(line) <= SUBJECT_LIMIT else line[: SUBJECT_LIMIT - 3].rstrip() + "..."


def _slack_error(error: Exception) -> str:
    """slack_sdk's SlackApiError carries the API's error code; other errors their type."""
    response: Any = getattr(error, "response", None)
    try:
        code = response.get("error") if response is not None else None
    except Exception:  # not a mapping-like response: the type says enough
        code = None
    return str(code) if code else type(error).__name__


class ContactPager:
    """Pages people: `topic_arn_for(contact_id)` is the contact's topic,
    `slack_dm(user_id, text)` posts a direct message (None: Slack is not configured)."""

    def __init__(
        self,
        sns: Any,
        topic_arn_for: Callable[[str], str],
        slack_dm: SlackDm | None = None,
    ) -> None:
        self._sns = sns
        self._topic_arn_for = topic_arn_for
        self._slack_dm = slack_dm

    def send(
        self, config: ResponseConfig, page: PlannedPage, *, subject: str, message: str
    ) -> Outcome:
        """("sent", what was sent) or ("failed", why)."""
        try:
            channel = config.contact(page.contact).channel(page.channel)
        except UnknownName as exc:
            return "failed", f"{exc}: not paged"
        if channel.type == "slack":
            return self._slack(channel.address, subject, message)
        request: dict[str, Any] = {
            "TopicArn": self._topic_arn_for(page.contact),
            "Message": message,
            "MessageAttributes": {"channel": {"DataType": "String", "StringValue": channel.name}},
        }
        if channel.type == "email":
            request["Subject"] = _subject(subject)
        try:
            response = self._sns.publish(**request)
        except ClientError as exc:
            return "failed", f"SNS Publish: {error_code(exc) or 'error'}"
        except BotoCoreError as exc:
            return "failed", f"SNS Publish: {type(exc).__name__}"
        return "sent", f"{channel.type} via SNS message {response.get('MessageId', '?')}"

    def _slack(self, user_id: str, subject: str, message: str) -> Outcome:
        if self._slack_dm is None:
            return "failed", "Slack not configured"
        try:
            self._slack_dm(user_id, f"*{escape(subject)}*\n{escape(message)}")
        except Exception as exc:  # any failure of the DM is the page's outcome, not a crash
            return "failed", f"Slack direct message: {_slack_error(exc)}"
        return "sent", "slack direct message"
