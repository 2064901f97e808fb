"""The emulator's EventBridge routing (runbook/local/events.py): an event reaches the rules
whose pattern matches it, never a scheduled rule (moto's empty pattern matches everything)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from runbook.local import events

FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:watch"


class RecordingRouter(events.EventRouter):
    def __init__(self, log_file: Path) -> None:
        super().__init__(runtime=None, log_file=log_file)  # type: ignore[arg-type]
        self.delivered: list[tuple[str, dict[str, Any]]] = []

    def deliver(self, rule: Any, target: dict[str, Any], event: dict[str, Any]) -> None:
        self.delivered.append((rule.name, event))


@pytest.fixture
def router(tmp_path: Path) -> Iterator[RecordingRouter]:
    recording = RecordingRouter(tmp_path / "events.log")
    with mock_aws():
        events.install_event_routing(recording)
        try:
            yield recording
        finally:
            events.remove_event_routing()


def test_an_event_reaches_the_matching_rule_and_no_scheduled_rule(router: RecordingRouter) -> None:
    client = boto3.client("events", region_name="us-east-1")
    client.put_rule(Name="every-minute", ScheduleExpression="rate(1 minute)")
    client.put_targets(Rule="every-minute", Targets=[{"Id": "1", "Arn": FUNCTION}])
    client.put_rule(
        Name="alarms",
        EventPattern=json.dumps({"source": ["aws.cloudwatch"]}),
    )
    client.put_targets(Rule="alarms", Targets=[{"Id": "1", "Arn": FUNCTION}])
    client.put_rule(Name="others", EventPattern=json.dumps({"source": ["aws.health"]}))
    client.put_targets(Rule="others", Targets=[{"Id": "1", "Arn": FUNCTION}])

    client.put_events(
        Entries=[
            {
                "Source": "aws.cloudwatch",
                "DetailType": "CloudWatch Alarm State Change",
                "Detail": json.dumps({"alarmName": "a"}),
            }
        ]
    )

    assert [name for name, _event in router.delivered] == ["alarms"]
    assert router.delivered[0][1]["source"] == "aws.cloudwatch"


def test_a_disabled_rule_gets_nothing(router: RecordingRouter) -> None:
    client = boto3.client("events", region_name="us-east-1")
    client.put_rule(
        Name="alarms", EventPattern=json.dumps({"source": ["aws.cloudwatch"]}), State="DISABLED"
    )
    client.put_targets(Rule="alarms", Targets=[{"Id": "1", "Arn": FUNCTION}])
    client.put_events(Entries=[{"Source": "aws.cloudwatch", "DetailType": "x", "Detail": "{}"}])
    assert router.delivered == []
