"""ingest against moto: an ALARM starts one execution named after the incident; redelivery
does not start a second; unusable events are recorded, never dropped or raised."""

from __future__ import annotations

import copy
import json

import boto3
import pytest

from handlers import ingest
from incidents.events import parse_alarm_event


@pytest.fixture
def ready(incident_table, state_machine) -> str:
    return state_machine


def _executions(state_machine_arn: str) -> list[dict]:
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    return sfn.list_executions(stateMachineArn=state_machine_arn)["executions"]


def test_alarm_opens_incident_and_starts_execution(
    ready, incident_table, alarm_event, lambda_context
) -> None:
    event = alarm_event()
    expected_id = parse_alarm_event(event).incident_id()

    result = ingest.lambda_handler(event, lambda_context)

    assert result["status"] == "started"
    assert result["duplicate"] is False
    assert result["incident_id"] == expected_id
    executions = _executions(ready)
    assert [e["name"] for e in executions] == [expected_id]
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    started = sfn.describe_execution(executionArn=executions[0]["executionArn"])
    assert json.loads(started["input"]) == {"incident_id": expected_id, "event": event}
    item = incident_table.get_item(Key={"incident_id": expected_id})["Item"]
    assert item["status"] == "OPEN"
    assert item["alarm_arn"] == event["resources"][0]
    assert item["execution_arn"] == executions[0]["executionArn"]
    assert item["resources"] == [{"type": "AWS::Lambda::Function", "id": "orders-api"}]
    assert [t["event"] for t in item["timeline"]] == ["opened", "workflow started"]


def test_redelivered_event_is_a_duplicate(ready, alarm_event, lambda_context) -> None:
    event = alarm_event()
    first = ingest.lambda_handler(event, lambda_context)
    again = ingest.lambda_handler(copy.deepcopy(event), lambda_context)

    assert again["status"] == "duplicate"
    assert again["duplicate"] is True
    assert again["execution_arn"] == first["execution_arn"]
    assert len(_executions(ready)) == 1


def test_same_transition_in_a_different_envelope_is_a_duplicate(
    ready, alarm_event, lambda_context
) -> None:
    event = alarm_event()
    ingest.lambda_handler(event, lambda_context)
    forwarded = copy.deepcopy(event)
    forwarded["id"] = "forwarded-by-the-central-bus"  # different input: ExecutionAlreadyExists

    result = ingest.lambda_handler(forwarded, lambda_context)

    assert result["duplicate"] is True
    assert len(_executions(ready)) == 1


def test_alarm_firing_again_while_open_is_correlated(ready, alarm_event, lambda_context) -> None:
    first = ingest.lambda_handler(alarm_event(), lambda_context)
    later = alarm_event(timestamp="2019-10-02T17:30:00.000+0000")

    result = ingest.lambda_handler(later, lambda_context)

    assert result["status"] == "correlated"
    assert result["incident_id"] == first["incident_id"]
    assert result["execution_arn"] == first["execution_arn"]
    assert len(_executions(ready)) == 1


def test_other_alarms_open_their_own_incident(ready, alarm_event, lambda_context) -> None:
    ingest.lambda_handler(alarm_event(), lambda_context)
    other = ingest.lambda_handler(
        alarm_event(alarm_name="billing-errors", function_name="billing-api"), lambda_context
    )
    assert other["status"] == "started"
    assert len(_executions(ready)) == 2


@pytest.mark.parametrize(
    "event",
    [
        {"hello": "world"},
        {"detail-type": "CloudWatch Alarm State Change", "source": "aws.cloudwatch", "detail": {}},
    ],
)
def test_malformed_events_are_recorded_not_raised(
    ready, incident_table, lambda_context, event
) -> None:
    result = ingest.lambda_handler(event, lambda_context)

    assert result["status"] == "rejected"
    assert result["error"] == "InvalidIncidentInput"
    items = incident_table.scan()["Items"]
    assert len(items) == 1
    assert items[0]["incident_id"].startswith("error#")
    assert json.loads(items[0]["raw_event"]) == event
    assert items[0]["reason"] == result["reason"]
    assert _executions(ready) == []


def test_ok_event_routed_to_ingest_is_rejected(
    ready, incident_table, alarm_event, lambda_context
) -> None:
    result = ingest.lambda_handler(alarm_event(state="OK"), lambda_context)
    assert result["status"] == "rejected"
    assert "not ALARM" in result["reason"]
    assert _executions(ready) == []


def test_logs_carry_the_incident_id_as_correlation_id(
    ready, alarm_event, lambda_context, log_stream
) -> None:
    result = ingest.lambda_handler(alarm_event(), lambda_context)
    lines = [json.loads(line) for line in log_stream.getvalue().splitlines()]
    opened = next(line for line in lines if line["message"] == "incident opened")
    assert opened["correlation_id"] == result["incident_id"]
    assert opened["function_request_id"] == lambda_context.aws_request_id


def test_the_runbooks_own_alarm_is_set_aside_and_said(
    ready, incident_table, alarm_event, lambda_context, monkeypatch, log_stream
) -> None:
    """The drills' dead-man's switch notifies its own topic: its ALARM opens no incident, and
    ingest says it set it aside (the rule lets every alarm event through, so malformed ones
    still become error records)."""
    from shared.config import reset_settings

    monkeypatch.setenv("IGNORED_ALARM_PREFIX", "IncidentRunbook-drill-")
    reset_settings()
    event = alarm_event()
    event["detail"]["alarmName"] = "IncidentRunbook-drill-dead-mans-switch"
    event["resources"] = [
        "arn:aws:cloudwatch:us-east-1:123456789012:alarm:IncidentRunbook-drill-dead-mans-switch"
    ]
    result = ingest.lambda_handler(event, lambda_context)
    assert result["status"] == "ignored"
    assert _executions(ready) == []
    assert incident_table.scan()["Items"] == []
    assert "own alarm set aside" in log_stream.getvalue()
    # Another alarm still opens its incident, with the prefix set.
    assert ingest.lambda_handler(alarm_event(), lambda_context)["status"] == "started"
