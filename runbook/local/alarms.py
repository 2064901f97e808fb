"""CloudWatch alarm state changes, which moto's CloudWatch never acts on.

On AWS an alarm that changes state puts a "CloudWatch Alarm State Change" event on the default
bus (that is what starts the runbook) and runs the alarm's actions for the new state. The
emulator wraps moto's ``set_alarm_state`` and ``put_metric_alarm`` so that ``aws cloudwatch
set-alarm-state --endpoint-url ...`` behaves the same: an actual change calls every installed
listener once (``emit_state_change``: the event, shaped as AWS documents it; alarm_actions.py:
the SNS notifications); setting the state an alarm already has calls none. Whoever changes the
state goes through here: SetAlarmState, the emulator's evaluator (alarm_evaluator.py), tests.
New alarms start in INSUFFICIENT_DATA (moto starts them in OK, which would swallow the first OK
transition), and re-putting an alarm keeps its state, as on AWS.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from moto.cloudwatch.models import Alarm, CloudWatchBackend

from runbook.local.events import put_event

LOGGER = logging.getLogger(__name__)
INITIAL_STATE = "INSUFFICIENT_DATA"
INITIAL_REASON = "Unchecked: Initial alarm creation"


@dataclass(frozen=True)
class AlarmState:
    value: str
    reason: str
    reason_data: str | None
    timestamp: dt.datetime

    @classmethod
    def of(cls, alarm: Alarm) -> AlarmState:
        return cls(
            value=alarm.state_value,
            reason=alarm.state_reason,
            reason_data=alarm.state_reason_data,
            timestamp=alarm.state_updated_timestamp,
        )

    def as_detail(self) -> dict[str, Any]:
        detail: dict[str, Any] = {
            "value": self.value,
            "reason": self.reason,
            "timestamp": alarm_timestamp(self.timestamp),
        }
        if self.reason_data and self.reason_data != "{}":
            detail["reasonData"] = self.reason_data
        return detail


def alarm_timestamp(when: dt.datetime) -> str:
    """CloudWatch's format in alarm events: ``2019-10-02T17:04:40.985+0000``."""
    when = when if when.tzinfo else when.replace(tzinfo=dt.UTC)
    when = when.astimezone(dt.UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}+0000"


def _metric(namespace: str | None, name: str | None, dimensions: Any) -> dict[str, Any]:
    return {
        "namespace": namespace,
        "name": name,
        "dimensions": {d.name: d.value for d in dimensions or []},
    }


def alarm_configuration(alarm: Alarm) -> dict[str, Any]:
    """``detail.configuration``: the alarm's metrics (or rule, for a composite alarm)."""
    configuration: dict[str, Any] = {}
    if alarm.rule:
        configuration["alarmRule"] = alarm.rule
    elif alarm.metric_data_queries:
        metrics = []
        for query in alarm.metric_data_queries:
            entry: dict[str, Any] = {"id": query.id, "returnData": query.return_data is not False}
            if query.label:
                entry["label"] = query.label
            if query.expression:
                entry["expression"] = query.expression
            if query.metric_stat is not None:
                stat = query.metric_stat
                entry["metricStat"] = {
                    "metric": _metric(
                        stat.metric.namespace, stat.metric.metric_name, stat.metric.dimensions
                    ),
                    "period": int(stat.period) if stat.period is not None else None,
                    "stat": stat.stat,
                }
            metrics.append(entry)
        configuration["metrics"] = metrics
    else:
        configuration["metrics"] = [
            {
                "id": str(uuid.uuid5(uuid.NAMESPACE_URL, alarm.alarm_arn)),
                "metricStat": {
                    "metric": _metric(alarm.namespace, alarm.metric_name, alarm.dimensions),
                    "period": int(alarm.period) if alarm.period is not None else None,
                    "stat": alarm.statistic or alarm.extended_statistic,
                },
                "returnData": True,
            }
        ]
    if alarm.description:
        configuration["description"] = alarm.description
    return configuration


def state_change_detail(alarm: Alarm, previous: AlarmState) -> dict[str, Any]:
    return {
        "alarmName": alarm.name,
        "state": AlarmState.of(alarm).as_detail(),
        "previousState": previous.as_detail(),
        "configuration": alarm_configuration(alarm),
    }


EmitFn = Callable[[CloudWatchBackend, Alarm, AlarmState], None]


def emit_state_change(backend: CloudWatchBackend, alarm: Alarm, previous: AlarmState) -> None:
    """Put the alarm's state-change event on the default bus of the alarm's account/region."""
    changed_at = alarm.state_updated_timestamp
    changed_at = changed_at if changed_at.tzinfo else changed_at.replace(tzinfo=dt.UTC)
    put_event(
        backend.account_id,
        backend.region_name,
        source="aws.cloudwatch",
        detail_type="CloudWatch Alarm State Change",
        detail=state_change_detail(alarm, previous),
        resources=[alarm.alarm_arn],
        time=changed_at.replace(microsecond=0),
    )


_original_set_alarm_state = CloudWatchBackend.set_alarm_state
_original_put_metric_alarm = CloudWatchBackend.put_metric_alarm
_listeners: tuple[EmitFn, ...] = ()


def _set_alarm_state(
    self: CloudWatchBackend, alarm_name: str, reason: str, reason_data: str, state_value: str
) -> None:
    alarm = self.alarms.get(alarm_name)
    previous = AlarmState.of(alarm) if alarm is not None else None
    _original_set_alarm_state(self, alarm_name, reason, reason_data, state_value)
    if alarm is None or previous is None or previous.value == alarm.state_value:
        return
    for listener in _listeners:
        try:
            listener(self, alarm, previous)
        except Exception:  # one listener failing must not cost the others (or the change)
            LOGGER.exception("alarm %s state-change listener %r failed", alarm_name, listener)


def _put_metric_alarm(self: CloudWatchBackend, *args: Any, **kwargs: Any) -> Alarm:
    name = kwargs["name"] if "name" in kwargs else args[0]
    existing = self.alarms.get(name)
    alarm = _original_put_metric_alarm(self, *args, **kwargs)
    if existing is not None:
        alarm.state_value = existing.state_value
        alarm.state_reason = existing.state_reason
        alarm.state_reason_data = existing.state_reason_data
        alarm.state_updated_timestamp = existing.state_updated_timestamp
        alarm.history = existing.history
    else:
        alarm.state_value = INITIAL_STATE
        alarm.state_reason = INITIAL_REASON
        alarm.state_reason_data = None  # type: ignore[assignment]
    return alarm


def install_alarm_events(*listeners: EmitFn) -> None:
    """Call ``listeners`` (default: ``emit_state_change``) on every actual state change from
    now on (one emulator per process)."""
    global _listeners
    _listeners = listeners or (emit_state_change,)
    CloudWatchBackend.set_alarm_state = _set_alarm_state  # type: ignore[method-assign]
    CloudWatchBackend.put_metric_alarm = _put_metric_alarm  # type: ignore[method-assign]


def remove_alarm_events() -> None:
    global _listeners
    _listeners = ()
    CloudWatchBackend.set_alarm_state = _original_set_alarm_state  # type: ignore[method-assign]
    CloudWatchBackend.put_metric_alarm = _original_put_metric_alarm  # type: ignore[method-assign]
