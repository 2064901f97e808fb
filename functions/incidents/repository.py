"""Incident records in DynamoDB, including the conditional writes of the token protocol.

Works over a boto3 DynamoDB `Table` resource so tests can hand in a moto-backed one. Every
write that must not race is a single conditional expression (docs/contracts.md, "Recovery").
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import msgspec
from botocore.exceptions import ClientError

from incidents.model import OPEN_STATUSES, Incident, RecoverySignal, Status, TimelineEntry
from shared.errors import IncidentNotFound, error_code, reraise_transient, transient_errors
from shared.timeutil import now_iso

_CONDITION_FAILED = "ConditionalCheckFailedException"
# DynamoDB items are at most 400 KB; keep a raw event well below that.
_MAX_RAW_EVENT_CHARS = 300_000


def _conditional(error: ClientError) -> bool:
    """True when a condition failed (an expected race), else re-raise as the right error."""
    if error_code(error) == _CONDITION_FAILED:
        return True
    reraise_transient(error, "DynamoDB")
    raise error


class IncidentRepository:
    """Read and write incident records; the table key is `incident_id`."""

    def __init__(self, table: Any) -> None:
        self._table = table

    # -- reads ---------------------------------------------------------------------------
    def find(self, incident_id: str) -> Incident | None:
        """The incident, or None (strongly consistent: the token protocol depends on it)."""
        with transient_errors("DynamoDB GetItem"):
            item = self._table.get_item(Key={"incident_id": incident_id}, ConsistentRead=True)
        found = item.get("Item")
        return Incident.from_item(found) if found else None

    def get(self, incident_id: str) -> Incident:
        """The incident, or IncidentNotFound."""
        incident = self.find(incident_id)
        if incident is None:
            raise IncidentNotFound(f"no incident {incident_id!r}")
        return incident

    def find_open_by_alarm(self, alarm_arn: str) -> Incident | None:
        """The newest OPEN/MONITORING incident opened by this alarm (GSI by_alarm)."""
        for item in self._query(
            IndexName="by_alarm",
            KeyConditionExpression="alarm_arn = :a",
            ExpressionAttributeValues={":a": alarm_arn},
            ScanIndexForward=False,
        ):
            incident = self._hydrate(item)
            if incident and incident.status in OPEN_STATUSES:
                return incident
        return None

    def list(self, status: Status | None = None, limit: int = 50) -> list[Incident]:
        """Newest first: by status through GSI by_status, or every incident (a scan)."""
        if status:
            items: Iterator[dict[str, Any]] = self._query(
                IndexName="by_status",
                KeyConditionExpression="#s = :s",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":s": status},
                ScanIndexForward=False,
            )
        else:
            items = self._scan()
        found: list[Incident] = []
        for item in items:
            # Not incidents: `error#`, `health#` and `claim#` items (docs/contracts.md).
            if "#" in str(item.get("incident_id", "")):
                continue
            incident = self._hydrate(item)
            if incident:
                found.append(incident)
            if status and len(found) >= limit:
                break
        found.sort(key=lambda i: i.opened_at, reverse=True)
        return found[:limit]

    # -- writes --------------------------------------------------------------------------
    def create_if_absent(self, incident: Incident) -> tuple[Incident, bool]:
        """Put the record unless it exists; returns (the stored incident, created?)."""
        try:
            self._table.put_item(
                Item=incident.to_item(), ConditionExpression="attribute_not_exists(incident_id)"
            )
            return incident, True
        except ClientError as exc:
            _conditional(exc)
        return self.get(incident.incident_id), False

    def update(
        self,
        incident_id: str,
        fields: dict[str, Any],
        event: str = "",
        detail: str = "",
        remove: tuple[str, ...] = (),
        run: str | None = None,
    ) -> bool:
        """SET `fields`, REMOVE `remove` and append a timeline entry, on an existing incident.

        With `run` (an execution ARN) only while that run is the incident's current one: a run
        that finishes after its incident was reopened (a newer run owns it) changes nothing and
        gets False, so closing an incident never undoes a reopen."""
        names: dict[str, str] = {"#u": "updated_at"}
        values: dict[str, Any] = {":u": now_iso()}
        sets = ["#u = :u"]
        for i, (field, value) in enumerate(fields.items()):
            names[f"#f{i}"] = field
            values[f":f{i}"] = value
            sets.append(f"#f{i} = :f{i}")
        if event:
            entry = TimelineEntry(at=values[":u"], event=event, detail=detail)
            names["#tl"] = "timeline"
            values[":entry"] = [msgspec.to_builtins(entry)]
            values[":empty"] = []
            sets.append("#tl = list_append(if_not_exists(#tl, :empty), :entry)")
        expression = "SET " + ", ".join(sets)
        if remove:
            expression += " REMOVE " + ", ".join(remove)
        condition = "attribute_exists(incident_id)"
        if run:
            condition += " AND (attribute_not_exists(execution_arn) OR execution_arn = :run)"
            values[":run"] = run
        return self._write(
            incident_id,
            UpdateExpression=expression,
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            missing_ok=False,
        )

    def set_classification(
        self, incident_id: str, severity: str, rule: str, execution_arn: str, seen_rule: str
    ) -> bool:
        """Record classify's decision unless the severity rule changed since it was read
        (a more severe signal joined meanwhile); False then, so classify re-reads."""
        now = now_iso()
        return self._write(
            incident_id,
            UpdateExpression=(
                "SET #sev = :sev, severity_rule = :rule, execution_arn = :arn, updated_at = :u, "
                "#tl = list_append(if_not_exists(#tl, :empty), :entry) "
                "REMOVE upgrade_page_pending"  # classify pages at this severity itself
            ),
            ConditionExpression="attribute_exists(incident_id) AND severity_rule = :seen",
            ExpressionAttributeNames={"#sev": "severity", "#tl": "timeline"},
            ExpressionAttributeValues={
                ":sev": severity,
                ":rule": rule,
                ":arn": execution_arn,
                ":u": now,
                ":seen": seen_rule,
                ":empty": [],
                ":entry": [_entry(now, "classified", f"{severity} ({rule})")],
            },
            missing_ok=False,
        )

    def store_token(self, incident_id: str, token: str) -> bool:
        """Store the task token unless an OK already arrived (then False: resume at once)."""
        now = now_iso()
        return self._write(
            incident_id,
            UpdateExpression=(
                "SET task_token = :t, #s = :m, updated_at = :u, "
                "#tl = list_append(if_not_exists(#tl, :empty), :entry)"
            ),
            ConditionExpression=(
                "attribute_exists(incident_id) AND attribute_not_exists(recovery_signal)"
            ),
            ExpressionAttributeNames={"#s": "status", "#tl": "timeline"},
            ExpressionAttributeValues={
                ":t": token,
                ":m": "MONITORING",
                ":u": now,
                ":empty": [],
                ":entry": [_entry(now, "monitoring", "waiting for recovery")],
            },
        )

    def take_token(self, incident_id: str, token: str, resolution: RecoverySignal) -> bool:
        """Remove the token if it is still `token` and record the resolution; False on a lost
        race. An alarm OK (`recovered`) is recorded as `recovering` (confirmed later by the
        stabilisation check), an operator's resolve as resolved at once."""
        sets, values = _resolution(resolution)
        return self._write(
            incident_id,
            UpdateExpression=(
                f"REMOVE task_token SET {sets}, updated_at = :at, "
                "#tl = list_append(if_not_exists(#tl, :empty), :entry)"
            ),
            ConditionExpression="task_token = :t",
            ExpressionAttributeNames={"#tl": "timeline"},
            ExpressionAttributeValues={":t": token, **values, ":empty": []},
        )

    def take_token_for(self, incident_id: str, token: str, event: str, detail: str) -> bool:
        """Remove the token if it is still `token`, recording why (an operator's escalation);
        False on a lost race."""
        now = now_iso()
        return self._write(
            incident_id,
            UpdateExpression=(
                "REMOVE task_token SET updated_at = :u, "
                "#tl = list_append(if_not_exists(#tl, :empty), :entry)"
            ),
            ConditionExpression="task_token = :t",
            ExpressionAttributeNames={"#tl": "timeline"},
            ExpressionAttributeValues={
                ":t": token,
                ":u": now,
                ":empty": [],
                ":entry": [_entry(now, event, detail)],
            },
        )

    def restore_token(self, incident_id: str, token: str) -> bool:
        """Undo `take_token` when SendTaskSuccess failed transiently, so a retry can resume."""
        return self._write(
            incident_id,
            UpdateExpression=(
                "SET task_token = :t REMOVE resolved_at, resolved_by, resolution_note, recovering"
            ),
            ConditionExpression="attribute_not_exists(task_token)",
            ExpressionAttributeValues={":t": token},
        )

    def record_recovery_signal(self, incident_id: str, signal: RecoverySignal) -> bool:
        """Record an OK that arrived before the token; False if a token (or signal) is there."""
        sets, values = _resolution(signal, event="recovery signal")
        return self._write(
            incident_id,
            UpdateExpression=(
                f"SET recovery_signal = :sig, {sets}, updated_at = :at, "
                "#tl = list_append(if_not_exists(#tl, :empty), :entry)"
            ),
            ConditionExpression=(
                "attribute_exists(incident_id) AND attribute_not_exists(task_token) "
                "AND attribute_not_exists(recovery_signal) AND NOT #s IN (:r, :x)"
            ),
            ExpressionAttributeNames={"#s": "status", "#tl": "timeline"},
            ExpressionAttributeValues={
                ":sig": msgspec.to_builtins(signal),
                **values,
                ":r": "RESOLVED",
                ":x": "UNRESOLVED",
                ":empty": [],
            },
        )

    def clear_upgrade_page(self, incident_id: str, severity: str) -> bool:
        """The upgrade's page went out: forget it (only if no newer upgrade is pending)."""
        now = now_iso()
        return self._write(
            incident_id,
            UpdateExpression=(
                "REMOVE upgrade_page_pending SET updated_at = :u, "
                "#tl = list_append(if_not_exists(#tl, :empty), :entry)"
            ),
            ConditionExpression="upgrade_page_pending = :sev",
            ExpressionAttributeNames={"#tl": "timeline"},
            ExpressionAttributeValues={
                ":sev": severity,
                ":u": now,
                ":empty": [],
                ":entry": [_entry(now, "paged", f"{severity} (severity upgraded)")],
            },
        )

    # -- acknowledgement, escalation, stabilisation ----------------------------------------
    def acknowledge(self, incident_id: str, by: str, note: str) -> bool:
        """Record the first acknowledgement of an open incident; False if it is closed or was
        acknowledged already (the caller re-reads to say which)."""
        now = now_iso()
        return self._write(
            incident_id,
            UpdateExpression=(
                "SET acknowledged_at = :at, acknowledged_by = :by, acknowledgement_note = :note, "
                "updated_at = :at, #tl = list_append(if_not_exists(#tl, :empty), :entry)"
            ),
            ConditionExpression=(
                "attribute_exists(incident_id) AND attribute_not_exists(acknowledged_at) "
                "AND attribute_not_exists(resolved_at) AND #s IN (:o, :m)"
            ),
            ExpressionAttributeNames={"#s": "status", "#tl": "timeline"},
            ExpressionAttributeValues={
                ":at": now,
                ":by": by,
                ":note": note,
                ":o": "OPEN",
                ":m": "MONITORING",
                ":empty": [],
                ":entry": [_entry(now, "acknowledged", f"by {by}" + (f": {note}" if note else ""))],
            },
            missing_ok=False,
        )

    def record_escalation(
        self, incident_id: str, *, timed_out: bool, paged: bool, detail: str
    ) -> Incident:
        """Count a timeout (the wait's token is spent: removed) and/or an escalation page;
        returns the incident as updated (ReturnValues ALL_NEW: the counts are exact)."""
        now = now_iso()
        adds = []
        values: dict[str, Any] = {":u": now, ":one": 1, ":empty": []}
        event = "escalated" if paged else "still open (acknowledged)"
        values[":entry"] = [_entry(now, event, detail)]
        sets = ["updated_at = :u", "#tl = list_append(if_not_exists(#tl, :empty), :entry)"]
        if timed_out:
            adds.append("timeout_count :one")
        if paged:
            adds.append("escalation_count :one")
            sets.append("last_escalated_at = :u")
        expression = "SET " + ", ".join(sets)
        if adds:
            expression += " ADD " + ", ".join(adds)
        if timed_out:
            expression += " REMOVE task_token"
        with transient_errors("DynamoDB UpdateItem"):
            try:
                answer = self._table.update_item(
                    Key={"incident_id": incident_id},
                    UpdateExpression=expression,
                    ConditionExpression="attribute_exists(incident_id)",
                    ExpressionAttributeNames={"#tl": "timeline"},
                    ExpressionAttributeValues=values,
                    ReturnValues="ALL_NEW",
                )
            except ClientError as exc:
                _conditional(exc)
                raise IncidentNotFound(f"no incident {incident_id!r}") from exc
        return Incident.from_item(answer["Attributes"])

    def confirm_recovery(self, incident_id: str, recovering: RecoverySignal, detail: str) -> bool:
        """The alarm stayed OK through stabilisation: the recovery becomes the resolution."""
        now = now_iso()
        return self._write(
            incident_id,
            UpdateExpression=(
                "SET resolved_at = :at, resolved_by = :by, resolution_note = :note, "
                "updated_at = :u, #tl = list_append(if_not_exists(#tl, :empty), :entry) "
                "REMOVE recovering"
            ),
            ConditionExpression=_UNRESOLVED,
            ExpressionAttributeNames={"#tl": "timeline"},
            ExpressionAttributeValues={
                ":at": recovering.at,
                ":by": recovering.by,
                ":note": recovering.note,
                ":u": now,
                ":empty": [],
                ":entry": [_entry(now, "recovered", detail)],
            },
        )

    def record_flap(self, incident_id: str, detail: str) -> bool:
        """The alarm fired again while stabilising: forget the recovery, count the flap, and
        let MonitorRecovery wait again (it stores a new token)."""
        now = now_iso()
        return self._write(
            incident_id,
            UpdateExpression=(
                "SET updated_at = :u, #tl = list_append(if_not_exists(#tl, :empty), :entry) "
                "ADD flap_count :one REMOVE recovering, recovery_signal"
            ),
            ConditionExpression=_UNRESOLVED,
            ExpressionAttributeNames={"#tl": "timeline"},
            ExpressionAttributeValues={
                ":u": now,
                ":one": 1,
                ":empty": [],
                ":entry": [_entry(now, "flapped", detail)],
            },
        )

    def drop_token(self, incident_id: str, token: str) -> bool:
        """Forget a token the workflow no longer waits on (seen by the recovery watch)."""
        return self._write(
            incident_id,
            UpdateExpression="REMOVE task_token",
            ConditionExpression="task_token = :t",
            ExpressionAttributeValues={":t": token},
        )

    def record_invalid_event(self, raw_event: Any, reason: str) -> str:
        """Keep an event we could not turn into an incident, so nothing is dropped silently."""
        raw = json.dumps(raw_event, sort_keys=True, default=str)
        key = "error#" + hashlib.sha256(raw.encode()).hexdigest()[:16]
        with transient_errors("DynamoDB PutItem"):
            self._table.put_item(
                Item={
                    "incident_id": key,
                    "kind": "invalid_event",
                    "reason": reason[:2000],
                    "received_at": now_iso(),
                    "raw_event": raw[:_MAX_RAW_EVENT_CHARS],
                }
            )
        return key

    # -- plumbing ------------------------------------------------------------------------
    def _write(self, incident_id: str, missing_ok: bool = True, **kwargs: Any) -> bool:
        try:
            self._table.update_item(Key={"incident_id": incident_id}, **kwargs)
            return True
        except ClientError as exc:
            _conditional(exc)
        if not missing_ok and self.find(incident_id) is None:
            raise IncidentNotFound(f"no incident {incident_id!r}")
        return False

    def _query(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        return self._pages(self._table.query, "DynamoDB Query", kwargs)

    def _scan(self) -> Iterator[dict[str, Any]]:
        return self._pages(self._table.scan, "DynamoDB Scan", {})

    @staticmethod
    def _pages(operation: Any, what: str, kwargs: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every item of a paginated Query or Scan, page by page (lazily)."""
        while True:
            with transient_errors(what):
                page = operation(**kwargs)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            kwargs = {**kwargs, "ExclusiveStartKey": page["LastEvaluatedKey"]}

    def _hydrate(self, item: dict[str, Any]) -> Incident | None:
        """Index items may be projected partially: fall back to the full record."""
        if "title" in item and "opened_at" in item and "status" in item:
            return Incident.from_item(item)
        return self.find(str(item["incident_id"]))


_UNRESOLVED = "attribute_exists(incident_id) AND attribute_not_exists(resolved_at)"


def _entry(at: str, event: str, detail: str) -> dict[str, str]:
    entry: dict[str, str] = msgspec.to_builtins(TimelineEntry(at=at, event=event, detail=detail))
    return entry


def _resolution(signal: RecoverySignal, event: str = "") -> tuple[str, dict[str, Any]]:
    """The SET clause and values that record a resolution: `recovering` for an alarm OK (the
    stabilisation check confirms it), the resolved_* fields for an operator's resolve."""
    values: dict[str, Any] = {":at": signal.at}
    if signal.status == "recovered":
        values[":rec"] = msgspec.to_builtins(signal)
        values[":entry"] = [_entry(signal.at, event or "recovering", f"by {signal.by}")]
        return "recovering = :rec", values
    values.update({":by": signal.by, ":note": signal.note})
    values[":entry"] = [_entry(signal.at, event or "resolved", f"by {signal.by}")]
    return "resolved_at = :at, resolved_by = :by, resolution_note = :note", values
