"""Reading alarm history from CloudWatch (runbook/replay/account.py), against botocore's
Stubber with the documented request and response shapes (moto 5.2.5 has no
DescribeAlarmHistory)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from runbook.replay import ReplayError
from runbook.replay.account import read_account
from runbook.replay.history import parse, select

from .samples import T0, arn, item, metric_alarm

END = T0 + timedelta(hours=6)


def _history_call(items: list[dict[str, Any]], token: str | None, next_token: str | None) -> tuple:
    expected: dict[str, Any] = {
        "HistoryItemType": "StateUpdate",
        "AlarmTypes": ["MetricAlarm"],
        "StartDate": T0,
        "EndDate": END,
        "ScanBy": "TimestampAscending",
    }
    if token:
        expected["NextToken"] = token
    response: dict[str, Any] = {
        "AlarmHistoryItems": [{**i, "Timestamp": T0 + timedelta(minutes=n)} for n, i in items]
    }
    if next_token:
        response["NextToken"] = next_token
    return response, expected


@pytest.fixture
def cloudwatch() -> Any:
    return boto3.client("cloudwatch", region_name="eu-west-1")


def test_pages_are_followed_the_pattern_filters_and_alarms_and_tags_are_read(
    cloudwatch: Any,
) -> None:
    stub = Stubber(cloudwatch)
    first = [
        (0, item("orders-errors", 0, "OK", "ALARM")),
        (1, item("search-5xx", 1, "OK", "ALARM")),
    ]
    second = [(30, item("orders-errors", 30, "ALARM", "OK"))]
    stub.add_response("describe_alarm_history", *_history_call(first, None, "t-2"))
    stub.add_response("describe_alarm_history", *_history_call(second, "t-2", None))
    stub.add_response(
        "describe_alarms",
        {"MetricAlarms": [metric_alarm("orders-errors")]},
        {"AlarmNames": ["orders-errors"], "AlarmTypes": ["MetricAlarm"]},
    )
    stub.add_response(
        "list_tags_for_resource",
        {"Tags": [{"Key": "Severity", "Value": "high"}]},
        {"ResourceARN": arn("orders-errors")},
    )
    with stub:
        responses = read_account(cloudwatch, T0, END, "^orders")
    stub.assert_no_pending_responses()

    assert [len(r.get("AlarmHistoryItems", [])) for r in responses[:2]] == [1, 1]
    history = select(parse(responses, "account"), source="the account")
    assert [(c.alarm, c.new) for c in history.changes] == [
        ("orders-errors", "ALARM"),
        ("orders-errors", "OK"),
    ]
    assert history.tags == {"orders-errors": {"Severity": "high"}}
    assert history.alarms["orders-errors"].Namespace == "AWS/Lambda"


def test_describe_alarms_asks_for_at_most_100_names_at_a_time(cloudwatch: Any) -> None:
    names = [f"alarm-{i:03d}" for i in range(101)]
    stub = Stubber(cloudwatch)
    items = [(i, item(name, i, "OK", "ALARM")) for i, name in enumerate(names)]
    stub.add_response("describe_alarm_history", *_history_call(items, None, None))
    stub.add_response(
        "describe_alarms",
        {"MetricAlarms": []},
        {"AlarmNames": names[:100], "AlarmTypes": ["MetricAlarm"]},
    )
    stub.add_response(
        "describe_alarms",
        {"MetricAlarms": [metric_alarm(names[100])]},
        {"AlarmNames": names[100:], "AlarmTypes": ["MetricAlarm"]},
    )
    stub.add_response("list_tags_for_resource", {"Tags": []}, {"ResourceARN": ANY})
    with stub:
        responses = read_account(cloudwatch, T0, END)
    stub.assert_no_pending_responses()
    assert responses[-1] == {"ResourceARN": arn(names[100]), "Tags": []}


def test_a_refused_call_names_the_api_and_the_error(cloudwatch: Any) -> None:
    stub = Stubber(cloudwatch)
    stub.add_client_error(
        "describe_alarm_history",
        service_error_code="AccessDenied",
        service_message="not authorized to perform cloudwatch:DescribeAlarmHistory",
    )
    with stub, pytest.raises(ReplayError, match="CloudWatch DescribeAlarmHistory: AccessDenied"):
        read_account(cloudwatch, T0, END)


def test_an_invalid_pattern_is_refused_before_any_call(cloudwatch: Any) -> None:
    with Stubber(cloudwatch), pytest.raises(ReplayError, match="--alarm: invalid regular"):
        read_account(cloudwatch, T0, END, "[")
