"""classify against moto: reads the alarm's Severity tag, opens or loads the record, and
answers in the shape the ASL's ResultSelector expects."""

from __future__ import annotations

import json

import boto3
import pytest

from handlers import classify
from shared.errors import InvalidIncidentInput

EXECUTION_ARN = "arn:aws:states:us-east-1:123456789012:execution:IncidentResponse:{name}"
STARTED_AT = "2024-05-01T14:03:07.123Z"


def _payload(execution_input, name: str) -> dict:
    return {
        "input": execution_input,
        "execution_name": name,
        "execution_arn": EXECUTION_ARN.format(name=name),
        "started_at": STARTED_AT,
    }


def _alarm(name: str, tags: list[dict[str, str]]) -> None:
    boto3.client("cloudwatch", region_name="us-east-1").put_metric_alarm(
        AlarmName=name,
        Namespace="AWS/Lambda",
        MetricName="Errors",
        Dimensions=[{"Name": "FunctionName", "Value": "orders-api"}],
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=5,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        Tags=tags,
    )


def test_alarm_tag_decides_severity(incident_table, alarm_event, lambda_context) -> None:
    _alarm("orders-api-errors", [{"Key": "Severity", "Value": "critical"}])
    event = alarm_event()
    incident_id = "inc-20191002-170440-549f6068"

    result = classify.lambda_handler(
        _payload({"incident_id": incident_id, "event": event}, incident_id), lambda_context
    )

    incident = result["incident"]
    assert incident["incident_id"] == incident_id
    assert (incident["severity"], incident["severity_rule"]) == (
        "critical",
        "tag: Severity=critical",
    )
    assert incident["execution_arn"] == EXECUTION_ARN.format(name=incident_id)
    assert incident["alarm_name"] == "orders-api-errors"
    assert incident["resources"] == [{"type": "AWS::Lambda::Function", "id": "orders-api"}]
    assert "task_token" not in incident and "timeline" not in incident
    assert result["notification"]["subject"] == "[CRITICAL] orders-api: orders-api-errors"
    assert len(result["notification"]["subject"]) < 100
    assert incident_id in result["notification"]["message"]
    item = incident_table.get_item(Key={"incident_id": incident_id})["Item"]
    assert item["severity"] == "critical"
    assert item["execution_arn"] == incident["execution_arn"]
    assert item["timeline"][-1]["event"] == "classified"


def test_without_tag_the_policy_patterns_apply(
    incident_table, alarm_event, lambda_context, monkeypatch
) -> None:
    _alarm("orders-api-errors", [{"Key": "team", "Value": "orders"}])
    monkeypatch.setenv(
        "SEVERITY_POLICY",
        json.dumps({"severityPatterns": [{"pattern": "-errors$", "severity": "high"}]}),
    )
    result = classify.lambda_handler(_payload(alarm_event(), "raw-event-run"), lambda_context)

    assert result["incident"]["incident_id"] == "raw-event-run"  # raw event: the execution name
    assert result["incident"]["severity"] == "high"
    assert result["incident"]["severity_rule"] == "pattern: -errors$"


def test_deleted_alarm_falls_back_without_failing(
    incident_table, alarm_event, lambda_context
) -> None:
    result = classify.lambda_handler(_payload(alarm_event(), "gone-alarm"), lambda_context)
    assert (result["incident"]["severity"], result["incident"]["severity_rule"]) == (
        "standard",
        "default",
    )


def test_operator_input(incident_table, lambda_context, monkeypatch) -> None:
    monkeypatch.setenv("TIMEZONE", "America/New_York")
    name = "inc-20240501-140307-0badcafe"
    result = classify.lambda_handler(
        _payload({"title": "Checkout slow", "severity": "high", "description": "p99 3s"}, name),
        lambda_context,
    )
    incident = result["incident"]
    assert incident["source"] == "operator"
    assert (incident["severity"], incident["severity_rule"]) == ("high", "operator: severity given")
    assert incident["opened_at"] == "2024-05-01T14:03:07Z"
    assert "2024-05-01 10:03:07 EDT" in result["notification"]["message"]
    assert incident_table.get_item(Key={"incident_id": name})["Item"]["title"] == "Checkout slow"


def test_classify_keeps_the_record_ingest_created(
    incident_table, alarm_event, lambda_context
) -> None:
    incident_id = "inc-20191002-170440-549f6068"
    incident_table.put_item(
        Item={
            "incident_id": incident_id,
            "title": "opened by ingest",
            "status": "OPEN",
            "opened_at": "2019-10-02T17:04:40Z",
            "severity": "standard",
            "severity_rule": "pending classification",
            "timeline": [{"at": "2019-10-02T17:04:40Z", "event": "opened", "detail": ""}],
        }
    )
    classify.lambda_handler(
        _payload({"incident_id": incident_id, "event": alarm_event()}, incident_id), lambda_context
    )
    item = incident_table.get_item(Key={"incident_id": incident_id})["Item"]
    assert item["title"] == "opened by ingest"
    assert [t["event"] for t in item["timeline"]] == ["opened", "classified"]


@pytest.mark.parametrize(
    "event",
    [
        {"input": {"title": "x"}},
        {"input": {"nonsense": 1}, "execution_name": "n", "execution_arn": "a", "started_at": "t"},
        _payload({"nonsense": True}, "n"),
    ],
)
def test_invalid_input_raises_the_typed_error(incident_table, lambda_context, event) -> None:
    with pytest.raises(InvalidIncidentInput):
        classify.lambda_handler(event, lambda_context)


def test_first_classification_emits_incidents_opened(
    incident_table, lambda_context, capsys
) -> None:
    name = "inc-20240501-140307-0badcafe"
    classify.lambda_handler(_payload({"title": "Checkout slow"}, name), lambda_context)
    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    opened = next(b for b in blobs if "IncidentsOpened" in b)
    assert opened["IncidentsOpened"] == [1.0]
    assert opened["severity"] == "standard"
    assert opened["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "IncidentRunbook"
