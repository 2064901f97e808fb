"""AWS Health: open (or recently updated) events for the affected services and regions.

The Health API lives in us-east-1 and answers only accounts with a Business, Enterprise
On-Ramp or Enterprise support plan; others get SubscriptionRequiredException. Then the source
falls back to the Health events stored in the incidents table from EventBridge (which every
account receives) and says so in its finding: `summary["via"]` is "stored events" and the message
starts with API_UNREAD and gives the reason. The verdict and the postmortem read that
(`read_from_stored_events`) so neither passes off "no issue among the stored events" as "AWS
Health shows no issue".

Stored Health item (written by ingest once it handles `aws.health` events; read here):
    incident_id  "health#<16 hex of sha256(account|eventArn)>"   status  "HEALTH_EVENT"
    opened_at    event start time, ISO-8601 UTC "Z" (the by_status index's sort key)
    kind "health_event", account, region, event_arn, service, event_type_code,
    event_type_category, status_code (open|closed|upcoming), start_time, end_time?,
    last_updated, description, affected_entities [str]
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from diagnostics.finding import AWS, OK, Cause, Finding, finding_from_client_error
from diagnostics.paging import Deadline, batches, paginate
from diagnostics.targets import Targets
from shared.errors import error_code
from shared.timeutil import iso, parse_time

SOURCE = "health"
HEALTH_REGION = "us-east-1"
STORED_STATUS = "HEALTH_EVENT"
# DescribeEventDetails takes at most 10 event ARNs per call.
DETAILS_BATCH = 10
# An event that started this long before the window can still be open.
STORED_LOOKBACK = timedelta(days=14)
_SUBSCRIPTION = "SubscriptionRequiredException"
VIA_API = "health api"
VIA_STORED = "stored events"
# How the fallback's message begins: recognisable even where a summary kept only the message.
API_UNREAD = "the AWS Health API could not be read"


def _event_record(event: dict[str, Any]) -> dict[str, Any]:
    """Health API events and stored items, in one shape."""
    return {
        "arn": event.get("arn") or event.get("event_arn", ""),
        "service": event.get("service", ""),
        "type": event.get("eventTypeCode") or event.get("event_type_code", ""),
        "category": event.get("eventTypeCategory") or event.get("event_type_category", ""),
        "region": event.get("region", ""),
        "status": event.get("statusCode") or event.get("status_code", ""),
        "start": _time(event.get("startTime") or event.get("start_time")),
        "end": _time(event.get("endTime") or event.get("end_time")),
        "description": str(event.get("description", ""))[:1000],
        "entities": list(event.get("affected_entities", [])),
    }


def _time(value: Any) -> str | None:
    return iso(parse_time(value)) if value else None


def overlaps(event: dict[str, Any], since: datetime | None) -> bool:
    """Whether an event can explain the incident: open, or closed no earlier than the window's
    start (an issue AWS closed before the incident began did not cause it, though a later
    update to it still shows up in DescribeEvents' lastUpdatedTimes)."""
    if event["status"] == "open" or since is None or not event["end"]:
        return True
    return bool(event["end"] >= iso(since))


def causes_for(
    events: list[dict[str, Any]], resources: list[str], since: datetime | None = None
) -> list[Cause]:
    """Issues (not notifications) open during the window are the AWS-side evidence; open ones
    are ongoing."""
    causes = []
    for event in events:
        if event["category"] != "issue" or not overlaps(event, since):
            continue
        hit = [r for r in resources if any(r in e for e in event["entities"])]
        scope = (
            f"{len(hit)} of {len(resources)} incident resources named by AWS"
            if hit
            else f"{event['service']} in {event['region']}"
        )
        causes.append(
            Cause(
                f"health.{event['type'] or 'issue'}",
                AWS,
                f"AWS Health {event['status']} issue: {event['service']} {event['type']} "
                f"in {event['region']}",
                "Follow the event in the AWS Health Dashboard; fail over to another AZ or "
                "region if the event's description says the impact continues.",
                scope,
                [event["arn"], *hit],
                [event["description"][:300]] if event["description"] else [],
                ongoing=event["status"] == "open",
                started_at=event["start"],
            )
        )
    return causes


def read_from_stored_events(summary: dict[str, Any], message: str) -> bool:
    """Whether a Health finding came from the fallback, i.e. the Health API was not read."""
    return summary.get("via") == VIA_STORED or message.startswith(API_UNREAD)


def _not_offered(error: ClientError) -> bool:
    """An endpoint without the Health API at all (the local emulator answers 404)."""
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return bool(status == 404)


class StoredHealthEvents:
    """Health events the ingest stored from EventBridge (the fallback)."""

    def __init__(self, table: Any | None) -> None:
        self._table = table

    def events(self, account: str | None, region: str, since: datetime) -> list[dict[str, Any]]:
        if self._table is None:
            return []
        kwargs: dict[str, Any] = {
            "IndexName": "by_status",
            "KeyConditionExpression": Key("status").eq(STORED_STATUS)
            & Key("opened_at").gte(iso(since - STORED_LOOKBACK)),
        }
        items: list[dict[str, Any]] = []
        while True:
            page = self._table.query(**kwargs)
            items += page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return [
            i
            for i in items
            if (not account or i.get("account") in (None, account))
            and i.get("region") in (region, "global")
            and (i.get("status_code") == "open" or str(i.get("end_time", "")) >= iso(since))
        ]


class HealthSource:
    """Reads AWS Health through an injected (us-east-1) client, or the stored events."""

    def __init__(self, health: Any, stored: StoredHealthEvents) -> None:
        self._health = health
        self._stored = stored

    def collect(
        self,
        targets: Targets,
        account: str | None,
        region: str,
        start: datetime,
        deadline: Deadline,
        resources: list[str],
    ) -> list[Finding]:
        target = f"{', '.join(targets.health_services) or 'all services'} in {region}"
        event_filter: dict[str, Any] = {
            "regions": [region, "global"],
            "eventStatusCodes": ["open", "closed"],
            "lastUpdatedTimes": [{"from": start}],
        }
        if targets.health_services:
            event_filter["services"] = targets.health_services
        try:
            raw = paginate(
                self._health, "describe_events", "events", deadline, filter=event_filter
            ).items
            events = [_event_record(e) for e in raw]
            self._describe(events)
        except ClientError as exc:
            if error_code(exc) == _SUBSCRIPTION or _not_offered(exc):
                return [self._fallback(target, account, region, start, resources, exc)]
            return [finding_from_client_error(SOURCE, target, exc)]
        causes = causes_for(events, resources, start)
        open_events = [e for e in events if e["status"] == "open"]
        message = (
            f"{len(open_events)} open AWS Health events ({len(causes)} issues)"
            if events
            else "no AWS Health events for these services"
        )
        summary = {"via": VIA_API, "events": len(events), "open": len(open_events)}
        return [Finding(SOURCE, target, OK, message, summary, {"events": events}, causes)]

    def _describe(self, events: list[dict[str, Any]]) -> None:
        by_arn = {e["arn"]: e for e in events}
        for batch in batches(list(by_arn), DETAILS_BATCH):
            details = self._health.describe_event_details(eventArns=batch)
            for item in details.get("successfulSet", []):
                arn = item.get("event", {}).get("arn", "")
                text = item.get("eventDescription", {}).get("latestDescription", "")
                if arn in by_arn:
                    by_arn[arn]["description"] = text[:1000]

    def _fallback(
        self,
        target: str,
        account: str | None,
        region: str,
        start: datetime,
        resources: list[str],
        error: ClientError,
    ) -> Finding:
        why = (
            f"it needs a Business, Enterprise On-Ramp or Enterprise support plan ({_SUBSCRIPTION})"
            if error_code(error) == _SUBSCRIPTION
            else f"it is not offered here ({error_code(error)})"
        )
        try:
            stored = [_event_record(i) for i in self._stored.events(account, region, start)]
        except ClientError as exc:
            failed = finding_from_client_error(SOURCE, target, exc)
            failed.message = f"{API_UNREAD} ({why}), nor the stored events: {failed.message}"
            return failed
        message = (
            f"{API_UNREAD}: {why}; read {len(stored)} Health events stored from EventBridge instead"
        )
        summary = {
            "via": VIA_STORED,
            "events": len(stored),
            "open": sum(1 for e in stored if e["status"] == "open"),
        }
        return Finding(
            SOURCE,
            target,
            OK,
            message,
            summary,
            {"events": stored},
            causes_for(stored, resources, start),
        )
