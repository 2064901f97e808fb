"""Parsing the three execution input shapes and AWS-documented alarm events."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest

from incidents.events import (
    parse_alarm_event,
    parse_eventbridge_event,
    parse_execution_input,
    parse_operator_input,
)
from incidents.model import Resource
from shared.errors import InvalidIncidentInput

STARTED = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)

# AWS Health event as documented (AWS Health User Guide, "Monitoring AWS Health events").
HEALTH_EVENT = {
    "version": "0",
    "id": "7bf73129-1428-4cd3-a780-95db273d1602",
    "detail-type": "AWS Health Event",
    "source": "aws.health",
    "account": "123456789012",
    "time": "2023-01-27T09:01:22Z",
    "region": "us-east-1",
    "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-0123456789abcdef0"],
    "detail": {
        "eventArn": "arn:aws:health:us-east-1::event/EC2/AWS_EC2_OPERATIONAL_ISSUE/abc",
        "service": "EC2",
        "eventTypeCode": "AWS_EC2_OPERATIONAL_ISSUE",
        "eventTypeCategory": "issue",
        "eventDescription": [{"language": "en_US", "latestDescription": "Increased errors"}],
    },
}


def test_documented_alarm_event_is_parsed(alarm_event) -> None:
    signal = parse_alarm_event(alarm_event())
    assert signal.kind == "alarm"
    assert signal.alarm_name == "orders-api-errors"
    assert signal.alarm_arn == "arn:aws:cloudwatch:us-east-1:123456789012:alarm:orders-api-errors"
    assert signal.state_value == "ALARM"
    assert signal.occurred_at == datetime(2019, 10, 2, 17, 4, 40, 985000, tzinfo=UTC)
    assert signal.namespaces == ["AWS/Lambda"]
    assert signal.metric_names == ["Errors"]
    assert signal.resources == [Resource(type="AWS::Lambda::Function", id="orders-api")]
    assert signal.account == "123456789012"
    assert signal.region == "us-east-1"
    assert "Threshold Crossed" in signal.state_reason
    assert signal.description.startswith("Errors of the orders API function")


def test_redelivered_or_republished_event_maps_to_the_same_incident(alarm_event) -> None:
    original = alarm_event()
    republished = copy.deepcopy(original)
    republished["id"] = "another-event-id"  # e.g. forwarded over a cross-account bus
    assert parse_alarm_event(original).incident_id() == parse_alarm_event(republished).incident_id()


def test_a_new_transition_is_a_new_incident(alarm_event) -> None:
    first = parse_alarm_event(alarm_event())
    later = parse_alarm_event(alarm_event(timestamp="2019-10-02T18:00:00.000+0000"))
    assert first.incident_id() != later.incident_id()


def test_ok_event_parses_with_its_state(alarm_event) -> None:
    assert parse_alarm_event(alarm_event(state="OK")).state_value == "OK"


def test_metric_math_and_composite_alarms_have_no_metric_resources(alarm_event) -> None:
    event = alarm_event()
    event["detail"]["configuration"] = {
        "metrics": [{"id": "e1", "expression": "m1/m2", "label": "ratio", "returnData": True}]
    }
    assert parse_alarm_event(event).resources == []
    event["detail"]["configuration"] = {"alarmRule": "ALARM(a) OR ALARM(b)"}
    assert parse_alarm_event(event).resources == []


@pytest.mark.parametrize(
    "mutate",
    [
        lambda e: e["detail"].pop("alarmName"),
        lambda e: e["detail"]["state"].pop("timestamp"),
        lambda e: e["detail"]["state"].update(timestamp="yesterday"),
        lambda e: e.update(resources=[]),
        lambda e: e.update(source="aws.ec2"),
        lambda e: e.pop("detail-type"),
    ],
)
def test_malformed_alarm_events_raise_typed_error(alarm_event, mutate) -> None:
    event = alarm_event()
    mutate(event)
    with pytest.raises(InvalidIncidentInput):
        parse_alarm_event(event)


def test_other_eventbridge_sources_parse_generically() -> None:
    signal = parse_eventbridge_event(HEALTH_EVENT)
    assert signal.kind == "event"
    assert signal.source == "aws.health"
    assert signal.title == "AWS Health Event (aws.health)"
    assert signal.resources[0].id.endswith("i-0123456789abcdef0")
    assert signal.incident_id().startswith("inc-20230127-090122-")


def test_operator_input() -> None:
    signal = parse_operator_input(
        {
            "title": "Checkout slow",
            "severity": "high",
            "resources": [{"type": "AWS::Lambda::Function", "id": "checkout"}],
            "description": "p99 > 3s",
        },
        STARTED,
        "inc-20240501-090000-0badcafe",
    )
    assert signal.kind == "operator"
    assert signal.requested_severity == "high"
    assert signal.occurred_at == STARTED
    assert signal.resources == [Resource(type="AWS::Lambda::Function", id="checkout")]


@pytest.mark.parametrize(
    "body",
    [
        {"title": ""},
        {"title": "x", "severity": "sev1"},
        {"title": "x", "resources": [{"type": "AWS::Lambda::Function"}]},
        {"title": "x", "unexpected": 1},
    ],
)
def test_invalid_operator_input_is_rejected(body) -> None:
    with pytest.raises(InvalidIncidentInput):
        parse_operator_input(body, STARTED, "name")


def test_execution_input_shapes(alarm_event) -> None:
    event = alarm_event()
    given, signal = parse_execution_input(
        {"incident_id": "inc-20191002-170440-aaaaaaaa", "event": event}, STARTED, "n"
    )
    assert given == "inc-20191002-170440-aaaaaaaa"
    assert signal.alarm_name == "orders-api-errors"

    given, signal = parse_execution_input(event, STARTED, "n")
    assert given is None
    assert signal.kind == "alarm"

    given, signal = parse_execution_input({"title": "Manual"}, STARTED, "n")
    assert given is None
    assert signal.kind == "operator"


@pytest.mark.parametrize(
    "data",
    [
        [],
        "text",
        {},
        {"incident_id": 5, "event": {}},
        {"incident_id": "x", "event": {}, "extra": 1},
    ],
)
def test_unknown_execution_input_shapes_are_rejected(data) -> None:
    with pytest.raises(InvalidIncidentInput):
        parse_execution_input(data, STARTED, "n")


def test_signal_opens_a_pending_incident(alarm_event) -> None:
    signal = parse_alarm_event(alarm_event())
    incident = signal.to_incident(signal.incident_id())
    assert incident.status == "OPEN"
    assert incident.severity_rule == "pending classification"
    assert incident.opened_at == "2019-10-02T17:04:40Z"
    assert incident.timeline[0].event == "opened"
    item = incident.to_item()
    assert item["alarm_arn"] == signal.alarm_arn
    assert "task_token" not in item  # absent values stay absent (sparse GSI)
