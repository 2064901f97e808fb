"""The incident-side writes of correlation, each one conditional UpdateItem/PutItem.

Join, reopen, upgrade and "start the workflow" are single-item conditions on the incident, so
concurrent deliveries cannot double-count a signal (`signal_ids`), reopen twice
(`reopen_count`), downgrade a severity, or start a workflow twice (`starting`).
"""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec
from botocore.exceptions import ClientError

from incidents.classification import less_severe_than
from incidents.model import Incident, Resource, Severity, TimelineEntry
from incidents.signal import PENDING_RULE
from shared.errors import error_code, reraise_transient, transient_errors
from shared.timeutil import iso, now_iso, wallnow

# Past these sizes a long storm only counts: the item stays far below DynamoDB's 400 KB.
TIMELINE_CAP = 200
SIGNAL_IDS_CAP = 1000

_OPEN = {":open": "OPEN", ":monitoring": "MONITORING"}
# An alarm that went OK (recovering / a pending `recovered` signal) is still open: it is
# being confirmed and may fire again. Resolutions always set resolved_at.
_IS_OPEN = "#s IN (:open, :monitoring) AND attribute_not_exists(resolved_at)"


def seen_key(signal_id: str) -> str:
    """The marker item of a signal counted past SIGNAL_IDS_CAP (`seen#<32 hex>`, not an
    incident: listings skip keys with `#`)."""
    return "seen#" + hashlib.sha256(signal_id.encode()).hexdigest()[:32]


def _lease() -> str:
    """When a delivery claimed starting a run: the machine's clock (a replay compresses the
    incident's, and the lease is about the delivery, not the history)."""
    return iso(wallnow())


def _entry(at: str, event: str, detail: str) -> list[dict[str, str]]:
    return [msgspec.to_builtins(TimelineEntry(at=at, event=event, detail=detail[:1000]))]


