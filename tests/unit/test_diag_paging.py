"""paging.py without AWS (Stubber): the page limit holds for APIs whose token is not a
NextToken (API Gateway's `position`), and find_first reads no page past its match."""

from __future__ import annotations

import boto3
from botocore.stub import Stubber

from diagnostics.paging import find_first, paginate


def test_the_page_limit_holds_for_api_gateway_position() -> None:
    apigateway = boto3.client("apigateway", region_name="us-east-1")
    with Stubber(apigateway) as stub:
        stub.add_response("get_rest_apis", {"items": [{"id": "a1", "name": "a"}], "position": "p"})
        listing = paginate(apigateway, "get_rest_apis", "items", max_pages=1)
        stub.assert_no_pending_responses()
    assert (listing.pages, listing.truncated) == (1, True)
    assert [api["name"] for api in listing.items] == ["a"]


def test_find_first_stops_at_the_page_with_a_match() -> None:
    logs = boto3.client("logs", region_name="us-east-1")
    group = {"logGroupName": "/aws/lambda/orders-api"}
    with Stubber(logs) as stub:
        stub.add_response("describe_log_groups", {"logGroups": [], "nextToken": "t-2"})
        prefix = "/aws/lambda/orders"
        stub.add_response("describe_log_groups", {"logGroups": [group], "nextToken": "t-3"},
                          {"logGroupNamePrefix": prefix, "nextToken": "t-2"})  # fmt: skip
        found = find_first(logs, "describe_log_groups", "logGroups", lambda g: True,
                           logGroupNamePrefix=prefix)  # fmt: skip
        stub.assert_no_pending_responses()  # page t-3 was never asked for
    assert found == group


def test_find_first_gives_up_at_the_page_limit() -> None:
    logs = boto3.client("logs", region_name="us-east-1")
    with Stubber(logs) as stub:
        for token in ("t-2", "t-3"):
            stub.add_response("describe_log_groups", {"logGroups": [], "nextToken": token})
        found = find_first(logs, "describe_log_groups", "logGroups", lambda g: True, max_pages=2)
        stub.assert_no_pending_responses()
    assert found is None
