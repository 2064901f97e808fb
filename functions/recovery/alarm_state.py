"""The current state of CloudWatch alarms, by name (metric and composite alarms alike)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from shared.errors import transient_errors

# DescribeAlarms takes at most 100 names per call.
_BATCH = 100


def alarm_states(cloudwatch: Any, names: Iterable[str]) -> dict[str, dict[str, Any]]:
    """`{name: {"state", "reason", "updated"}}` for the alarms that exist; absent ones are left
    out (a deleted alarm has no state to trust)."""
    wanted = sorted(set(names))
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(wanted), _BATCH):
        batch = wanted[start : start + _BATCH]
        with transient_errors("CloudWatch DescribeAlarms"):
            answer = cloudwatch.describe_alarms(
                AlarmNames=batch, AlarmTypes=["MetricAlarm", "CompositeAlarm"]
            )
        for alarm in answer.get("MetricAlarms", []) + answer.get("CompositeAlarms", []):
            found[alarm["AlarmName"]] = {
                "state": alarm.get("StateValue", ""),
                "reason": alarm.get("StateReason", ""),
                "updated": alarm.get("StateUpdatedTimestamp"),
            }
    return found
