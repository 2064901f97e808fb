"""The remediation record and its decision token on the incident item, written with the
conditions that keep one decision per proposal: a token is stored only while nothing is
decided, and a decision is recorded only once (and only by whoever holds the token it
names, when the workflow is already waiting)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from incidents.repository import IncidentRepository
from remediation.record import RemediationRecord, encode
from shared.errors import error_code, transient_errors
from shared.timeutil import now_iso

_UNDECIDED = "attribute_exists(incident_id) AND attribute_not_exists(#r.#d)"


class RemediationStore:
    """Reads and writes `remediation` / `remediation_token` on the incidents table."""

    def __init__(self, table: Any) -> None:
        self._table = table
        self.incidents = IncidentRepository(table)

    def save(self, incident_id: str, record: RemediationRecord, event: str, detail: str) -> None:
        """Replace the record, with a timeline entry."""
        self.incidents.update(incident_id, {"remediation": encode(record)}, event, detail[:500])

    def store_token(self, incident_id: str, token: str) -> bool:
        """Keep the decision's task token unless a decision is already recorded (False)."""
        return self._write(
            incident_id,
            UpdateExpression="SET remediation_token = :t, updated_at = :u",
            ConditionExpression=_UNDECIDED,
            ExpressionAttributeNames={"#r": "remediation", "#d": "decision"},
            ExpressionAttributeValues={":t": token, ":u": now_iso()},
        )

    def record_decision(
        self,
        incident_id: str,
        record: RemediationRecord,
        token: str | None,
        event: str,
        detail: str,
    ) -> bool:
        """Record the (first) decision and take the token: False if someone decided first
        or the token changed since it was read."""
        held = "remediation_token = :t" if token else "attribute_not_exists(remediation_token)"
        condition = f"{_UNDECIDED} AND {held}"
        now = now_iso()
        values: dict[str, Any] = {
            ":r": encode(record),
            ":u": now,
            ":empty": [],
            ":entry": [{"at": now, "event": event, "detail": detail[:500]}],
        }
        if token:
            values[":t"] = token
        return self._write(
            incident_id,
            UpdateExpression=(
                "SET #r = :r, updated_at = :u, #tl = list_append(if_not_exists(#tl, :empty), "
                ":entry) REMOVE remediation_token"
            ),
            ConditionExpression=condition,
            ExpressionAttributeNames={"#r": "remediation", "#d": "decision", "#tl": "timeline"},
            ExpressionAttributeValues=values,
        )

    def _write(self, incident_id: str, **kwargs: Any) -> bool:
        try:
            with transient_errors("DynamoDB UpdateItem"):
                self._table.update_item(Key={"incident_id": incident_id}, **kwargs)
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True
