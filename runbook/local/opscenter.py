"""Systems Manager OpsCenter on the emulator: OpsItems, which moto 5.2.5 does not have.

The runbook opens an OpsItem per incident and resolves it when the incident closes (issue 13),
so that teams who follow AWS's advice find incidents where AWS tells them to look. moto's SSM
answers none of the OpsItem operations; ``OpsCenter`` answers CreateOpsItem, GetOpsItem,
UpdateOpsItem and DescribeOpsItems in front of moto (json_api.py), with the state kept here and
the request and response shapes of the API reference:

- validation AWS documents and that is cheap to check: lengths of Title (1024), Description
  (2048), Source (128), Category/Severity (64), Priority 1-5, operational data keys (128
  characters, none starting with ``aws``/``amazon``/``amzn``/``ssm`` with or without ``/``
  except the documented ``/aws/dedup``, ``/aws/resources`` and ``/aws/automations``) and values
  (20 KB) -> OpsItemInvalidParameterException naming the parameter; an unknown id ->
  OpsItemNotFoundException;
- deduplication: a ``/aws/dedup`` value ``{"dedupString": "..."}`` equal to the one of an Open
  or InProgress OpsItem -> OpsItemAlreadyExistsException carrying that OpsItem's id (a Resolved
  one does not count); the dedup string cannot be changed afterwards;
- OperationalData typed ``SearchableString`` is what DescribeOpsItems shows and filters on;
  ``String`` data only GetOpsItem returns (the documented meaning of the two types);
- an ``/aws/issue`` OpsItem's Status is Open, InProgress or Resolved.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from runbook.local.json_api import (
    ApiError,
    Caller,
    JsonApi,
    Operation,
    drop_none,
    epoch,
    from_epoch,
    page,
)

ISSUE = "/aws/issue"
ISSUE_STATUSES = ("Open", "InProgress", "Resolved")
DEDUP_KEY = "/aws/dedup"
RESERVED_PREFIXES = ("amazon", "aws", "amzn", "ssm", "/amazon", "/aws", "/amzn", "/ssm")
DOCUMENTED_KEYS = (DEDUP_KEY, "/aws/resources", "/aws/automations")
DATA_TYPES = ("SearchableString", "String")
MAX_VALUE_BYTES = 20 * 1024
_ID = re.compile(r"^oi-[0-9a-f]{12}$")
_LENGTHS = {"Title": 1024, "Description": 2048, "Source": 128, "Category": 64, "Severity": 64}
_TIMES = ("ActualStartTime", "ActualEndTime", "PlannedStartTime", "PlannedEndTime")


def invalid(parameter: str, message: str) -> ApiError:
    return ApiError("OpsItemInvalidParameterException", message, ParameterNames=[parameter])


@dataclass
class OpsItem:
    """One OpsItem, as GetOpsItem describes it."""

    ops_item_id: str
    account: str
    region: str
    title: str
    source: str
    description: str
    created_by: str
    created_time: dt.datetime
    ops_item_type: str = ISSUE
    status: str = "Open"
    version: int = 1
    priority: int | None = None
    category: str | None = None
    severity: str | None = None
    notifications: list[dict[str, str]] = field(default_factory=list)
    related: list[dict[str, str]] = field(default_factory=list)
    data: dict[str, dict[str, str]] = field(default_factory=dict)
    times: dict[str, dt.datetime] = field(default_factory=dict)
    tags: list[dict[str, str]] = field(default_factory=list)
    last_modified_by: str = ""
    last_modified_time: dt.datetime | None = None

    @property
    def arn(self) -> str:
        return f"arn:aws:ssm:{self.region}:{self.account}:opsitem/{self.ops_item_id}"

    @property
    def dedup_string(self) -> str | None:
        entry = self.data.get(DEDUP_KEY)
        return None if entry is None else dedup_string(entry["Value"])

    def _common(self) -> dict[str, Any]:
        return drop_none(
            {
                "CreatedBy": self.created_by,
                "CreatedTime": epoch(self.created_time),
                "LastModifiedBy": self.last_modified_by or self.created_by,
                "LastModifiedTime": epoch(self.last_modified_time or self.created_time),
                "Priority": self.priority,
                "Source": self.source,
                "Status": self.status,
                "OpsItemId": self.ops_item_id,
                "Title": self.title,
                "Category": self.category,
                "Severity": self.severity,
                "OpsItemType": self.ops_item_type,
                **{name: epoch(when) for name, when in self.times.items()},
            }
        )

    def describe(self) -> dict[str, Any]:
        """GetOpsItem's ``OpsItem``: every operational data entry."""
        described = self._common()
        described.update(
            {
                "Description": self.description,
                "Notifications": list(self.notifications),
                "RelatedOpsItems": list(self.related),
                "Version": str(self.version),
                "OperationalData": {key: dict(value) for key, value in self.data.items()},
                "OpsItemArn": self.arn,
            }
        )
        return described

    def summary(self) -> dict[str, Any]:
        """DescribeOpsItems' ``OpsItemSummary``: only the searchable operational data."""
        summary = self._common()
        summary["OperationalData"] = self.searchable()
        return summary

    def searchable(self) -> dict[str, dict[str, str]]:
        return {k: dict(v) for k, v in self.data.items() if v["Type"] == "SearchableString"}


