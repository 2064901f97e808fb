"""The incident's OpsItem against Stubber'd SSM (moto has no OpsItems), with the request and
response shapes of the API reference: what is sent, dedup on a retry, failures as problems."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import ANY, Stubber

from incidents.model import Incident, Resource
from incidents.opscenter import OpsCenter, operational_data

INCIDENT = Incident(
    incident_id="inc-20261203-090000-0a1b2c3d",
    title="payments-api-errors is in ALARM",
    description="Errors up",
    severity="high",
    source="aws.cloudwatch",
    alarm_name="payments-api-errors",
    alarm_arn="arn:aws:cloudwatch:us-east-1:123456789012:alarm:payments-api-errors",
    resources=[
        Resource(type="AWS::Lambda::Function", id="payments-api"),
        Resource(type="AWS::RDS::DBInstance", id="arn:aws:rds:us-east-1:123456789012:db:pay"),
    ],
    opened_at="2026-12-03T09:00:00Z",
)
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:IncidentRunbook-incident-response:x"


@pytest.fixture
def ssm() -> tuple[OpsCenter, Stubber]:
    client = boto3.client(
        "ssm", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    return OpsCenter(client), Stubber(client)


def test_operational_data_links_resources_and_dedups_on_the_incident() -> None:
    data = operational_data(INCIDENT, EXECUTION)
    assert json.loads(data["/aws/dedup"]["Value"]) == {
        "dedupString": f"incident-runbook:{INCIDENT.incident_id}"
    }
    arns = [r["arn"] for r in json.loads(data["/aws/resources"]["Value"])]
    assert arns == [INCIDENT.alarm_arn, "arn:aws:rds:us-east-1:123456789012:db:pay"]
    assert data["incident_id"] == {"Value": INCIDENT.incident_id, "Type": "SearchableString"}
    assert data["execution_arn"]["Value"] == EXECUTION
    assert not any(key.startswith("aws") or key.startswith("ssm") for key in data)


def test_open_sends_the_mapped_fields(ssm: tuple[OpsCenter, Stubber]) -> None:
    ops, stub = ssm
    stub.add_response(
        "create_ops_item",
        {"OpsItemId": "oi-0123456789ab", "OpsItemArn": "arn:aws:ssm:us-east-1:1:opsitem/oi-0"},
        {
            "Title": INCIDENT.title,
            "Description": "Errors up",
            "Source": "IncidentRunbook",
            "OpsItemType": "/aws/issue",
            "Category": "Availability",
            "Severity": "2",
            "Priority": 2,
            "OperationalData": ANY,
        },
    )
    with stub:
        result = ops.open(INCIDENT, EXECUTION)
    assert result.ops_item_id == "oi-0123456789ab" and result.problem is None


def test_a_retry_finds_the_ops_item_it_opened(ssm: tuple[OpsCenter, Stubber]) -> None:
    ops, stub = ssm
    stub.add_client_error(
        "create_ops_item",
        "OpsItemAlreadyExistsException",
        "The OpsItem already exists: oi-0123456789ab.",
        modeled_fields={"OpsItemId": "oi-0123456789ab"},
    )
    with stub:
        assert ops.open(INCIDENT, EXECUTION).ops_item_id == "oi-0123456789ab"


def test_refusals_are_problems_not_exceptions(ssm: tuple[OpsCenter, Stubber]) -> None:
    ops, stub = ssm
    stub.add_client_error("create_ops_item", "AccessDeniedException", "not authorized")
    stub.add_client_error("update_ops_item", "OpsItemNotFoundException", "no such OpsItem")
    with stub:
        opened = ops.open(INCIDENT, EXECUTION)
        problem = ops.resolve("oi-0123456789ab", postmortem_uri="s3://b/k", status="RESOLVED")
    assert opened.ops_item_id is None and "AccessDeniedException" in (opened.problem or "")
    assert problem and "OpsItemNotFoundException" in problem


def test_resolve_marks_it_resolved_with_the_postmortem(ssm: tuple[OpsCenter, Stubber]) -> None:
    ops, stub = ssm
    stub.add_response(
        "update_ops_item",
        {},
        {
            "OpsItemId": "oi-0123456789ab",
            "Status": "Resolved",
            "OperationalData": {
                "incident_status": {"Value": "RESOLVED", "Type": "SearchableString"},
                "postmortem_uri": {"Value": "s3://b/k", "Type": "String"},
            },
        },
    )
    with stub:
        assert ops.resolve("oi-0123456789ab", postmortem_uri="s3://b/k", status="RESOLVED") is None