class CorrelationStore:
    """Conditional writes on incident items (and the stored AWS Health items)."""

    def __init__(self, table: Any) -> None:
        self._table = table

    # -- reads -----------------------------------------------------------------------------
    def seen(self, signal_id: str) -> bool:
        """Whether a signal was counted past the signal_ids cap (its marker item exists)."""
        return self.item(seen_key(signal_id)) is not None

    def item(self, incident_id: str) -> dict[str, Any] | None:
        with transient_errors("DynamoDB GetItem"):
            found = self._table.get_item(Key={"incident_id": incident_id}, ConsistentRead=True)
        item = found.get("Item")
        return dict(item) if item else None

    # -- writes ----------------------------------------------------------------------------
    def create(self, incident: Incident, signal_id: str, starting: str) -> bool:
        """Put a new incident that has absorbed `signal_id` and is about to start `starting`."""
        item = incident.to_item()
        item["signal_ids"] = {signal_id}
        item["starting"] = {"name": starting, "at": _lease()}
        try:
            self._table.put_item(Item=item, ConditionExpression="attribute_not_exists(incident_id)")
            return True
        except ClientError as exc:
            return _failed(exc, "DynamoDB PutItem")

    def join(
        self,
        incident_id: str,
        signal_id: str,
        *,
        at: str,
        event: str,
        detail: str,
        key: str,
        resources: list[Resource] | None = None,
        with_timeline: bool = True,
        with_ids: bool = True,
        require_open: bool = True,
    ) -> bool:
        """Count a signal into an open incident, once; False if closed, seen or capped.
        `require_open=False` keeps a late signal on a closed incident (without reopening it)."""
        now = now_iso()
        sets = [
            "signal_count = if_not_exists(signal_count, :zero) + :one",
            "last_signal_at = :at",
            "updated_at = :now",
        ]
        adds = ["correlation_keys :keys"]
        condition = [_IS_OPEN] if require_open else ["attribute_exists(incident_id)"]
        names = {"#s": "status"} if require_open else {}
        values: dict[str, Any] = {
            **(_OPEN if require_open else {}),
            ":zero": 0,
            ":one": 1,
            ":at": at,
            ":now": now,
            ":keys": {key[:1024]},
        }
        if with_timeline:
            sets.append("#tl = list_append(if_not_exists(#tl, :empty), :entry)")
            condition.append("(attribute_not_exists(#tl) OR size(#tl) < :tlcap)")
            names["#tl"] = "timeline"
            values.update(
                {":empty": [], ":entry": _entry(now, event, detail), ":tlcap": TIMELINE_CAP}
            )
        if with_ids:
            adds.append("signal_ids :sids")
            condition.append(
                "(attribute_not_exists(signal_ids) OR "
                "(NOT contains(signal_ids, :sid) AND size(signal_ids) < :idcap))"
            )
            values.update({":sids": {signal_id}, ":sid": signal_id, ":idcap": SIGNAL_IDS_CAP})
        if resources:
            sets.append("resources = list_append(if_not_exists(resources, :none), :res)")
            values.update({":none": [], ":res": msgspec.to_builtins(resources)})
        update = "SET " + ", ".join(sets) + " ADD " + ", ".join(adds)
        if not with_ids:
            return self._join_past_cap(
                incident_id, signal_id, update, " AND ".join(condition), names, values
            )
        return self._update(incident_id, update, " AND ".join(condition), names, values)

    def _join_past_cap(
        self,
        incident_id: str,
        signal_id: str,
        update: str,
        condition: str,
        names: dict[str, str],
        values: dict[str, Any],
    ) -> bool:
        """Past the signal_ids cap a signal is remembered by a marker item written in the same
        transaction as the count, so a redelivery is still a duplicate and never counted twice
        (and a failed count leaves no marker behind)."""
        # The table resource's client takes Python values (boto3 serialises them for it).
        table = self._table.name
        marker = {
            "incident_id": seen_key(signal_id),
            "kind": "seen_signal",
            "incident": incident_id,
            "signal_id": signal_id[:1024],
        }
        try:
            self._table.meta.client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": table,
                            "Item": marker,
                            "ConditionExpression": "attribute_not_exists(incident_id)",
                        }
                    },
                    {
                        "Update": {
                            "TableName": table,
                            "Key": {"incident_id": incident_id},
                            "UpdateExpression": update,
                            "ConditionExpression": condition,
                            "ExpressionAttributeValues": values,
                            **({"ExpressionAttributeNames": names} if names else {}),
                        }
                    },
                ]
            )
            return True
        except ClientError as exc:
            if error_code(exc) == "TransactionCanceledException":
                return False  # seen before, or closed: the caller re-reads to tell which
            reraise_transient(exc, "DynamoDB TransactWriteItems")
            raise

    def reopen(
        self, incident_id: str, signal_id: str, *, at: str, seen_reopens: int, detail: str
    ) -> bool:
        """Closed -> OPEN again, once per `reopen_count` (the winner starts the next run)."""
        now = now_iso()
        count = seen_reopens + 1
        seen = "attribute_not_exists(reopen_count)" if seen_reopens == 0 else "reopen_count = :seen"
        values: dict[str, Any] = {
            **_OPEN,
            ":one": 1,
            ":zero": 0,
            ":at": at,
            ":now": now,
            ":count": count,
            ":sids": {signal_id},
            ":sid": signal_id,
            ":empty": [],
            ":entry": _entry(now, "reopened", detail),
            ":starting": {"name": f"{incident_id}-r{count}", "at": _lease()},
        }
        if seen_reopens:
            values[":seen"] = seen_reopens
        return self._update(
            incident_id,
            "SET #s = :open, reopen_count = :count, last_signal_at = :at, updated_at = :now, "
            "signal_count = if_not_exists(signal_count, :zero) + :one, starting = :starting, "
            "#tl = list_append(if_not_exists(#tl, :empty), :entry) "
            "REMOVE resolved_at, resolved_by, resolution_note, recovery_signal, task_token, "
            "recovering, acknowledged_at, acknowledged_by, acknowledgement_note, timeout_count "
            "ADD signal_ids :sids",
            f"attribute_exists(incident_id) AND NOT ({_IS_OPEN}) AND {seen} "
            "AND (attribute_not_exists(signal_ids) OR NOT contains(signal_ids, :sid))",
            {"#s": "status", "#tl": "timeline"},
            values,
        )

    def upgrade(self, incident_id: str, severity: Severity, rule: str, detail: str) -> bool:
        """Raise the severity; the condition makes it a no-op if it is already as severe.

        Once classify has decided (its rule is on the record), a paging severity is also left
        as `upgrade_page_pending` in the same write, so the page it calls for survives a failed
        delivery (ingest sends it). Before classify has run, the upgrade only raises the
        severity: classify keeps the higher stored severity and the workflow pages at it, so
        paging here as well would page twice. Each write is conditional on which of the two it
        is, so classify finishing in between cannot lose the page or send it twice."""
        lower = less_severe_than(severity)
        if not lower:
            return False
        now = now_iso()
        lows = {f":l{i}": s for i, s in enumerate(lower)}
        values = {
            **lows,
            ":sev": severity,
            ":rule": rule[:500],
            ":now": now,
            ":pending": PENDING_RULE,
            ":empty": [],
            ":entry": _entry(now, "severity upgraded", f"{severity}: {detail}"),
        }
        base = (
            "SET #sev = :sev, severity_rule = :rule, updated_at = :now, "
            "#tl = list_append(if_not_exists(#tl, :empty), :entry)"
        )
        less_severe = f"attribute_exists(incident_id) AND #sev IN ({', '.join(lows)})"
        names = {"#sev": "severity", "#tl": "timeline"}
        for _ in range(2):  # classify may finish between the two conditions: look again once
            if self._update(
                incident_id,
                f"{base}, upgrade_page_pending = :sev",
                f"{less_severe} AND severity_rule <> :pending",
                names,
                values,
            ):
                return True
            if self._update(
                incident_id, base, f"{less_severe} AND severity_rule = :pending", names, values
            ):
                return True
        return False

    def mark_aws_side(self, incident_id: str, event_arn: str, detail: str) -> bool:
        """Mark an open incident AWS-side because of an open AWS Health issue (once per event)."""
        now = now_iso()
        return self._update(
            incident_id,
            "SET aws_side = :t, health_event_arn = :arn, updated_at = :now, "
            "#tl = list_append(if_not_exists(#tl, :empty), :entry)",
            f"attribute_exists(incident_id) AND {_IS_OPEN} "
            "AND (attribute_not_exists(health_event_arn) OR health_event_arn <> :arn)",
            {"#s": "status", "#tl": "timeline"},
            {
                **_OPEN,
                ":t": True,
                ":arn": event_arn,
                ":now": now,
                ":empty": [],
                ":entry": _entry(now, "AWS-side", detail),
            },
        )

    def claim_start(self, incident_id: str, name: str, stale_before: str) -> bool:
        """Take over starting execution `name` if nobody did, or the one who did went quiet."""
        return self._update(
            incident_id,
            "SET starting = :starting",
            "attribute_exists(incident_id) AND (attribute_not_exists(starting) "
            "OR starting.#n <> :name OR starting.#at < :stale)",
            {"#n": "name", "#at": "at"},
            {":starting": {"name": name, "at": _lease()}, ":name": name, ":stale": stale_before},
        )

    def put_health_item(self, item: dict[str, Any]) -> bool:
        """Store an AWS Health event unless a newer update of it is already stored."""
        try:
            self._table.put_item(
                Item=item,
                ConditionExpression="attribute_not_exists(last_updated) OR last_updated <= :lu",
                ExpressionAttributeValues={":lu": item["last_updated"]},
            )
            return True
        except ClientError as exc:
            return _failed(exc, "DynamoDB PutItem")

    def _update(
        self, incident_id: str, update: str, condition: str, names: dict[str, str], values: Any
    ) -> bool:
        try:
            self._table.update_item(
                Key={"incident_id": incident_id},
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
                # DynamoDB refuses an empty ExpressionAttributeNames.
                **({"ExpressionAttributeNames": names} if names else {}),
            )
            return True
        except ClientError as exc:
            return _failed(exc, "DynamoDB UpdateItem")


def _failed(error: ClientError, what: str) -> bool:
    """False for a failed condition (an expected race); transient errors retry; others raise."""
    if error_code(error) == "ConditionalCheckFailedException":
        return False
    reraise_transient(error, what)
    raise error
