"""AWS Health events (AWS Health User Guide, "AWS Health events Amazon EventBridge schema").

An open or upcoming issue or scheduled change opens an incident keyed by the Health event (per
account: event ARNs are not). An issue is AWS-side and holds its service and region, so
signals on that service and region fold into it. Every Health event is also stored as the
`health#` item docs/diagnostics.md describes; a closed one only updates that item (and the
timeline of its incident, if still open).
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import field

from incidents.correlation_keys import health_key, service_key
from incidents.model import Resource
from incidents.signal import Signal
from incidents.sources.envelope import AwsEvent, aws_time, invalid, key_hash, parse_event
from shared.records import NONEMPTY
from shared.timeutil import iso

SOURCE = "aws.health"
DETAIL_TYPE = "AWS Health Event"
CATEGORIES = ("issue", "scheduledChange")
OPENING_STATUSES = ("open", "upcoming")
HEALTH_ITEM_STATUS = "HEALTH_EVENT"
_MAX_ENTITIES = 100


class Description(msgspec.Struct, kw_only=True):
    language: str = "en_US"
    latestDescription: str = ""


class Entity(msgspec.Struct, kw_only=True):
    entityValue: str = ""
    status: str | None = None


class HealthDetail(msgspec.Struct, kw_only=True):
    eventArn: Annotated[str, NONEMPTY]
    service: Annotated[str, NONEMPTY]
    eventTypeCode: Annotated[str, NONEMPTY]
    eventTypeCategory: Annotated[str, NONEMPTY]
    statusCode: Annotated[str, NONEMPTY]
    eventScopeCode: str | None = None
    communicationId: str | None = None
    startTime: str | None = None
    endTime: str | None = None
    lastUpdatedTime: str | None = None
    eventRegion: str | None = None
    # AWS documents a list; some producers send one object.
    eventDescription: list[Description] | Description = field(default_factory=list)
    affectedEntities: list[Entity] = field(default_factory=list)
    affectedAccount: str | None = None
    page: str | None = None
    backupEvent: str | None = None


class HealthEvent(AwsEvent):
    detail: HealthDetail


def latest_description(detail: HealthDetail) -> str:
    """The en_US description when there is one, else the first."""
    found = detail.eventDescription
    items = found if isinstance(found, list) else [found]
    english = [d for d in items if d.language.lower().startswith("en")]
    chosen = (english or items)[:1]
    return chosen[0].latestDescription if chosen else ""


def _entity_resource(value: str) -> Resource | None:
    if value.startswith("arn:"):
        return Resource(type="AWS::ARN", id=value[:2048])
    if value.startswith("i-"):
        return Resource(type="AWS::EC2::Instance", id=value[:2048])
    return None


def health_item_id(account: str, event_arn: str) -> str:
    """`health#<16 hex of sha256(account|eventArn)>` (docs/diagnostics.md)."""
    return "health#" + key_hash(f"{account}|{event_arn}")


def _time(value: str | None, fallback: str) -> str:
    return iso(aws_time(value)) if value else fallback


def health_item(parsed: HealthEvent, account: str, region: str) -> dict[str, Any]:
    """The stored Health item diagnostics reads when the Health API is not available."""
    detail = parsed.detail
    notified = iso(parsed.time)
    start = _time(detail.startTime, notified)
    item: dict[str, Any] = {
        "incident_id": health_item_id(account, detail.eventArn),
        "status": HEALTH_ITEM_STATUS,
        "opened_at": start,
        "kind": "health_event",
        "account": account,
        "region": region,
        "event_arn": detail.eventArn,
        "service": detail.service,
        "event_type_code": detail.eventTypeCode,
        "event_type_category": detail.eventTypeCategory,
        "status_code": detail.statusCode,
        "start_time": start,
        "last_updated": _time(detail.lastUpdatedTime, notified),
        "description": latest_description(detail)[:4000],
        "affected_entities": [e.entityValue for e in detail.affectedEntities if e.entityValue][
            :_MAX_ENTITIES
        ],
    }
    if detail.endTime:
        item["end_time"] = _time(detail.endTime, notified)
    return item


def parse(event: Any) -> Signal:
    """A Health issue or scheduled change; the item to store travels in `record`."""
    parsed = parse_event(event, HealthEvent, "malformed AWS Health event")
    detail = parsed.detail
    if detail.eventTypeCategory not in CATEGORIES:
        raise invalid("AWS Health event category not handled", f"{detail.eventTypeCategory!r}")
    account = detail.affectedAccount or parsed.account or "-"
    region = detail.eventRegion or parsed.region or "global"
    try:
        record = health_item(parsed, account, region)
    except ValueError as exc:
        raise invalid("malformed AWS Health event", exc) from exc
    issue = detail.eventTypeCategory == "issue"
    resources = [
        r for r in (_entity_resource(e.entityValue) for e in detail.affectedEntities) if r
    ][:_MAX_ENTITIES]
    return Signal(
        kind="health",
        title=(
            f"AWS Health {detail.eventTypeCategory} ({detail.statusCode}): {detail.service} "
            f"{detail.eventTypeCode} in {region}"
        )[:256],
        description=latest_description(detail)[:4096],
        source=SOURCE,
        category=detail.eventTypeCategory,
        occurred_at=parsed.time,
        signal_key="|".join(
            (
                account,
                detail.eventArn,
                detail.statusCode,
                record["last_updated"],
                detail.communicationId or "",
            )
        ),
        state_value=detail.statusCode,
        resources=resources,
        account=account,
        region=region,
        correlation_key=health_key(account, detail.eventArn),
        service_keys=[service_key(account, region, detail.service)] if issue else [],
        opens_incident=detail.statusCode in OPENING_STATUSES,
        aws_side=issue,
        record=record,
    )
