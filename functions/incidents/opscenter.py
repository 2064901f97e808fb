"""The incident's OpsItem in Systems Manager OpsCenter: opened when the response starts,
resolved when the incident closes (docs/oncall.md, "OpsCenter").

AWS points Incident Manager's users to OpsCenter, so an incident is also where they look. It
is a mirror, never a dependency: every failure is returned as a problem (the caller records it
as a finding on the incident), never raised into the workflow.
"""

from __future__ import annotations

import json
import re
from typing import Any

import msgspec
from botocore.exceptions import BotoCoreError, ClientError

from incidents.model import Incident
from shared.errors import error_code

SOURCE = "IncidentRunbook"
# OpsItem severity is "1" (critical) to "4" (low); priority 1 (highest) to 5.
SEVERITY = {"critical": "1", "high": "2", "standard": "3"}
PRIORITY = {"critical": 1, "high": 2, "standard": 3}
_OPS_ITEM_ID = re.compile(r"\boi-[0-9a-f]{12}\b")
TITLE_LIMIT = 1024
DESCRIPTION_LIMIT = 2048


class OpsItemResult(msgspec.Struct, frozen=True):
    """What happened: the OpsItem's id, or the problem that kept it from being written."""

    ops_item_id: str | None = None
    problem: str | None = None


def _data(value: str, searchable: bool = False) -> dict[str, str]:
    return {"Value": value, "Type": "SearchableString" if searchable else "String"}


def operational_data(incident: Incident, execution_arn: str | None) -> dict[str, Any]:
    """The OpsItem's operational data: dedup on the incident id (a retried step finds the
    OpsItem it opened), the related resources OpsCenter links (ARNs only), and the ids that
    lead back to the runbook."""
    arns = [r.id for r in incident.resources if r.id.startswith("arn:")]
    if incident.alarm_arn:
        arns.insert(0, incident.alarm_arn)
    data: dict[str, Any] = {
        "/aws/dedup": _data(
            json.dumps({"dedupString": f"incident-runbook:{incident.incident_id}"})
        ),
        "incident_id": _data(incident.incident_id, searchable=True),
        "severity": _data(incident.severity, searchable=True),
        "source": _data(incident.source, searchable=True),
    }
    if arns:
        unique = list(dict.fromkeys(arns))[:50]
        data["/aws/resources"] = _data(json.dumps([{"arn": arn} for arn in unique]))
    if incident.resources:
        listed = ", ".join(f"{r.type}={r.id}" for r in incident.resources)
        data["resources"] = _data(listed[:20000])
    if execution_arn:
        data["execution_arn"] = _data(execution_arn)
    return data


class OpsCenter:
    """Opens and resolves OpsItems through an SSM client (injected: moto or a Stubber in tests)."""

    def __init__(self, ssm: Any) -> None:
        self._ssm = ssm

    def open(self, incident: Incident, execution_arn: str | None) -> OpsItemResult:
        """Create the incident's OpsItem (or find the one a retry already created)."""
        request = {
            "Title": incident.title[:TITLE_LIMIT] or incident.incident_id,
            "Description": (incident.description or incident.title)[:DESCRIPTION_LIMIT]
            or incident.incident_id,
            "Source": SOURCE,
            "OpsItemType": "/aws/issue",
            "Category": "Availability",
            "Severity": SEVERITY.get(incident.severity, "3"),
            "Priority": PRIORITY.get(incident.severity, 3),
            # No Tags: tagging at creation needs ssm:AddTagsToResource as well; the incident id
            # is searchable operational data instead.
            "OperationalData": operational_data(incident, execution_arn),
        }
        try:
            answer = self._ssm.create_ops_item(**request)
        except ClientError as exc:
            if error_code(exc) == "OpsItemAlreadyExistsException":
                existing = exc.response.get("OpsItemId") or _id_in(str(exc))
                if existing:
                    return OpsItemResult(ops_item_id=str(existing))
            return OpsItemResult(problem=_problem("CreateOpsItem", exc))
        except BotoCoreError as exc:
            return OpsItemResult(problem=_problem("CreateOpsItem", exc))
        return OpsItemResult(ops_item_id=str(answer["OpsItemId"]))

    def resolve(self, ops_item_id: str, *, postmortem_uri: str | None, status: str) -> str | None:
        """Mark the OpsItem Resolved with the postmortem's URI; the problem, or None."""
        data = {"incident_status": _data(status, searchable=True)}
        if postmortem_uri:
            data["postmortem_uri"] = _data(postmortem_uri)
        try:
            self._ssm.update_ops_item(
                OpsItemId=ops_item_id, Status="Resolved", OperationalData=data
            )
        except (ClientError, BotoCoreError) as exc:
            return _problem("UpdateOpsItem", exc)
        return None


def _id_in(text: str) -> str | None:
    found = _OPS_ITEM_ID.search(text)
    return found.group(0) if found else None


def _problem(operation: str, exc: Exception) -> str:
    code = error_code(exc) if isinstance(exc, ClientError) else type(exc).__name__
    return f"OpsCenter {operation} failed: {code}: {str(exc)[:300]}"
