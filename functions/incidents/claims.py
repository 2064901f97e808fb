"""Claims: which incident currently holds a correlation, fold or service key.

A claim is one table item, `claim#<16 hex of sha256(key)>`, whose `current` names an incident.
Every change is a compare-and-swap on `current`, so of two deliveries that race for the same
key exactly one wins and the other re-reads and joins. No transactions: single-item
conditional writes are all the protocol needs (and all moto serialises faithfully).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import msgspec
from botocore.exceptions import ClientError

from incidents.sources.envelope import key_hash
from shared.errors import error_code, reraise_transient, transient_errors
from shared.timeutil import iso, parse_time, wallnow

CLAIM_PREFIX = "claim#"
# A claim whose incident is not written yet is "being opened" for this long, then stale (a
# lease on the machine's clock: `claimed_at` is wallnow(), also during a replay).
PENDING_FOR = timedelta(seconds=10)


class Claim(msgspec.Struct, kw_only=True, frozen=True):
    key: str
    current: str | None
    claimed_at: str | None

    def pending(self, now: datetime) -> bool:
        """Claimed so recently that its incident may still be being written."""
        if not self.claimed_at:
            return False
        return now - parse_time(self.claimed_at) < PENDING_FOR


def claim_id(key: str) -> str:
    return CLAIM_PREFIX + key_hash(key)


class ClaimStore:
    """Reads and compare-and-swaps claims in the incidents table."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def read(self, key: str) -> Claim:
        with transient_errors("DynamoDB GetItem"):
            item = self._table.get_item(Key={"incident_id": claim_id(key)}, ConsistentRead=True)
        found = item.get("Item") or {}
        current = found.get("current")
        return Claim(
            key=key, current=str(current) if current else None, claimed_at=found.get("claimed_at")
        )

    def swap(self, key: str, new: str | None, seen: str | None) -> bool:
        """Set `current` to `new` (None: release) if it is still `seen`; False if not."""
        names = {"#c": "current"}
        values: dict[str, Any] = {}
        if seen is None:
            condition = "attribute_not_exists(#c)"
        else:
            condition = "#c = :seen"
            values[":seen"] = seen
        if new is None:
            update = "REMOVE #c"
        else:
            update = "SET #c = :new, claimed_at = :at, #k = :key, kind = :kind"
            names["#k"] = "key"
            values.update(
                {":new": new, ":at": iso(wallnow()), ":key": key[:1024], ":kind": "claim"}
            )
        try:
            self._table.update_item(
                Key={"incident_id": claim_id(key)},
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                **({"ExpressionAttributeValues": values} if values else {}),
            )
            return True
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            reraise_transient(exc, "DynamoDB UpdateItem")
            raise
