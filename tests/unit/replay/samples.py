"""DescribeAlarmHistory / DescribeAlarms / ListTagsForResource shapes, as CloudWatch documents
them, for the replay's unit tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

ACCOUNT, REGION = "111122223333", "eu-west-1"
T0 = datetime(2024, 5, 1, 6, 0, tzinfo=UTC)


def arn(name: str) -> str:
    return f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}"


def item(
    name: str,
    minutes: float,
    old: str,
    new: str,
    *,
    kind: str = "StateUpdate",
    alarm_type: str = "MetricAlarm",
    timestamp: Any = None,
) -> dict[str, Any]:
    """One history item; `timestamp` overrides the ISO text (boto3 gives datetimes)."""
    moment = T0 + timedelta(minutes=minutes)
    data = {
        "version": "1.0",
        "oldState": {"stateValue": old, "stateReason": f"was {old}"},
        "newState": {
            "stateValue": new,
            "stateReason": f"Threshold Crossed: now {new}",
            "stateReasonData": {"version": "1.0", "recentDatapoints": [5.0], "threshold": 1.0},
        },
    }
    return {
        "AlarmName": name,
        "AlarmType": alarm_type,
        "Timestamp": timestamp if timestamp is not None else moment.isoformat(),
        "HistoryItemType": kind,
        "HistorySummary": f"Alarm updated from {old} to {new}",
        "HistoryData": json.dumps(data) if kind == "StateUpdate" else "{}",
    }


def metric_alarm(name: str, function: str = "orders-api") -> dict[str, Any]:
    return {
        "AlarmName": name,
        "AlarmArn": arn(name),
        "AlarmDescription": "errors",
        "ActionsEnabled": True,
        "AlarmActions": [f"arn:aws:sns:{REGION}:{ACCOUNT}:pager"],
        "OKActions": [],
        "StateValue": "OK",
        "MetricName": "Errors",
        "Namespace": "AWS/Lambda",
        "Statistic": "Sum",
        "Dimensions": [{"Name": "FunctionName", "Value": function}],
        "Period": 60,
        "EvaluationPeriods": 1,
        "DatapointsToAlarm": 1,
        "Threshold": 1.0,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "TreatMissingData": "missing",
    }
