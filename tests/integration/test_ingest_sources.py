"""ingest against moto for every trigger, with AWS-documented sample events: what opens, what
joins, what folds, what is stored for diagnostics, and what is rejected (and recorded)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from diagnostics.health import StoredHealthEvents
from handlers import ingest
from incidents import alarm_tags
from incidents.repository import IncidentRepository
from incidents.sources.health import health_item_id
from tests.unit.test_events_sources import (
    COMPOSITE_ALARM_EVENT,
    HEALTH_EC2_ISSUE,
    HEALTH_EC2_RETIREMENT,
    codedeploy_event,
    ecs_stopped,
    health_event,
)

REGION = "us-east-1"


@pytest.fixture(autouse=True)
def ready(incident_table, state_machine) -> str:
    alarm_tags.clear_cache()
    return state_machine


def _executions(state_machine_arn: str) -> list[str]:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    return sorted(
        e["name"] for e in sfn.list_executions(stateMachineArn=state_machine_arn)["executions"]
    )


def _item(table: Any, key: str) -> dict[str, Any]:
    return table.get_item(Key={"incident_id": key})["Item"]


def _incidents(table: Any) -> list[str]:
    return [i.incident_id for i in IncidentRepository(table).list()]


def test_composite_alarm_opens_an_incident(ready, lambda_context, incident_table) -> None:
    result = ingest.lambda_handler(COMPOSITE_ALARM_EVENT, lambda_context)
    assert result["status"] == "started"
    item = _item(incident_table, result["incident_id"])
    assert item["alarm_name"] == "ServiceAggregatedAlarm"
    assert item["correlation_key"].endswith(":alarm:ServiceAggregatedAlarm")
    assert _executions(ready) == [result["incident_id"]]


def test_composite_alarm_folds_into_its_childs_open_incident(
    ready, lambda_context, alarm_event, incident_table
) -> None:
    child = alarm_event(alarm_name="ServerCpuTooHigh", timestamp="2022-07-22T15:56:00.000+0000")
    opened = ingest.lambda_handler(child, lambda_context)

    folded = ingest.lambda_handler(COMPOSITE_ALARM_EVENT, lambda_context)

    assert folded["status"] == "folded"
    assert folded["incident_id"] == opened["incident_id"]
    item = _item(incident_table, opened["incident_id"])
    assert item["signal_count"] == 2
    assert item["timeline"][-1]["event"] == "folded"
    assert "ServiceAggregatedAlarm" in item["timeline"][-1]["detail"]
    assert len(_executions(ready)) == 1


def test_alarms_on_the_same_resource_fold_within_the_window(
    ready, lambda_context, alarm_event, incident_table
) -> None:
    first = ingest.lambda_handler(alarm_event(alarm_name="orders-api-errors"), lambda_context)
    near = alarm_event(alarm_name="orders-api-throttles", timestamp="2019-10-02T17:07:00.000+0000")
    far = alarm_event(alarm_name="orders-api-duration", timestamp="2019-10-02T18:30:00.000+0000")

    assert ingest.lambda_handler(near, lambda_context)["status"] == "folded"
    later = ingest.lambda_handler(far, lambda_context)

    assert later["status"] == "started"  # outside the 5-minute correlation window
    assert later["incident_id"] != first["incident_id"]
    keys = _item(incident_table, first["incident_id"])["correlation_keys"]
    assert any(k.endswith(":alarm:orders-api-throttles") for k in keys)
    # The folded alarm's next firing joins the incident it folded into.
    again = alarm_event(alarm_name="orders-api-throttles", timestamp="2019-10-02T17:20:00.000+0000")
    assert ingest.lambda_handler(again, lambda_context)["incident_id"] == first["incident_id"]


def test_folding_can_be_switched_off(ready, lambda_context, alarm_event, monkeypatch) -> None:
    from incidents.policy import reset_ingest_policy

    monkeypatch.setenv("INGEST_POLICY", json.dumps({"foldByResource": False}))
    reset_ingest_policy()
    try:
        ingest.lambda_handler(alarm_event(alarm_name="orders-api-errors"), lambda_context)
        other = ingest.lambda_handler(
            alarm_event(alarm_name="orders-api-throttles"), lambda_context
        )
    finally:
        monkeypatch.delenv("INGEST_POLICY")
        reset_ingest_policy()
    assert other["status"] == "started"
    assert len(_executions(ready)) == 2


def test_health_issue_opens_an_aws_side_incident_and_is_stored_for_diagnostics(
    ready, lambda_context, incident_table
) -> None:
    result = ingest.lambda_handler(HEALTH_EC2_ISSUE, lambda_context)

    assert result["status"] == "started"
    incident = _item(incident_table, result["incident_id"])
    assert incident["aws_side"] is True
    assert incident["region"] == "af-south-1"
    assert incident["source"] == "aws.health"
    arn = HEALTH_EC2_ISSUE["detail"]["eventArn"]
    assert incident["health_event_arn"] == arn
    stored = _item(incident_table, health_item_id("123456789012", arn))
    assert stored["status"] == "HEALTH_EVENT" and stored["status_code"] == "open"
    # Exactly what collect_diagnostics reads without a support plan.
    found = StoredHealthEvents(incident_table).events(
        "123456789012", "af-south-1", datetime(2023, 1, 27, 7, tzinfo=UTC)
    )
    assert [e["event_arn"] for e in found] == [arn]
    # Listings show the incident, never the stored event or the claims.
    assert _incidents(incident_table) == [result["incident_id"]]


def test_alarm_on_the_health_events_service_and_region_folds_as_aws_side(
    ready, lambda_context, alarm_event, incident_table
) -> None:
    health = ingest.lambda_handler(HEALTH_EC2_ISSUE, lambda_context)
    alarm = _ec2_alarm(alarm_event, "web-1-cpu", "i-0aaa", "2023-01-27T09:05:00.000+0000")
    alarm2 = _ec2_alarm(alarm_event, "web-2-cpu", "i-0bbb", "2023-01-27T09:45:00.000+0000")

    results = [ingest.lambda_handler(e, lambda_context) for e in (alarm, alarm2)]

    assert [r["status"] for r in results] == ["folded", "folded"]
    assert {r["incident_id"] for r in results} == {health["incident_id"]}
    assert _executions(ready) == [health["incident_id"]]


def test_health_issue_marks_open_incidents_on_its_service_aws_side(
    ready, lambda_context, alarm_event, incident_table
) -> None:
    opened = ingest.lambda_handler(
        _ec2_alarm(alarm_event, "web-1-cpu", "i-0aaa", "2023-01-27T08:59:00.000+0000"),
        lambda_context,
    )
    unrelated = ingest.lambda_handler(
        alarm_event(alarm_name="orders-api-errors", timestamp="2023-01-27T08:59:00.000+0000"),
        lambda_context,
    )

    ingest.lambda_handler(HEALTH_EC2_ISSUE, lambda_context)

    marked = _item(incident_table, opened["incident_id"])
    assert marked["aws_side"] is True
    assert marked["health_event_arn"] == HEALTH_EC2_ISSUE["detail"]["eventArn"]
    assert marked["timeline"][-1]["event"] == "AWS-side"
    assert "aws_side" not in _item(incident_table, unrelated["incident_id"])


def test_health_update_joins_and_closed_update_is_recorded(
    ready, lambda_context, incident_table
) -> None:
    opened = ingest.lambda_handler(HEALTH_EC2_ISSUE, lambda_context)
    closed = health_event(statusCode="closed", lastUpdatedTime="Fri, 27 Jan 2023 11:00:00 GMT")

    result = ingest.lambda_handler(closed, lambda_context)

    assert result["status"] == "correlated"
    assert result["incident_id"] == opened["incident_id"]
    arn = HEALTH_EC2_ISSUE["detail"]["eventArn"]
    assert _item(incident_table, health_item_id("123456789012", arn))["status_code"] == "closed"
    # An older update arriving late does not overwrite the newer stored state.
    ingest.lambda_handler(HEALTH_EC2_ISSUE, lambda_context)
    assert _item(incident_table, health_item_id("123456789012", arn))["status_code"] == "closed"


def test_closed_health_event_without_an_incident_is_only_recorded(
    ready, lambda_context, incident_table
) -> None:
    result = ingest.lambda_handler(health_event(statusCode="closed"), lambda_context)
    assert result["status"] == "recorded"
    assert _executions(ready) == []
    assert _incidents(incident_table) == []


def test_scheduled_change_opens_a_standard_incident(ready, lambda_context, incident_table) -> None:
    result = ingest.lambda_handler(HEALTH_EC2_RETIREMENT, lambda_context)
    assert result["status"] == "started"
    assert "aws_side" not in _item(incident_table, result["incident_id"])


def test_ecs_task_stops_of_one_service_are_one_incident(
    ready, lambda_context, incident_table
) -> None:
    first = ingest.lambda_handler(ecs_stopped(task="aaaa"), lambda_context)
    second = ingest.lambda_handler(
        ecs_stopped(task="bbbb", stopped_at="2020-01-23T18:05:00.000Z"), lambda_context
    )
    assert (first["status"], second["status"]) == ("started", "correlated")
    assert second["incident_id"] == first["incident_id"]
    item = _item(incident_table, first["incident_id"])
    assert item["resources"][0] == {
        "type": "AWS::ECS::Service",
        "id": "FargateCluster/sample-fargate",
    }
    assert item["signal_count"] == 2


def test_normal_ecs_stop_is_rejected_and_recorded(ready, lambda_context, incident_table) -> None:
    event = ecs_stopped(
        "ServiceSchedulerInitiated", "Scaling activity initiated by (deployment ecs-svc/1)", 0
    )
    result = ingest.lambda_handler(event, lambda_context)
    assert result["status"] == "rejected"
    assert "normal scale-in" in result["reason"]
    (error,) = [i for i in incident_table.scan()["Items"] if i["incident_id"].startswith("error#")]
    assert json.loads(error["raw_event"]) == event
    assert _executions(ready) == []


def test_codedeploy_failures_of_one_group_are_one_incident(ready, lambda_context) -> None:
    first = ingest.lambda_handler(codedeploy_event(deployment="d-AAAAAAAAA"), lambda_context)
    retry = codedeploy_event(deployment="d-BBBBBBBBB")
    retry["time"] = "2016-06-30T22:30:00Z"
    second = ingest.lambda_handler(retry, lambda_context)
    assert (first["status"], second["status"]) == ("started", "correlated")
    assert _executions(ready) == [first["incident_id"]]


def test_successful_deployment_is_rejected(ready, lambda_context) -> None:
    result = ingest.lambda_handler(codedeploy_event(state="SUCCESS"), lambda_context)
    assert result["status"] == "rejected"
    assert result["error"] == "InvalidIncidentInput"


def test_a_more_severe_signal_upgrades_the_incident(
    ready, lambda_context, alarm_event, incident_table
) -> None:
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    cloudwatch.put_metric_alarm(
        AlarmName="orders-api-p1-latency", MetricName="Duration", Namespace="AWS/Lambda",
        Statistic="Average", Period=60, EvaluationPeriods=1, Threshold=1,
        ComparisonOperator="GreaterThanThreshold",
        Tags=[{"Key": "Severity", "Value": "critical"}],
    )  # fmt: skip
    opened = ingest.lambda_handler(alarm_event(alarm_name="orders-api-errors"), lambda_context)
    severe = alarm_event(
        alarm_name="orders-api-p1-latency", timestamp="2019-10-02T17:06:00.000+0000"
    )

    result = ingest.lambda_handler(severe, lambda_context)

    assert result["status"] == "folded"
    assert result["upgraded_to"] == "critical"
    item = _item(incident_table, opened["incident_id"])
    assert item["severity"] == "critical"
    assert item["severity_rule"].startswith("upgraded: tag: Severity=critical")
    # A less severe signal never downgrades it.
    again = alarm_event(alarm_name="orders-api-errors", timestamp="2019-10-02T17:08:00.000+0000")
    assert "upgraded_to" not in ingest.lambda_handler(again, lambda_context)
    assert _item(incident_table, opened["incident_id"])["severity"] == "critical"


def test_classify_keeps_an_upgrade_that_came_first(
    ready, lambda_context, alarm_event, incident_table
) -> None:
    from handlers import classify

    test_a_more_severe_signal_upgrades_the_incident(
        ready, lambda_context, alarm_event, incident_table
    )
    incident_id = _incidents(incident_table)[0]
    result = classify.lambda_handler(
        {
            "input": {"incident_id": incident_id, "event": alarm_event()},
            "execution_name": incident_id,
            "execution_arn": f"arn:aws:states:{REGION}:123456789012:execution:x:{incident_id}",
            "started_at": "2019-10-02T17:04:41.000Z",
        },
        lambda_context,
    )
    assert result["incident"]["severity"] == "critical"
    assert result["notification"]["subject"].startswith("[CRITICAL]")


def _ec2_alarm(alarm_event: Any, name: str, instance: str, timestamp: str) -> dict[str, Any]:
    event = alarm_event(alarm_name=name, timestamp=timestamp)
    event["region"] = "af-south-1"
    event["resources"] = [f"arn:aws:cloudwatch:af-south-1:123456789012:alarm:{name}"]
    metric = event["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]
    metric.update(namespace="AWS/EC2", name="CPUUtilization", dimensions={"InstanceId": instance})
    return copy.deepcopy(event)


def test_the_page_of_an_aws_side_incident_says_so(
    ready, lambda_context, incident_table, monkeypatch
) -> None:
    from handlers import classify
    from shared.config import reset_settings
    from stacks.settings import Settings

    monkeypatch.setenv("SEVERITY_POLICY", Settings().severity_policy_json())  # as deployed
    reset_settings()
    opened = ingest.lambda_handler(HEALTH_EC2_ISSUE, lambda_context)
    result = classify.lambda_handler(
        {
            "input": {"incident_id": opened["incident_id"], "event": HEALTH_EC2_ISSUE},
            "execution_name": opened["incident_id"],
            "execution_arn": opened["execution_arn"],
            "started_at": "2023-01-27T09:01:23.000Z",
        },
        lambda_context,
    )
    assert result["incident"]["severity"] == "high"
    assert result["incident"]["severity_rule"] == "source: aws.health/issue"
    assert "AWS side: an open AWS Health issue" in result["notification"]["message"]
