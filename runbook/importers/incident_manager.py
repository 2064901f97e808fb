"""Read an account's Incident Manager setup: from AWS, or from saved API responses.

Both sources answer one question, "the response of OPERATION for KEY", with the whole result
(every page merged, as `aws ... --output json` prints it), so the reading below is written once
and `--save-json` / `--from-json` round-trip. The directory layout (docs/migrate-from-incident-
manager.md) is one JSON file per response:

    DIR/ListContacts.json                 DIR/GetContact/<alias>.json
    DIR/ListContactChannels/<alias>.json  DIR/ListRotations.json
    DIR/GetRotation/<rotation>.json       DIR/ListRotationOverrides/<rotation>.json
    DIR/ListResponsePlans.json            DIR/GetResponsePlan/<plan>.json
    DIR/DescribeAlarms.json               (optional) which alarms start which plan
    DIR/ListRuleNamesByTarget/<plan>.json (optional) EventBridge rules that start it
    DIR/DescribeRule/<rule>.json          (optional)

<alias>, <rotation>, <plan> are the last `/` part of the resource's ARN. Incident Manager's own
responses are required; CloudWatch and EventBridge ones only say which alarms open which plan,
and without them the import says which plans need a `match` written by hand.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import botocore.session
from botocore import xform_name
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
)

CONTACTS = "ssm-contacts"
INCIDENTS = "ssm-incidents"
CLOUDWATCH = "cloudwatch"
EVENTS = "events"


@dataclass(frozen=True)
class Operation:
    service: str
    required: bool  # Incident Manager's own data; the rest only helps write `match`
    key_param: str | None = None  # the request parameter the file key stands for


OPERATIONS: dict[str, Operation] = {
    "ListContacts": Operation(CONTACTS, True),
    "GetContact": Operation(CONTACTS, True, "--contact-id CONTACT_ARN"),
    "ListContactChannels": Operation(CONTACTS, True, "--contact-id CONTACT_ARN"),
    "ListRotations": Operation(CONTACTS, True),
    "GetRotation": Operation(CONTACTS, True, "--rotation-id ROTATION_ARN"),
    "ListRotationOverrides": Operation(
        CONTACTS, True, "--rotation-id ROTATION_ARN --start-time NOW --end-time LATER"
    ),
    "ListResponsePlans": Operation(INCIDENTS, True),
    "GetResponsePlan": Operation(INCIDENTS, True, "--arn RESPONSE_PLAN_ARN"),
    "DescribeAlarms": Operation(CLOUDWATCH, False),
    "ListRuleNamesByTarget": Operation(EVENTS, False, "--target-arn RESPONSE_PLAN_ARN"),
    "DescribeRule": Operation(EVENTS, False, "--name RULE_NAME"),
}
DENIED_CODES = frozenset({"AccessDeniedException", "AccessDenied", "UnauthorizedOperation"})
_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9._@+=,-]")


class ImportFailure(Exception):
    """The import cannot go on; the message is one line that says what to do."""


class NotAvailable(Exception):
    """An optional response cannot be had (not saved, no permission): the import goes on."""


class Source(Protocol):
    """Where responses come from. `where` says so in the generated file's header."""

    where: str

    def call(self, operation: str, key: str | None, params: dict[str, Any]) -> dict[str, Any]: ...


def file_key(arn_or_name: str) -> str:
    """The file name part for a resource: the last `/` part of its ARN, made filename-safe."""
    key = _KEY_UNSAFE.sub("_", arn_or_name.rsplit("/", 1)[-1])
    return "_" if key in ("", ".", "..") else key


def relative_path(operation: str, key: str | None) -> str:
    return f"{operation}.json" if key is None else f"{operation}/{key}.json"


def cli_command(operation: str) -> str:
    op = OPERATIONS[operation]
    base = f"aws {op.service} {xform_name(operation, '-')}"
    return f"{base} {op.key_param}" if op.key_param else base


