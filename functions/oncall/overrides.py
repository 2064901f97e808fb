"""Rotation overrides, added at run time (`runbook oncall override add`), kept in DynamoDB.

Table: partition key `rotation` (S), sort key `override_id` (S); attributes contact, start,
end (ISO-8601 UTC), created_at, created_by, and `expires_at` (epoch seconds, the table's TTL:
a week after the override ends, so recent ones stay visible to postmortems). An override id
sorts by creation ("ov-" + the creation millisecond in Crockford base32 + randomness), so one
rotation's Query returns them in the order they were added, which is the order of precedence.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from boto3.dynamodb.conditions import Attr, Key

from oncall.declaration import ID, ResponseConfig
from oncall.rotation import Override
from shared.errors import transient_errors
from shared.records import read_item
from shared.timeutil import iso

RETAIN_AFTER_END = timedelta(days=7)
_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"  # ascending: text order is numeric order


# `OverrideStore.list` shadows the builtin inside the class: its annotations use this.
OverrideList = list[Override]


class OverrideError(ValueError):
    """An override that cannot be: the message names the field."""


class OverrideNotFound(OverrideError):
    """No override with that id in that rotation."""


def _base32(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, digit = divmod(number, 32)
        digits.append(_CROCKFORD[digit])
    return "".join(reversed(digits))


def new_override_id(now: datetime) -> str:
    """`ov-` + 10 characters of creation time (ms) + 8 random: sorts by creation."""
    millis = int(_utc(now, "now").timestamp() * 1000)
    return "ov-" + _base32(millis, 10) + _base32(secrets.randbits(40), 8)


def _utc(moment: datetime, field: str) -> datetime:
    if not isinstance(moment, datetime):
        raise OverrideError(f"{field}: expected a datetime, got {type(moment).__name__}")
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def check_override(config: ResponseConfig, rotation: str, contact: str) -> None:
    """OverrideError unless the rotation and the contact are declared (for the CLI)."""
    if rotation not in config.rotations:
        known = ", ".join(sorted(config.rotations)) or "none declared"
        raise OverrideError(f"rotation: unknown rotation {rotation!r} (known: {known})")
    if contact not in config.contacts:
        known = ", ".join(sorted(config.contacts)) or "none declared"
        raise OverrideError(f"contact: unknown contact {contact!r} (known: {known})")


def _item(override: Override) -> dict[str, Any]:
    ends = datetime.fromisoformat(override.end.replace("Z", "+00:00"))
    return {
        "rotation": override.rotation,
        "override_id": override.override_id,
        "contact": override.contact,
        "start": override.start,
        "end": override.end,
        "created_at": override.created_at,
        "created_by": override.created_by,
        "expires_at": int((ends + RETAIN_AFTER_END).timestamp()),
    }


def _read(item: Any) -> Override:
    return read_item(Override, item, "override item", error=OverrideError)


class OverrideStore:
    """Overrides in their table (a boto3 DynamoDB Table resource, injectable)."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def add(
        self,
        rotation: str,
        contact: str,
        start: datetime,
        end: datetime,
        *,
        by: str,
        now: datetime,
    ) -> Override:
        """Store a new override (naive datetimes are UTC); it wins over every earlier one."""
        for field, value in (("rotation", rotation), ("contact", contact)):
            if not isinstance(value, str) or not ID.fullmatch(value):
                raise OverrideError(f"{field}: {value!r} is not an id ([a-z0-9][a-z0-9_-]{{0,62}})")
        begins, ends = _utc(start, "start"), _utc(end, "end")
        if ends <= begins:
            raise OverrideError(f"end: {iso(ends)} is not after start {iso(begins)}")
        override = Override(
            override_id=new_override_id(now),
            rotation=rotation,
            contact=contact,
            start=iso(begins),
            end=iso(ends),
            created_at=iso(_utc(now, "now")),
            created_by=by,
        )
        return self.put(override)

    def put(self, override: Override) -> Override:
        """Store `override` as it is (an import keeps its ids); replaces one with its id."""
        with transient_errors("DynamoDB PutItem"):
            self._table.put_item(Item=_item(override))
        return override

    def _query(self, rotation: str, condition: Any | None) -> OverrideList:
        request: dict[str, Any] = {
            "KeyConditionExpression": Key("rotation").eq(rotation),
            "ConsistentRead": True,
        }
        if condition is not None:
            request["FilterExpression"] = condition
        return self._pages(self._table.query, request, "DynamoDB Query")

    def _pages(self, call: Any, request: dict[str, Any], what: str) -> OverrideList:
        found: OverrideList = []
        while True:
            with transient_errors(what):
                page = call(**request)
            found += [_read(item) for item in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return found
            request = {**request, "ExclusiveStartKey": page["LastEvaluatedKey"]}

    def list(
        self, rotation: str | None = None, *, ending_after: datetime | None = None
    ) -> OverrideList:
        """One rotation's overrides (or every rotation's), in order of creation within a
        rotation; with `ending_after`, only those that end after it."""
        condition = None
        if ending_after is not None:
            condition = Attr("end").gt(iso(_utc(ending_after, "ending_after")))
        if rotation is not None:
            return self._query(rotation, condition)
        request: dict[str, Any] = {"ConsistentRead": True}
        if condition is not None:
            request["FilterExpression"] = condition
        found = self._pages(self._table.scan, request, "DynamoDB Scan")
        return sorted(found, key=lambda o: (o.rotation, o.override_id))

    def remove(self, rotation: str, override_id: str) -> Override:
        """Delete one override and return it; OverrideNotFound when there is none."""
        with transient_errors("DynamoDB DeleteItem"):
            found = self._table.delete_item(
                Key={"rotation": rotation, "override_id": override_id}, ReturnValues="ALL_OLD"
            )
        item = found.get("Attributes")
        if not item:
            raise OverrideNotFound(f"rotation {rotation} has no override {override_id}")
        return _read(item)

    def for_rotations(self, rotations: Iterable[str], *, at: datetime) -> dict[str, OverrideList]:
        """The overrides of each rotation that have not ended at `at` (every rotation asked
        for is a key, with an empty list when it has none)."""
        condition = Attr("end").gt(iso(_utc(at, "at")))
        return {rotation: self._query(rotation, condition) for rotation in dict.fromkeys(rotations)}
