"""OpsCenter OpsItems on the emulator (runbook/local/opscenter.py): moto has none. Real boto3
clients talk to moto's server with the layer in front; every response is checked against
botocore's SSM model (tests/aws_shapes.py) before the test reads it."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.ssm.responses import SimpleSystemManagerResponse

from runbook.local.opscenter import OpsCenter

from .ssm_gaps import SsmGaps

EXECUTION_ARN = "arn:aws:states:us-east-1:123456789012:execution:IncidentResponse:inc-1"


def dedup(text: str) -> dict[str, str]:
    return {"Value": json.dumps({"dedupString": text}), "Type": "SearchableString"}


def create(ssm: Any, title: str, **extra: Any) -> str:
    params: dict[str, Any] = {
        "Title": title,
        "Source": "IncidentRunbook",
        "Description": f"{title}: opened by the runbook",
        **extra,
    }
    item_id: str = ssm.create_ops_item(**params)["OpsItemId"]
    return item_id


def test_an_ops_item_is_created_and_read_back_as_aws_describes_it(ssm_gaps: SsmGaps) -> None:
    ssm = ssm_gaps.client("ssm")
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    created = ssm.create_ops_item(
        Title="orders-api-errors is in ALARM",
        Source="IncidentRunbook",
        Description="Errors >= 1 for 1 datapoint",
        Severity="1",
        Priority=1,
        Category="Availability",
        OperationalData={
            "execution": {"Value": EXECUTION_ARN, "Type": "SearchableString"},
            "/aws/resources": {
                "Value": json.dumps(
                    [{"arn": "arn:aws:lambda:us-east-1:123456789012:function:orders-api"}]
                ),
                "Type": "SearchableString",
            },
            "/aws/dedup": dedup("inc-1"),
        },
        Tags=[{"Key": "incident", "Value": "inc-1"}],
    )
    item_id = created["OpsItemId"]
    assert item_id.startswith("oi-") and len(item_id) == 15
    assert created["OpsItemArn"] == f"arn:aws:ssm:us-east-1:123456789012:opsitem/{item_id}"

    item = ssm.get_ops_item(OpsItemId=item_id)["OpsItem"]
    assert item["Status"] == "Open"
    assert item["OpsItemType"] == "/aws/issue"
    assert item["Version"] == "1"
    assert (item["Title"], item["Severity"], item["Priority"]) == (
        "orders-api-errors is in ALARM",
        "1",
        1,
    )
    assert item["OperationalData"]["execution"] == {
        "Value": EXECUTION_ARN,
        "Type": "SearchableString",
    }
    assert item["CreatedBy"] == "arn:aws:sts::123456789012:user/moto"
    assert item["CreatedTime"] >= before
    assert item["LastModifiedTime"] == item["CreatedTime"]


def test_updates_change_status_and_merge_operational_data(ssm_gaps: SsmGaps) -> None:
    ssm = ssm_gaps.client("ssm")
    first = create(ssm, "upstream database down")
    item_id = create(
        ssm,
        "orders-api latency",
        OperationalData={
            "execution": {"Value": EXECUTION_ARN, "Type": "SearchableString"},
            "stale": {"Value": "x", "Type": "String"},
        },
    )
    created = ssm.get_ops_item(OpsItemId=item_id)["OpsItem"]

    ssm.update_ops_item(OpsItemId=item_id, Status="InProgress")
    ssm.update_ops_item(
        OpsItemId=item_id,
        Status="Resolved",
        OperationalData={
            "execution": {"Value": EXECUTION_ARN + "-2", "Type": "SearchableString"},
            "postmortem": {"Value": "s3://bucket/incidents/inc-1/postmortem.md", "Type": "String"},
        },
        OperationalDataToDelete=["stale"],
        RelatedOpsItems=[{"OpsItemId": first}],
        ActualEndTime=dt.datetime(2026, 1, 5, 10, 0, tzinfo=dt.UTC),
    )

    item = ssm.get_ops_item(OpsItemId=item_id)["OpsItem"]
    assert item["Status"] == "Resolved"
    assert item["Version"] == "3"
    assert set(item["OperationalData"]) == {"execution", "postmortem"}
    assert item["OperationalData"]["execution"]["Value"] == EXECUTION_ARN + "-2"
    assert item["RelatedOpsItems"] == [{"OpsItemId": first}]
    assert item["ActualEndTime"] == dt.datetime(2026, 1, 5, 10, 0, tzinfo=dt.UTC)
    assert item["LastModifiedTime"] > created["LastModifiedTime"]


def test_a_repeated_dedup_string_is_refused_while_the_first_is_open(ssm_gaps: SsmGaps) -> None:
    ssm = ssm_gaps.client("ssm")
    first = create(ssm, "incident inc-dedup", OperationalData={"/aws/dedup": dedup("inc-dedup")})

    with pytest.raises(ssm.exceptions.OpsItemAlreadyExistsException) as refused:
        create(ssm, "incident inc-dedup again", OperationalData={"/aws/dedup": dedup("inc-dedup")})
    assert refused.value.response["OpsItemId"] == first

    ssm.update_ops_item(OpsItemId=first, Status="InProgress")
    with pytest.raises(ssm.exceptions.OpsItemAlreadyExistsException):
        create(ssm, "still in progress", OperationalData={"/aws/dedup": dedup("inc-dedup")})

    ssm.update_ops_item(OpsItemId=first, Status="Resolved")
    second = create(ssm, "reopened", OperationalData={"/aws/dedup": dedup("inc-dedup")})
    assert second != first

    with pytest.raises(ssm.exceptions.OpsItemInvalidParameterException):
        ssm.update_ops_item(OpsItemId=second, OperationalData={"/aws/dedup": dedup("other")})


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"Title": "t" * 1025}, "Title"),
        ({"Description": "d" * 2049}, "Description"),
        ({"Source": "s" * 129}, "Source"),
        ({"Priority": 6}, "Priority"),
        ({"OperationalData": {"aws:reserved": {"Value": "v"}}}, "OperationalData"),
        ({"OperationalData": {"/ssm/mine": {"Value": "v"}}}, "OperationalData"),
        ({"OperationalData": {"big": {"Value": "v" * (20 * 1024 + 1)}}}, "OperationalData"),
        ({"OperationalData": {"/aws/dedup": {"Value": "not json"}}}, "OperationalData"),
        ({"RelatedOpsItems": [{"OpsItemId": "oi-nothex"}]}, "RelatedOpsItems"),
    ],
)
def test_invalid_parameters_are_refused_naming_the_parameter(
    ssm_gaps: SsmGaps, params: dict[str, Any], parameter: str
) -> None:
    ssm = ssm_gaps.client("ssm")
    request = {"Title": "valid", "Source": "IncidentRunbook", "Description": "valid", **params}
    with pytest.raises(ssm.exceptions.OpsItemInvalidParameterException) as refused:
        ssm.create_ops_item(**request)
    assert refused.value.response["ParameterNames"] == [parameter]


def test_unknown_ops_items_and_statuses_outside_an_issue_are_refused(ssm_gaps: SsmGaps) -> None:
    ssm = ssm_gaps.client("ssm")
    with pytest.raises(ssm.exceptions.OpsItemNotFoundException):
        ssm.get_ops_item(OpsItemId="oi-000000000000")
    item_id = create(ssm, "status check")
    with pytest.raises(ssm.exceptions.OpsItemInvalidParameterException):
        ssm.update_ops_item(OpsItemId=item_id, Status="Approved")
    with pytest.raises(ssm.exceptions.OpsItemNotFoundException):
        ssm.update_ops_item(OpsItemId="oi-000000000000", Status="Resolved")
    # OpsItems belong to a region.
    with pytest.raises(ClientError) as elsewhere:
        ssm_gaps.client("ssm", "eu-west-1").get_ops_item(OpsItemId=item_id)
    assert elsewhere.value.response["Error"]["Code"] == "OpsItemNotFoundException"
    # the well-known keys are allowed.
    create(ssm, "with automations", OperationalData={"/aws/automations": {"Value": "[]"}})


def test_describe_filters_on_status_title_source_data_and_id(ssm_gaps: SsmGaps) -> None:
    ssm = ssm_gaps.client("ssm")
    tag = "filters-7f3a"
    searchable = create(
        ssm,
        f"{tag} payments down",
        Source=f"{tag}-source",
        OperationalData={
            "incident": {"Value": f"{tag}-inc-1", "Type": "SearchableString"},
            "secret": {"Value": "hidden", "Type": "String"},
        },
    )
    other = create(ssm, f"{tag} checkout slow", Source=f"{tag}-source")
    ssm.update_ops_item(OpsItemId=other, Status="Resolved")

    def found(*filters: dict[str, Any]) -> list[str]:
        summaries = ssm.describe_ops_items(OpsItemFilters=list(filters))["OpsItemSummaries"]
        return sorted(s["OpsItemId"] for s in summaries)

    mine = {"Key": "Source", "Values": [f"{tag}-source"], "Operator": "Equal"}
    assert found(mine) == sorted([searchable, other])
    assert found(mine, {"Key": "Status", "Values": ["Open"], "Operator": "Equal"}) == [searchable]
    assert found(
        mine, {"Key": "Status", "Values": ["Open", "Resolved"], "Operator": "Equal"}
    ) == sorted([searchable, other])
    assert found({"Key": "Title", "Values": [f"{tag} checkout"], "Operator": "Contains"}) == [other]
    assert found({"Key": "OpsItemId", "Values": [other], "Operator": "Equal"}) == [other]
    pair = json.dumps({"key": "incident", "value": f"{tag}-inc-1"})
    assert found({"Key": "OperationalData", "Values": [pair], "Operator": "Equal"}) == [searchable]
    assert found(
        mine, {"Key": "OperationalDataKey", "Values": ["incident"], "Operator": "Equal"}
    ) == [searchable]
    # String (not searchable) data can't be searched and isn't shown in summaries.
    hidden = json.dumps({"key": "secret", "value": "hidden"})
    assert found({"Key": "OperationalData", "Values": [hidden], "Operator": "Equal"}) == []
    summary = ssm.describe_ops_items(
        OpsItemFilters=[mine, {"Key": "Status", "Values": ["Open"], "Operator": "Equal"}]
    )["OpsItemSummaries"][0]
    assert set(summary["OperationalData"]) == {"incident"}
    assert "secret" in ssm.get_ops_item(OpsItemId=searchable)["OpsItem"]["OperationalData"]

    with pytest.raises(ClientError):
        ssm.describe_ops_items(
            OpsItemFilters=[{"Key": "Status", "Values": ["Open"], "Operator": "Contains"}]
        )


def test_describe_pages_with_max_results(ssm_gaps: SsmGaps) -> None:
    ssm = ssm_gaps.client("ssm")
    source = "paging-31c2"
    made = {create(ssm, f"paging {n}", Source=source) for n in range(5)}
    mine = [{"Key": "Source", "Values": [source], "Operator": "Equal"}]
    first = ssm.describe_ops_items(OpsItemFilters=mine, MaxResults=2)
    assert len(first["OpsItemSummaries"]) == 2 and first["NextToken"]
    pages = ssm.get_paginator("describe_ops_items").paginate(
        OpsItemFilters=mine, PaginationConfig={"PageSize": 2}
    )
    seen = [s["OpsItemId"] for p in pages for s in p["OpsItemSummaries"]]
    assert sorted(seen) == sorted(made) and len(seen) == 5
    assert len(ssm_gaps.opscenter.ops_items()) >= 5


def test_the_same_operations_serve_moto_in_process(aws_env: None) -> None:
    """Handler tests under mock_aws get OpsItems without a server."""
    opscenter = OpsCenter()
    with mock_aws(), opscenter.in_moto(SimpleSystemManagerResponse):
        ssm = boto3.client("ssm", region_name="us-east-1")
        item_id = ssm.create_ops_item(Title="t", Source="s", Description="d")["OpsItemId"]
        ssm.update_ops_item(OpsItemId=item_id, Status="Resolved")
        assert ssm.get_ops_item(OpsItemId=item_id)["OpsItem"]["Status"] == "Resolved"
        with pytest.raises(ssm.exceptions.OpsItemNotFoundException):
            ssm.get_ops_item(OpsItemId="oi-000000000000")
    assert not hasattr(SimpleSystemManagerResponse, "create_ops_item")