class LiveSource:
    """Calls AWS through injected clients; every list operation goes through its paginator."""

    def __init__(
        self,
        contacts: Any,
        incidents: Any,
        cloudwatch: Any | None = None,
        events: Any | None = None,
    ) -> None:
        self._clients = {CONTACTS: contacts, INCIDENTS: incidents}
        if cloudwatch is not None:
            self._clients[CLOUDWATCH] = cloudwatch
        if events is not None:
            self._clients[EVENTS] = events
        self.region = str(contacts.meta.region_name)
        self.where = f"region {self.region}"

    def call(self, operation: str, key: str | None, params: dict[str, Any]) -> dict[str, Any]:
        op = OPERATIONS[operation]
        client = self._clients.get(op.service)
        if client is None:
            raise NotAvailable(f"{op.service} was not read")
        method = xform_name(operation)
        try:
            if client.can_paginate(method):
                result = client.get_paginator(method).paginate(**params).build_full_result()
            else:
                result = getattr(client, method)(**params)
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code", "")
            message = err.response.get("Error", {}).get("Message", "")
            if code in DENIED_CODES:
                text = f"no permission to call {op.service}:{operation} ({code}: {message})"
                if not op.required:
                    raise NotAvailable(text) from None
                raise ImportFailure(
                    f"{text}: allow the read-only actions listed in "
                    "docs/migrate-from-incident-manager.md"
                ) from None
            raise ImportFailure(f"{op.service} {operation} failed: {code}: {message}") from None
        except EndpointConnectionError:
            raise ImportFailure(
                f"cannot reach {op.service} in region {self.region}: Incident Manager is not "
                "available there; pass --region with the region of your replication set"
            ) from None
        except NoCredentialsError:
            raise ImportFailure("no AWS credentials: set AWS_PROFILE or pass --profile") from None
        except BotoCoreError as err:
            raise ImportFailure(f"{op.service} {operation} failed: {err}") from None
        result.pop("ResponseMetadata", None)
        return dict(result)


@cache
def _output_shape(operation: str) -> Any:
    service = OPERATIONS[operation].service
    model = botocore.session.get_session().get_service_model(service)
    return model.operation_model(operation).output_shape


class DirectorySource:
    """Reads saved responses (the layout in the module docstring) and checks each one against
    the operation's documented output shape, so a truncated or hand-edited file is one clear
    error naming the file and the field, never a half-imported account."""

    def __init__(self, root: Path) -> None:
        if not root.is_dir():
            raise ImportFailure(f"--from-json {root}: not a directory")
        self.root = root
        self.where = f"saved responses in {root}"

    def call(self, operation: str, key: str | None, params: dict[str, Any]) -> dict[str, Any]:
        rel = relative_path(operation, key)
        path = self.root / rel
        if not path.is_file():
            if not OPERATIONS[operation].required:
                raise NotAvailable(f"{rel} was not saved")
            raise ImportFailure(
                f"{path} is missing: save it with `{cli_command(operation)} --output json`"
            )
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ImportFailure(f"{path}: not a saved API response: {err}") from None
        problem = shape_problem(loaded, _output_shape(operation), "")
        if problem:
            raise ImportFailure(f"{path}: not a {operation} response: {problem}")
        return dict(loaded)


