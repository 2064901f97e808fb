"""`runbook drill`: a synthetic incident through the real entry path, timed (docs/drills.md).

The drill event goes on the default bus (PutEvents), where the drill rule sends it to ingest
like any alarm; nothing here starts an execution. The page is watched on an SQS queue this
command subscribes to the page's topic (the drill topic, or the critical topic for a drill to
the rotation) and removes afterwards; diagnostics, the drill's own resolution and the
postmortem are read from the incident record. Each step must happen within the timeout of the
drill's start; the first one that does not is named, and the exit code is 1.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from boto3.dynamodb.conditions import Attr

from runbook.context import Context
from runbook.errors import CliError

SOURCE = "incident-runbook.drill"
DETAIL_TYPE = "Incident Drill"
TARGETS = ("topic", "rotation")


class DrillFailed(CliError):
    """A step of the drill did not happen in time: the message names it."""


@dataclass
class DrillReport:
    drill_id: str
    target: str
    topic: str
    incident_id: str | None = None
    time_to_page_s: float | None = None
    time_to_diagnostics_s: float | None = None
    time_to_postmortem_s: float | None = None
    postmortem_uri: str | None = None
    failed_step: str | None = None
    steps: list[str] = field(default_factory=list)

    def text(self) -> str:
        def seconds(value: float | None) -> str:
            return "-" if value is None else f"{value:.1f} s"

        lines = [
            f"Drill {self.drill_id} (target {self.target}): incident {self.incident_id or '-'}",
            f"time to page:        {seconds(self.time_to_page_s)}",
            f"time to diagnostics: {seconds(self.time_to_diagnostics_s)}",
            f"time to postmortem:  {seconds(self.time_to_postmortem_s)}",
        ]
        if self.postmortem_uri:
            lines.append(f"postmortem: {self.postmortem_uri}")
        lines.append(f"FAILED: {self.failed_step}" if self.failed_step else "PASS")
        return "\n".join(lines)


def _since(start: datetime, at: str | None) -> float | None:
    if not at:
        return None
    moment = datetime.fromisoformat(at.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - start).total_seconds())


def _entry_at(item: dict[str, Any], event: str) -> str | None:
    for entry in item.get("timeline") or []:
        if entry.get("event") == event:
            return str(entry.get("at"))
    return None


class PageWatch:
    """An SQS queue subscribed to the topic for the length of one drill."""

    def __init__(self, ctx: Context, topic_arn: str, drill_id: str) -> None:
        self._sqs = ctx.client("sqs")
        self._sns = ctx.client("sns")
        self.topic_arn = topic_arn
        self.url = self._sqs.create_queue(QueueName=f"runbook-{drill_id}")["QueueUrl"]
        arn = self._sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "sns.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
                }
            ],
        }
        self._sqs.set_queue_attributes(QueueUrl=self.url, Attributes={"Policy": json.dumps(policy)})
        self.subscription = self._sns.subscribe(
            TopicArn=topic_arn, Protocol="sqs", Endpoint=arn, ReturnSubscriptionArn=True
        )["SubscriptionArn"]

    def page_for(self, drill_id: str, wait: float) -> dict[str, Any] | None:
        """The SNS notice whose message names the drill, if one arrives within `wait`."""
        answer = self._sqs.receive_message(
            QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=max(0, min(int(wait), 5))
        )
        for message in answer.get("Messages", []):
            try:
                notice = json.loads(message["Body"])
            except json.JSONDecodeError:
                continue
            if drill_id in str(notice.get("Message", "")):
                return dict(notice)
        return None

    def close(self) -> None:
        try:
            self._sns.unsubscribe(SubscriptionArn=self.subscription)
        finally:
            self._sqs.delete_queue(QueueUrl=self.url)


def _find_incident(table: Any, drill_id: str) -> dict[str, Any] | None:
    """The drill's incident (a filtered scan: a drill's id is not a key)."""
    kwargs: dict[str, Any] = {"FilterExpression": Attr("drill_id").eq(drill_id)}
    while True:
        page = table.scan(**kwargs)
        if page.get("Items"):
            return dict(page["Items"][0])
        if "LastEvaluatedKey" not in page:
            return None
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def run_drill(
    ctx: Context,
    *,
    timeout: float = 60.0,
    target: str | None = None,
    requested_by: str = "runbook drill",
    poll: float = 0.5,
    clock: Callable[[], float] = time.monotonic,
) -> DrillReport:
    """Run one drill; the report says how far it got (`failed_step` None when all did)."""
    chosen = target or ctx.outputs.get("DrillTarget") or "topic"
    if chosen not in TARGETS:
        raise CliError(f"drill target must be one of {', '.join(TARGETS)}; got {chosen!r}")
    topic = ctx.output("DrillTopicArn" if chosen == "topic" else "CriticalTopicArn")
    drill_id = f"drill-{secrets.token_hex(6)}"
    report = DrillReport(drill_id=drill_id, target=chosen, topic=topic)
    watch = PageWatch(ctx, topic, drill_id)
    table = ctx.table()
    try:
        started = datetime.now(UTC)
        began = clock()
        detail = {"drill_id": drill_id, "target": chosen, "requested_by": requested_by}
        answer = ctx.client("events").put_events(
            Entries=[{"Source": SOURCE, "DetailType": DETAIL_TYPE, "Detail": json.dumps(detail)}]
        )
        if answer.get("FailedEntryCount"):
            entry = answer["Entries"][0]
            report.failed_step = f"the bus refused the drill event: {entry.get('ErrorMessage')}"
            return report
        report.steps.append("event accepted by the default bus")

        def left() -> float:
            return timeout - (clock() - began)

        item: dict[str, Any] | None = None
        while item is None and left() > 0:
            item = _find_incident(table, drill_id)
            if item is None:
                time.sleep(poll)
        if item is None:
            report.failed_step = (
                f"no incident opened within {timeout:g} s (the drill rule, ingest or the "
                "workflow did not run)"
            )
            return report
        report.incident_id = str(item["incident_id"])
        report.steps.append(f"incident {report.incident_id} opened")

        page: dict[str, Any] | None = None
        while page is None and left() > 0:
            page = watch.page_for(drill_id, min(left(), 1.0))
        if page is None:
            report.failed_step = f"no page within {timeout:g} s on {topic}"
            return report
        report.time_to_page_s = _since(started, page.get("Timestamp")) or round(clock() - began, 3)
        report.steps.append(f"paged: {page.get('Subject')}")

        checks = (
            ("diagnosed", "time_to_diagnostics_s", "no diagnostics"),
            ("postmortem", "time_to_postmortem_s", "no postmortem"),
        )
        for event, attribute, missing in checks:
            at = None
            while at is None and left() > 0:
                item = table.get_item(Key={"incident_id": report.incident_id}).get("Item") or {}
                at = _entry_at(item, event)
                if at is None:
                    time.sleep(poll)
            if at is None:
                if (
                    event == "postmortem"
                    and item
                    and item.get("status")
                    not in (
                        "RESOLVED",
                        "UNRESOLVED",
                    )
                ):
                    missing = "the drill did not resolve itself, no postmortem"
                report.failed_step = f"{missing} within {timeout:g} s"
                return report
            setattr(report, attribute, _since(started, at))
            report.steps.append(event)
        report.postmortem_uri = str(item.get("postmortem_uri")) if item else None
        return report
    finally:
        watch.close()


def drill_command(ctx: Context, timeout: float, target: str | None, as_json: bool) -> str:
    """Print the figures; raise DrillFailed (exit 1) naming the step that did not happen."""
    report = run_drill(ctx, timeout=timeout, target=target)
    text = json.dumps(asdict(report), indent=2) if as_json else report.text()
    if report.failed_step:
        raise DrillFailed(f"drill failed: {report.failed_step}\n{text}")
    return text
