"""The current state of CloudWatch alarms, by name (metric and composite alarms alike)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from incidents.model import Incident
from shared.errors import transient_errors

# DescribeAlarms takes at most 100 names per call.
_BATCH = 100
_ALARM_KEY = "alarm:"


def incident_alarm_names(incident: Incident) -> list[str]:
    """Every alarm on the incident: the one that opened it and those that joined or folded into
    it (their correlation keys `alarm:<alarm ARN>`). It has recovered only when all are OK."""
    names = [incident.alarm_name] if incident.alarm_name else []
    for key in sorted(incident.correlation_keys or ()):
        if key.startswith(_ALARM_KEY) and ":alarm:" in key[len(_ALARM_KEY) :]:
            name = key[len(_ALARM_KEY) :].split(":alarm:", 1)[1]
            if name and name not in names:
                names.append(name)
    return names


def still_firing(states: dict[str, dict[str, Any]], names: Iterable[str]) -> list[str]:
    """The alarms among `names` that are in ALARM now."""
    return [name for name in names if states.get(name, {}).get("state") == "ALARM"]


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