class RecordingSource:
    """Saves every response it passes on, in the directory layout, for `--save-json`."""

    def __init__(self, inner: Source, root: Path) -> None:
        self._inner = inner
        self.root = root
        self.where = inner.where

    def call(self, operation: str, key: str | None, params: dict[str, Any]) -> dict[str, Any]:
        result = self._inner.call(operation, key, params)
        path = self.root / relative_path(operation, key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(
                json.dumps(result, indent=4, sort_keys=True, default=_json_default) + "\n",
                encoding="utf-8",
            )
        except OSError as err:
            raise ImportFailure(f"--save-json: cannot write {path}: {err}") from None
        return result


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        # What AWS CLI v2 prints for a timestamp.
        return value.isoformat()
    raise TypeError(f"cannot save {type(value).__name__}")


def as_datetime(value: Any) -> datetime:
    """A timestamp as botocore returns it (datetime) or as saved (ISO 8601 or epoch seconds)."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        parsed = datetime.fromtimestamp(value, UTC)
    else:
        parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def shape_problem(value: Any, shape: Any, where: str) -> str | None:
    """The first way `value` is not of the botocore `shape`, or None. Unknown keys pass (a
    newer CLI may print more); missing required members and wrong types do not."""
    kind = shape.type_name
    at = where or "the response"
    if kind == "structure":
        if not isinstance(value, dict):
            return f"{at}: expected an object, got {_type(value)}"
        for name in shape.required_members:
            if name not in value:
                return f"{_join(where, name)}: missing"
        for name, member in shape.members.items():
            if name in value:
                found = shape_problem(value[name], member, _join(where, name))
                if found:
                    return found
        return None
    if kind == "list":
        if not isinstance(value, list):
            return f"{at}: expected a list, got {_type(value)}"
        for i, item in enumerate(value):
            found = shape_problem(item, shape.member, f"{where}[{i}]")
            if found:
                return found
        return None
    if kind == "map":
        if not isinstance(value, dict):
            return f"{at}: expected an object, got {_type(value)}"
        for k, item in value.items():
            found = shape_problem(item, shape.value, f"{where}.{k}")
            if found:
                return found
        return None
    return _scalar_problem(value, kind, at)


def _scalar_problem(value: Any, kind: str, at: str) -> str | None:
    if kind == "string" and not isinstance(value, str):
        return f"{at}: expected a string, got {_type(value)}"
    if kind in ("integer", "long") and (isinstance(value, bool) or not isinstance(value, int)):
        return f"{at}: expected an integer, got {_type(value)}"
    if kind == "boolean" and not isinstance(value, bool):
        return f"{at}: expected true or false, got {_type(value)}"
    if kind == "timestamp":
        try:
            as_datetime(value)
        except (TypeError, ValueError, OverflowError, OSError):
            return f"{at}: expected a timestamp, got {value!r}"
    return None


def _join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _type(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "true/false"}.get(
        type(value), type(value).__name__
    )


@dataclass
class Account:
    """Everything read, as the APIs returned it; the mapping (runbook.importers.mapping) turns
    it into the file. `*_unavailable` says why optional data is absent."""

    where: str
    contacts: list[dict[str, Any]] = field(default_factory=list)  # GetContact, every type
    channels: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # by contact ARN
    rotations: list[dict[str, Any]] = field(default_factory=list)  # GetRotation
    overrides: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # by rotation ARN
    response_plans: list[dict[str, Any]] = field(default_factory=list)  # GetResponsePlan
    alarms: list[dict[str, Any]] | None = None
    alarms_unavailable: str | None = None
    rules: dict[str, list[dict[str, Any]]] | None = None  # by response plan ARN
    rules_unavailable: str | None = None


def read_account(source: Source, *, now: datetime, overrides_days: int) -> Account:
    """Every call the import makes, in a fixed order (sorted keys) so saved sets compare."""
    account = Account(where=source.where)
    listed = source.call("ListContacts", None, {}).get("Contacts", [])
    for summary in sorted(listed, key=lambda c: str(c["Alias"])):
        arn, key = summary["ContactArn"], file_key(summary["ContactArn"])
        account.contacts.append(source.call("GetContact", key, {"ContactId": arn}))
        if summary["Type"] == "PERSONAL":
            channels = source.call("ListContactChannels", key, {"ContactId": arn})
            account.channels[arn] = list(channels.get("ContactChannels", []))

    window = {"StartTime": now, "EndTime": now + timedelta(days=overrides_days)}
    rotations = source.call("ListRotations", None, {}).get("Rotations", [])
    for summary in sorted(rotations, key=lambda r: str(r["RotationArn"])):
        arn, key = summary["RotationArn"], file_key(summary["RotationArn"])
        account.rotations.append(source.call("GetRotation", key, {"RotationId": arn}))
        found = source.call("ListRotationOverrides", key, {"RotationId": arn, **window})
        account.overrides[arn] = list(found.get("RotationOverrides", []))

    plans = source.call("ListResponsePlans", None, {}).get("responsePlanSummaries", [])
    for summary in sorted(plans, key=lambda p: str(p["arn"])):
        account.response_plans.append(
            source.call("GetResponsePlan", file_key(summary["arn"]), {"arn": summary["arn"]})
        )
    if account.response_plans:
        _read_triggers(source, account)
    return account


def _read_triggers(source: Source, account: Account) -> None:
    """Which CloudWatch alarms and EventBridge rules start each response plan."""
    partition = str(account.response_plans[0]["arn"]).split(":")[1]
    try:
        alarms = source.call(
            "DescribeAlarms",
            None,
            {
                "AlarmTypes": ["MetricAlarm", "CompositeAlarm"],
                "ActionPrefix": f"arn:{partition}:ssm-incidents::",
            },
        )
        account.alarms = list(alarms.get("MetricAlarms", [])) + list(
            alarms.get("CompositeAlarms", [])
        )
    except NotAvailable as why:
        account.alarms_unavailable = str(why)
    rules: dict[str, list[dict[str, Any]]] = {}
    try:
        for plan in account.response_plans:
            arn = str(plan["arn"])
            names = source.call("ListRuleNamesByTarget", file_key(arn), {"TargetArn": arn})
            rules[arn] = [
                source.call("DescribeRule", file_key(name), {"Name": name})
                for name in sorted(names.get("RuleNames", []))
            ]
        account.rules = rules
    except NotAvailable as why:
        account.rules_unavailable = str(why)


def live_source(session: Any) -> LiveSource:
    """Clients for the four services from one boto3 session (profile and region resolved)."""
    try:
        clients: Mapping[str, Any] = {
            name: session.client(name) for name in (CONTACTS, INCIDENTS, CLOUDWATCH, EVENTS)
        }
    except NoRegionError:
        raise ImportFailure("no AWS region: pass --region (or set AWS_REGION)") from None
    except BotoCoreError as err:
        raise ImportFailure(f"cannot create AWS clients: {err}") from None
    return LiveSource(clients[CONTACTS], clients[INCIDENTS], clients[CLOUDWATCH], clients[EVENTS])