def dedup_string(value: str) -> str:
    """The dedup string of an ``/aws/dedup`` value (``{"dedupString": "..."}``)."""
    try:
        parsed = json.loads(value)
    except ValueError:
        parsed = None
    text = parsed.get("dedupString") if isinstance(parsed, dict) else None
    if not isinstance(text, str) or not text:
        raise invalid(
            "OperationalData",
            f'The value of {DEDUP_KEY} must be a JSON object like {{"dedupString": "..."}}.',
        )
    return text


def operational_data(raw: Any) -> dict[str, dict[str, str]]:
    """Validated OperationalData (Type defaults to String: not searchable)."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise invalid("OperationalData", "OperationalData must be a map.")
    data = {}
    for key, entry in raw.items():
        if not 1 <= len(key) <= 128:
            raise invalid("OperationalData", f"Operational data key {key!r} is too long.")
        if key.lower().startswith(RESERVED_PREFIXES) and key not in DOCUMENTED_KEYS:
            raise invalid(
                "OperationalData",
                f"Operational data key {key} can't begin with amazon, aws, amzn, ssm, "
                "/amazon, /aws, /amzn or /ssm.",
            )
        value = str((entry or {}).get("Value", ""))
        kind = str((entry or {}).get("Type") or "String")
        if not value.strip():
            raise invalid("OperationalData", f"Operational data {key} has no value.")
        if len(value.encode()) > MAX_VALUE_BYTES:
            raise invalid("OperationalData", f"Operational data {key} is larger than 20 KB.")
        if kind not in DATA_TYPES:
            raise invalid("OperationalData", f"Operational data type {kind} is not valid.")
        if key == DEDUP_KEY:
            dedup_string(value)
        data[key] = {"Value": value, "Type": kind}
    return data


def _check_scalars(body: dict[str, Any]) -> None:
    for name, most in _LENGTHS.items():
        value = body.get(name)
        if value is not None and not (1 <= len(str(value)) <= most and str(value).strip()):
            raise invalid(name, f"{name} must be 1 to {most} characters, not only spaces.")
    priority = body.get("Priority")
    if priority is not None and not (isinstance(priority, int) and 1 <= priority <= 5):
        raise invalid("Priority", "Priority must be an integer from 1 to 5.")


def _related(raw: Any) -> list[dict[str, str]]:
    related = []
    for entry in raw or []:
        item_id = str((entry or {}).get("OpsItemId", ""))
        if not _ID.match(item_id):
            raise invalid("RelatedOpsItems", f"{item_id!r} is not an OpsItem ID.")
        related.append({"OpsItemId": item_id})
    return related


# -- DescribeOpsItems filters --------------------------------------------------------------
def _text(operator: str, actual: str | None, wanted: str) -> bool:
    if actual is None:
        return False
    return actual == wanted if operator == "Equal" else wanted in actual


def _number(operator: str, actual: float | None, wanted: str) -> bool:
    if actual is None:
        return False
    target = float(wanted)
    if operator == "GreaterThan":
        return actual > target
    if operator == "LessThan":
        return actual < target
    return actual == target


def _time(operator: str, actual: dt.datetime | None, wanted: str) -> bool:
    moment = from_epoch(float(wanted) if re.fullmatch(r"\d+(\.\d+)?", wanted) else wanted)
    if actual is None or moment is None:
        return False
    return actual > moment if operator == "GreaterThan" else actual < moment


def _data_pair(item: OpsItem, operator: str, wanted: str) -> bool:
    try:
        pair = json.loads(wanted)
        key, value = str(pair["key"]), str(pair["value"])
    except (ValueError, KeyError, TypeError):
        raise invalid(
            "OpsItemFilters",
            'OperationalData filter values are JSON objects like {"key": "k", "value": "v"}.',
        ) from None
    entry = item.searchable().get(key)
    return entry is not None and _text(operator, entry["Value"], value)


def _resource_ids(item: OpsItem, key: str) -> list[str]:
    entry = item.data.get(key)
    try:
        listed = json.loads(entry["Value"]) if entry else []
    except ValueError:
        return []
    return [str(r.get("arn", "")) for r in listed if isinstance(r, dict)]


Matcher = Callable[[OpsItem, str, str], bool]
_FILTERS: dict[str, tuple[tuple[str, ...], Matcher]] = {
    "OpsItemId": (("Equal",), lambda i, op, v: i.ops_item_id == v),
    "Status": (("Equal",), lambda i, op, v: i.status == v),
    "Title": (("Equal", "Contains"), lambda i, op, v: _text(op, i.title, v)),
    "Source": (("Equal", "Contains"), lambda i, op, v: _text(op, i.source, v)),
    "Category": (("Equal", "Contains"), lambda i, op, v: _text(op, i.category, v)),
    "Severity": (("Equal",), lambda i, op, v: i.severity == v),
    "OpsItemType": (("Equal",), lambda i, op, v: i.ops_item_type == v),
    "CreatedBy": (("Equal",), lambda i, op, v: i.created_by == v),
    "Priority": (
        ("Equal", "GreaterThan", "LessThan"),
        lambda i, op, v: _number(op, i.priority, v),
    ),
    "CreatedTime": (("GreaterThan", "LessThan"), lambda i, op, v: _time(op, i.created_time, v)),
    "LastModifiedTime": (
        ("GreaterThan", "LessThan"),
        lambda i, op, v: _time(op, i.last_modified_time or i.created_time, v),
    ),
    "OperationalData": (("Equal",), _data_pair),
    "OperationalDataKey": (("Equal",), lambda i, op, v: v in i.searchable()),
    "OperationalDataValue": (
        ("Equal", "Contains"),
        lambda i, op, v: any(_text(op, e["Value"], v) for e in i.searchable().values()),
    ),
    "ResourceId": (
        ("Equal", "Contains"),
        lambda i, op, v: any(_text(op, arn, v) for arn in _resource_ids(i, "/aws/resources")),
    ),
}


def matches(item: OpsItem, filters: list[dict[str, Any]]) -> bool:
    """Every filter holds (AND); within a filter, any of its values (OR)."""
    for entry in filters:
        key, operator = str(entry.get("Key")), str(entry.get("Operator"))
        values = [str(v) for v in entry.get("Values") or []]
        if key not in _FILTERS:
            raise ApiError("ValidationException", f"The filter key {key} is not emulated.")
        operators, matcher = _FILTERS[key]
        if operator not in operators:
            raise ApiError(
                "ValidationException",
                f"The operator {operator} is not supported for the filter key {key}.",
            )
        if not any(matcher(item, operator, value) for value in values):
            return False
    return True


class OpsCenter(JsonApi):
    """OpsItems of every account and region the emulator serves."""

    target_prefix = "AmazonSSM"
    service = "ssm"

    def __init__(self) -> None:
        super().__init__()
        self._items: dict[str, OpsItem] = {}

    def operations(self) -> dict[str, Operation]:
        return {
            "CreateOpsItem": self.create_ops_item,
            "GetOpsItem": self.get_ops_item,
            "UpdateOpsItem": self.update_ops_item,
            "DescribeOpsItems": self.describe_ops_items,
        }

    # -- for tests and the demo ----------------------------------------------------------
    def ops_items(self) -> list[dict[str, Any]]:
        """Every OpsItem as GetOpsItem describes it, oldest first (timestamps as epoch)."""
        with self.lock:
            return [item.describe() for item in self._items.values()]

    def clear(self) -> None:
        with self.lock:
            self._items.clear()

    # -- the API -------------------------------------------------------------------------
    def _find(self, body: dict[str, Any], caller: Caller) -> OpsItem:
        item_id = str(body.get("OpsItemId", ""))
        item = self._items.get(item_id)
        if item is None or (item.account, item.region) != (caller.account, caller.region):
            raise ApiError("OpsItemNotFoundException", f"OpsItemId {item_id} does not exist.")
        arn = body.get("OpsItemArn")
        if arn is not None and arn != item.arn:
            raise invalid("OpsItemArn", f"{arn} is not the ARN of {item_id}.")
        return item

    def create_ops_item(self, body: dict[str, Any], caller: Caller) -> dict[str, Any]:
        for name in ("Description", "Source", "Title"):
            if body.get(name) is None:
                raise invalid(name, f"{name} is required.")
        _check_scalars(body)
        data = operational_data(body.get("OperationalData"))
        kind = str(body.get("OpsItemType") or ISSUE)
        dedup = dedup_string(data[DEDUP_KEY]["Value"]) if DEDUP_KEY in data else None
        if dedup is not None:
            for other in self._items.values():
                if (
                    (other.account, other.region) == (caller.account, caller.region)
                    and other.dedup_string == dedup
                    and other.status in ("Open", "InProgress")
                ):
                    raise ApiError(
                        "OpsItemAlreadyExistsException",
                        f"The OpsItem already exists: {other.ops_item_id}.",
                        OpsItemId=other.ops_item_id,
                    )
        now = dt.datetime.now(dt.UTC)
        item = OpsItem(
            ops_item_id=f"oi-{secrets.token_hex(6)}",
            account=caller.account,  # AccountId (cross-account OpsItems) is not emulated
            region=caller.region,
            title=str(body["Title"]),
            source=str(body["Source"]),
            description=str(body["Description"]),
            created_by=caller.arn,
            created_time=now,
            ops_item_type=kind,
            priority=body.get("Priority"),
            category=body.get("Category"),
            severity=body.get("Severity"),
            notifications=[{"Arn": str(n.get("Arn"))} for n in body.get("Notifications") or []],
            related=_related(body.get("RelatedOpsItems")),
            data=data,
            times={k: t for k in _TIMES if (t := from_epoch(body.get(k))) is not None},
            tags=list(body.get("Tags") or []),
        )
        self._items[item.ops_item_id] = item
        return {"OpsItemId": item.ops_item_id, "OpsItemArn": item.arn}

    def get_ops_item(self, body: dict[str, Any], caller: Caller) -> dict[str, Any]:
        return {"OpsItem": self._find(body, caller).describe()}

    def update_ops_item(self, body: dict[str, Any], caller: Caller) -> dict[str, Any]:
        item = self._find(body, caller)
        _check_scalars(body)
        status = body.get("Status")
        if status is not None and item.ops_item_type == ISSUE and status not in ISSUE_STATUSES:
            raise invalid("Status", f"Status {status} is not valid for an {ISSUE} OpsItem.")
        data = operational_data(body.get("OperationalData"))
        removed = [str(k) for k in body.get("OperationalDataToDelete") or []]
        if DEDUP_KEY in removed or (
            DEDUP_KEY in data and dedup_string(data[DEDUP_KEY]["Value"]) != item.dedup_string
        ):
            raise invalid("OperationalData", "The deduplication string can't be changed.")
        for name, attribute in (("Title", "title"), ("Description", "description")):
            if body.get(name) is not None:
                setattr(item, attribute, str(body[name]))
        for name, attribute in (
            ("Priority", "priority"),
            ("Category", "category"),
            ("Severity", "severity"),
            ("Status", "status"),
        ):
            if body.get(name) is not None:
                setattr(item, attribute, body[name])
        if body.get("Notifications") is not None:
            item.notifications = [{"Arn": str(n.get("Arn"))} for n in body["Notifications"]]
        if body.get("RelatedOpsItems") is not None:
            item.related = _related(body["RelatedOpsItems"])
        item.data.update(data)
        for key in removed:
            item.data.pop(key, None)
        for name in _TIMES:
            when = from_epoch(body.get(name))
            if when is not None:
                item.times[name] = when
        item.version += 1
        item.last_modified_by = caller.arn
        item.last_modified_time = dt.datetime.now(dt.UTC)
        return {}

    def describe_ops_items(self, body: dict[str, Any], caller: Caller) -> dict[str, Any]:
        filters = list(body.get("OpsItemFilters") or [])
        found = [
            item
            for item in self._items.values()
            if (item.account, item.region) == (caller.account, caller.region)
            and matches(item, filters)
        ]
        found.sort(key=lambda item: item.created_time, reverse=True)
        chunk, token = page(found, body, default=50, most=50)
        return drop_none(
            {"OpsItemSummaries": [item.summary() for item in chunk], "NextToken": token}
        )
