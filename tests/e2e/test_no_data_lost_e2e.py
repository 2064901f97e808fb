"""No data lost, through the deployed rule (issue 7): malformed events that match the
AlarmRule on the default bus reach ingest through EventBridge and end as `error#` records with
their raw body and a reason, never dropped and never an incident."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .helpers import wait_for


def _errors_with(aws: Callable[[str], Any], table: str, marker: str) -> list[dict[str, Any]]:
    client = aws("dynamodb")
    found: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while True:
        page = client.scan(**kwargs)
        found += [
            item
            for item in page["Items"]
            if item["incident_id"]["S"].startswith("error#")
            and marker in item.get("raw_event", {}).get("S", "")
        ]
        if "LastEvaluatedKey" not in page:
            return found
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def test_malformed_alarm_events_on_the_bus_become_error_records(
    aws: Callable[[str], Any], outputs: dict[str, str], unique: str
) -> None:
    table = outputs["IncidentTableName"]
    details = [  # each matches AlarmRule (state.value ALARM) and none is a usable alarm event
        {"state": {"value": "ALARM"}},
        {"alarmName": ["a", "list"], "state": {"value": "ALARM", "timestamp": "later"}},
        {
            "alarmName": f"e2e-{unique}",
            "state": {"value": "ALARM", "timestamp": "2024-05-01T14:00:00.000+0000"},
            "configuration": "not an object",
        },
        {"alarmName": 7, "state": {"value": "ALARM", "timestamp": 5}, "previousState": []},
    ]
    entries = [
        {
            "Source": "aws.cloudwatch",
            "DetailType": "CloudWatch Alarm State Change",
            "Detail": json.dumps({**detail, "marker": f"{unique}-{n}"}),
        }
        for n, detail in enumerate(details)
    ]
    put = aws("events").put_events(Entries=entries)
    assert put["FailedEntryCount"] == 0

    errors = wait_for(
        "an error# record for every malformed event",
        lambda: (
            (found := _errors_with(aws, table, unique)) and len(found) >= len(details) and found
        ),
        timeout=60,
    )

    assert len(errors) == len(details)
    for n, detail in enumerate(details):
        (record,) = [e for e in errors if f"{unique}-{n}" in e["raw_event"]["S"]]
        raw = json.loads(record["raw_event"]["S"])
        assert raw["detail"] == {**detail, "marker": f"{unique}-{n}"}
        assert raw["source"] == "aws.cloudwatch"
        assert record["reason"]["S"].startswith("malformed CloudWatch alarm event")
