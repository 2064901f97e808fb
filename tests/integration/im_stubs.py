"""Incident Manager's APIs for the importer's tests. moto has neither SSM Contacts nor SSM
Incidents, so botocore Stubbers answer them, with the saved responses under
tests/fixtures/incident_manager/ (shaped as the service models and the API reference document
them) split into pages joined by NextToken, in the order the importer must ask."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
from botocore.stub import Stubber

from runbook.importers.incident_manager import LiveSource, as_datetime, file_key

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "incident_manager"
REGION = "us-east-2"
PLAN_ACCOUNT = "111122223333"


def saved(rel: str, root: Path = FIXTURES) -> dict[str, Any]:
    return dict(json.loads((root / rel).read_text()))


def parsed(value: Any, shape: Any) -> Any:
    """A saved response as botocore hands it over: timestamps as datetimes."""
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        return {
            k: parsed(v, shape.members[k]) if k in shape.members else v for k, v in value.items()
        }
    if kind == "list" and isinstance(value, list):
        return [parsed(v, shape.member) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: parsed(v, shape.value) for k, v in value.items()}
    if kind == "timestamp":
        return as_datetime(value)
    return value


@dataclass
class Stubs:
    contacts: Stubber
    incidents: Stubber

    def done(self) -> None:
        self.contacts.assert_no_pending_responses()
        self.incidents.assert_no_pending_responses()


def _paged(
    stubber: Stubber,
    operation: str,
    response: dict[str, Any],
    result_key: str,
    token: str,
    params: dict[str, Any],
    page_size: int,
) -> None:
    """The merged response as pages of `page_size` items, each pointing at the next."""
    method = stubber.client.meta.method_to_api_mapping
    name = next(m for m, api in method.items() if api == operation)
    shape = stubber.client.meta.service_model.operation_model(operation).output_shape
    items = list(response.get(result_key, []))
    chunks = [items[i : i + page_size] for i in range(0, len(items), page_size)] or [[]]
    for n, chunk in enumerate(chunks):
        page = {**response, result_key: chunk}
        if n + 1 < len(chunks):
            page[token] = f"page-{n + 2}-token"
        expected = dict(params)
        if n:
            expected[token] = f"page-{n + 1}-token"
        stubber.add_response(name, parsed(page, shape), expected)


def _single(
    stubber: Stubber, operation: str, response: dict[str, Any], params: dict[str, Any]
) -> None:
    method = stubber.client.meta.method_to_api_mapping
    name = next(m for m, api in method.items() if api == operation)
    shape = stubber.client.meta.service_model.operation_model(operation).output_shape
    stubber.add_response(name, parsed(response, shape), params)


def queue_account(
    stubs: Stubs, now: datetime, *, days: int = 90, page_size: int = 2, root: Path = FIXTURES
) -> None:
    """Every SSM Contacts / SSM Incidents call of one import, answered from `root`."""
    c, i = stubs.contacts, stubs.incidents
    listed = saved("ListContacts.json", root)
    _paged(c, "ListContacts", listed, "Contacts", "NextToken", {}, page_size)
    for contact in sorted(listed["Contacts"], key=lambda x: x["Alias"]):
        arn, key = contact["ContactArn"], file_key(contact["ContactArn"])
        _single(c, "GetContact", saved(f"GetContact/{key}.json", root), {"ContactId": arn})
        if contact["Type"] == "PERSONAL":
            channels = saved(f"ListContactChannels/{key}.json", root)
            _paged(
                c,
                "ListContactChannels",
                channels,
                "ContactChannels",
                "NextToken",
                {"ContactId": arn},
                page_size,
            )
    rotations = saved("ListRotations.json", root)
    _paged(c, "ListRotations", rotations, "Rotations", "NextToken", {}, page_size)
    window = {"StartTime": now, "EndTime": now + timedelta(days=days)}
    for rotation in sorted(rotations["Rotations"], key=lambda r: r["RotationArn"]):
        arn, key = rotation["RotationArn"], file_key(rotation["RotationArn"])
        _single(c, "GetRotation", saved(f"GetRotation/{key}.json", root), {"RotationId": arn})
        overrides = saved(f"ListRotationOverrides/{key}.json", root)
        _paged(
            c,
            "ListRotationOverrides",
            overrides,
            "RotationOverrides",
            "NextToken",
            {"RotationId": arn, **window},
            page_size,
        )
    plans = saved("ListResponsePlans.json", root)
    _paged(i, "ListResponsePlans", plans, "responsePlanSummaries", "nextToken", {}, page_size)
    for plan in sorted(plans["responsePlanSummaries"], key=lambda p: p["arn"]):
        key = file_key(plan["arn"])
        _single(
            i, "GetResponsePlan", saved(f"GetResponsePlan/{key}.json", root), {"arn": plan["arn"]}
        )


@contextmanager
def stubbed_im(region: str = REGION) -> Iterator[tuple[Stubs, Any, Any]]:
    """(stubs, ssm-contacts client, ssm-incidents client), stubbing active."""
    contacts = boto3.client("ssm-contacts", region_name=region)
    incidents = boto3.client("ssm-incidents", region_name=region)
    with Stubber(contacts) as c, Stubber(incidents) as i:
        yield Stubs(c, i), contacts, incidents


def seed_triggers(region: str = REGION) -> tuple[Any, Any]:
    """In moto: the fixture's alarms (DescribeAlarms.json) and EventBridge rule, for real."""
    cloudwatch = boto3.client("cloudwatch", region_name=region)
    events = boto3.client("events", region_name=region)
    for alarm in saved("DescribeAlarms.json")["MetricAlarms"]:
        cloudwatch.put_metric_alarm(
            AlarmName=alarm["AlarmName"],
            AlarmActions=alarm["AlarmActions"],
            MetricName=alarm["MetricName"],
            Namespace=alarm["Namespace"],
            Statistic=alarm["Statistic"],
            Period=alarm["Period"],
            EvaluationPeriods=alarm["EvaluationPeriods"],
            Threshold=alarm["Threshold"],
            ComparisonOperator=alarm["ComparisonOperator"],
        )
    cloudwatch.put_metric_alarm(  # an alarm of no plan: must not be matched
        AlarmName="unrelated",
        AlarmActions=[f"arn:aws:sns:{region}:{PLAN_ACCOUNT}:ops"],
        MetricName="Errors",
        Namespace="AWS/Lambda",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanThreshold",
    )
    rule = saved("DescribeRule/db-alarms.json")
    events.put_rule(Name=rule["Name"], EventPattern=rule["EventPattern"], State=rule["State"])
    plan = saved("GetResponsePlan/db-on-call.json")
    events.put_targets(Rule=rule["Name"], Targets=[{"Id": "im", "Arn": plan["arn"]}])
    return cloudwatch, events


def live(contacts: Any, incidents: Any, cloudwatch: Any = None, events: Any = None) -> LiveSource:
    return LiveSource(contacts, incidents, cloudwatch, events)
