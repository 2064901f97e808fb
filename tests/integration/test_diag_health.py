"""AWS Health through Stubber (moto has no Health API): paged open events with details, and
the fallback to stored Health events in the incidents table (moto DynamoDB) when the account
has no support plan."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from botocore.stub import Stubber

from diagnostics.health import HealthSource, StoredHealthEvents
from diagnostics.paging import Deadline
from diagnostics.targets import Targets

from .diag_stubs import ACCOUNT, REGION, client, health_without_support_plan

START = datetime(2024, 5, 1, 13, 30, tzinfo=UTC)
ARN = "arn:aws:health:us-east-1::event/EC2/AWS_EC2_OPERATIONAL_ISSUE/AWS_EC2_OPERATIONAL_ISSUE_1"


def _event(arn: str, status: str, category: str = "issue") -> dict:
    return {"arn": arn, "service": "EC2", "eventTypeCode": "AWS_EC2_OPERATIONAL_ISSUE",
            "eventTypeCategory": category, "region": REGION, "statusCode": status,
            "startTime": datetime(2024, 5, 1, 13, 58, tzinfo=UTC),
            "lastUpdatedTime": datetime(2024, 5, 1, 14, 5, tzinfo=UTC)}  # fmt: skip


def test_open_issue_from_the_health_api(moto) -> None:
    health = client("health", region="us-east-1")
    with Stubber(health) as stub:
        expected = {"filter": {"regions": [REGION, "global"],
                               "eventStatusCodes": ["open", "closed"],
                               "lastUpdatedTimes": [{"from": START}],
                               "services": ["EC2"]}}  # fmt: skip
        first = {"events": [_event(ARN, "open")], "nextToken": "page2"}
        stub.add_response("describe_events", first, expected)
        notice = _event(ARN + "x", "closed", "accountNotification")
        stub.add_response(
            "describe_events", {"events": [notice]}, {**expected, "nextToken": "page2"}
        )
        stub.add_response("describe_event_details", {"successfulSet": [
            {"event": {"arn": ARN}, "eventDescription": {
                "latestDescription": "We are investigating increased API error rates."}}],
            "failedSet": []}, {"eventArns": [ARN, ARN + "x"]})  # fmt: skip
        (finding,) = HealthSource(health, StoredHealthEvents(None)).collect(
            Targets(instances=["i-1"], health_services=["EC2"]), ACCOUNT, REGION, START,
            Deadline.after(30), ["i-1"],
        )  # fmt: skip
        stub.assert_no_pending_responses()
    assert finding.summary == {"via": "health api", "events": 2, "open": 1}
    (cause,) = finding.causes
    assert cause.domain == "aws" and cause.ongoing is True
    assert cause.started_at == "2024-05-01T13:58:00Z"
    assert cause.evidence == ["We are investigating increased API error rates."]


def test_without_a_support_plan_stored_events_are_read(incident_table) -> None:
    stored = {
        "incident_id": "health#0123456789abcdef", "kind": "health_event",
        "status": "HEALTH_EVENT", "opened_at": "2024-05-01T13:58:00Z", "account": ACCOUNT,
        "region": REGION, "event_arn": ARN, "service": "EC2",
        "event_type_code": "AWS_EC2_OPERATIONAL_ISSUE", "event_type_category": "issue",
        "status_code": "open", "start_time": "2024-05-01T13:58:00Z",
        "description": "Increased error rates", "affected_entities": ["i-1"],
    }  # fmt: skip
    incident_table.put_item(Item=stored)
    incident_table.put_item(Item={**stored, "incident_id": "health#other", "account": "999"})
    health = client("health", region="us-east-1")
    with Stubber(health) as stub:
        health_without_support_plan(stub)
        (finding,) = HealthSource(health, StoredHealthEvents(incident_table)).collect(
            Targets(instances=["i-1"], health_services=["EC2"]), ACCOUNT, REGION,
            START - timedelta(minutes=1), Deadline.after(30), ["i-1"],
        )  # fmt: skip
    assert finding.status == "ok"
    assert "SubscriptionRequiredException" in finding.message
    assert "stored from EventBridge" in finding.message
    assert finding.summary == {"via": "stored events", "events": 1, "open": 1}
    (cause,) = finding.causes
    assert cause.scope == "1 of 1 incident resources named by AWS"


def test_without_a_support_plan_or_a_table_it_says_so(moto) -> None:
    health = client("health", region="us-east-1")
    with Stubber(health) as stub:
        health_without_support_plan(stub)
        (finding,) = HealthSource(health, StoredHealthEvents(None)).collect(
            Targets(), ACCOUNT, REGION, START, Deadline.after(30), []
        )
    assert finding.summary["events"] == 0 and "read 0 Health events" in finding.message


def test_an_endpoint_without_the_health_api_falls_back_too(moto) -> None:
    # moto (and so the local emulator) answers 404 for the Health API.
    health = client("health", region="us-east-1")
    (finding,) = HealthSource(health, StoredHealthEvents(None)).collect(
        Targets(), ACCOUNT, REGION, START, Deadline.after(30), []
    )
    assert finding.status == "ok"
    assert "not offered here" in finding.message and finding.summary["via"] == "stored events"


def test_a_closed_issue_counts_only_if_it_was_still_open_in_the_window(moto) -> None:
    """DescribeEvents' lastUpdatedTimes also returns issues AWS closed before the incident
    (updated later): those did not cause it. One that closed inside the window did."""
    before = {**_event(ARN + "-old", "closed"), "startTime": START - timedelta(hours=5),
              "endTime": START - timedelta(minutes=10)}  # fmt: skip
    during = {**_event(ARN, "closed"), "endTime": START + timedelta(minutes=40)}
    health = client("health", region="us-east-1")
    with Stubber(health) as stub:
        stub.add_response("describe_events", {"events": [before, during]})
        stub.add_response("describe_event_details", {"successfulSet": [], "failedSet": []})
        (finding,) = HealthSource(health, StoredHealthEvents(None)).collect(
            Targets(instances=["i-1"], health_services=["EC2"]), ACCOUNT, REGION, START,
            Deadline.after(30), ["i-1"],
        )  # fmt: skip
    assert finding.summary == {"via": "health api", "events": 2, "open": 0}
    (cause,) = finding.causes
    assert cause.resources == [ARN]  # the one that closed inside the window
    assert cause.ongoing is False
    assert cause.started_at == "2024-05-01T13:58:00Z"
