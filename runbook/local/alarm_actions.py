"""CloudWatch alarm actions on the emulator: SNS notifications on every actual state change.

moto stores AlarmActions, OKActions and InsufficientDataActions but never runs them. On AWS an
alarm whose actions are enabled publishes, on each transition into a state, the alarm
notification to every SNS topic listed for that state (SetAlarmState included: "the action
configured for the appropriate state is invoked"). That is the path the dead-man's switch of
issue 15 pages through, on purpose outside the runbook's own workflow.

``AlarmActions`` is a listener of alarms.py's state-change hook (the same hook that emits the
EventBridge event), so it runs whoever changed the state: SetAlarmState, the emulator's alarm
evaluator, a test. The message is CloudWatch's notification JSON (AlarmName, NewStateValue,
NewStateReason, StateChangeTime, Region as its display name, OldStateValue, the action lists
and the ``Trigger``), the subject ``ALARM: "name" in US East (N. Virginia)``. Actions that are
not SNS topics (Lambda, EC2, Auto Scaling, OpsItem, Incident Manager) are logged as not
emulated. Each action is a line in ``logs/alarms.log``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from functools import lru_cache
from pathlib import Path
from typing import Any

from moto.cloudwatch.models import Alarm, CloudWatchBackend
from moto.sns.models import sns_backends
from moto.utilities.arns import parse_arn

from runbook.local.alarms import AlarmState, alarm_timestamp
from runbook.local.jsonlog import JsonLog

LOGGER = logging.getLogger(__name__)
SUBJECT_LIMIT = 100  # SNS refuses longer subjects
_STATISTICS = {
    "SampleCount": "SAMPLE_COUNT",
    "Average": "AVERAGE",
    "Sum": "SUM",
    "Minimum": "MINIMUM",
    "Maximum": "MAXIMUM",
}


@lru_cache(maxsize=64)
def region_name(region: str) -> str:
    """A region's display name (``US East (N. Virginia)``), as alarm notifications say it."""
    import botocore.loaders

    endpoints = botocore.loaders.create_loader().load_data("endpoints")
    for partition in endpoints["partitions"]:
        described = partition.get("regions", {}).get(region)
        if described and described.get("description"):
            return str(described["description"])
    return region


def _dimensions(dimensions: Any) -> list[dict[str, str]]:
    return [{"value": str(d.value), "name": str(d.name)} for d in dimensions or []]


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def _integer(value: Any) -> int | None:
    return None if value is None else int(value)


def trigger(alarm: Alarm) -> dict[str, Any]:
    """The notification's ``Trigger``: the alarm's metric (or metric queries) and rule."""
    rule: dict[str, Any] = {
        "Period": _integer(alarm.period),
        "EvaluationPeriods": _integer(alarm.evaluation_periods),
        "ComparisonOperator": alarm.comparison_operator,
        "Threshold": _number(alarm.threshold),
        "TreatMissingData": alarm.treat_missing_data or "missing",
        "EvaluateLowSampleCountPercentile": alarm.evaluate_low_sample_count_percentile or "",
    }
    if alarm.datapoints_to_alarm is not None:
        rule["DatapointsToAlarm"] = _integer(alarm.datapoints_to_alarm)
    if alarm.metric_data_queries:
        metrics = []
        for query in alarm.metric_data_queries:
            entry: dict[str, Any] = {"Id": query.id, "ReturnData": query.return_data is not False}
            if query.expression:
                entry["Expression"] = query.expression
            if query.label:
                entry["Label"] = query.label
            if query.metric_stat is not None:
                stat = query.metric_stat
                entry["MetricStat"] = {
                    "Metric": {
                        "Dimensions": _dimensions(stat.metric.dimensions),
                        "MetricName": stat.metric.metric_name,
                        "Namespace": stat.metric.namespace,
                    },
                    "Period": _integer(stat.period),
                    "Stat": stat.stat,
                }
            metrics.append(entry)
        return {"Metrics": metrics, **rule}
    described: dict[str, Any] = {"MetricName": alarm.metric_name, "Namespace": alarm.namespace}
    if alarm.extended_statistic:
        described.update(
            {"StatisticType": "ExtendedStatistic", "ExtendedStatistic": alarm.extended_statistic}
        )
    else:
        statistic = str(alarm.statistic or "")
        described.update(
            {"StatisticType": "Statistic", "Statistic": _STATISTICS.get(statistic, statistic)}
        )
    described.update({"Unit": alarm.unit, "Dimensions": _dimensions(alarm.dimensions)})
    return {**described, **rule}


def notification(alarm: Alarm, previous: AlarmState, account: str, region: str) -> dict[str, Any]:
    """The JSON CloudWatch publishes to an alarm's SNS topics on a state change."""
    changed = alarm.state_updated_timestamp or dt.datetime.now(dt.UTC)
    return {
        "AlarmName": alarm.name,
        "AlarmDescription": alarm.description or None,
        "AWSAccountId": account,
        "AlarmConfigurationUpdatedTimestamp": alarm_timestamp(
            alarm.configuration_updated_timestamp or changed
        ),
        "NewStateValue": alarm.state_value,
        "NewStateReason": alarm.state_reason,
        "StateChangeTime": alarm_timestamp(changed),
        "Region": region_name(region),
        "AlarmArn": alarm.alarm_arn,
        "OldStateValue": previous.value,
        "OKActions": list(alarm.ok_actions or []),
        "AlarmActions": list(alarm.alarm_actions or []),
        "InsufficientDataActions": list(alarm.insufficient_data_actions or []),
        "Trigger": trigger(alarm),
    }


def subject(alarm: Alarm, region: str) -> str:
    text = f'{alarm.state_value}: "{alarm.name}" in {region_name(region)}'
    return text if len(text) <= SUBJECT_LIMIT else text[: SUBJECT_LIMIT - 3] + "..."


def actions_for(alarm: Alarm) -> list[str]:
    lists = {
        "ALARM": alarm.alarm_actions,
        "OK": alarm.ok_actions,
        "INSUFFICIENT_DATA": alarm.insufficient_data_actions,
    }
    return list(lists.get(alarm.state_value) or [])


def actions_enabled(alarm: Alarm) -> bool:
    enabled = alarm.actions_enabled
    return str(enabled).lower() != "false" if enabled is not None else True


class AlarmActions:
    """Runs an alarm's actions for its new state; a listener of alarms.py's hook."""

    def __init__(self, log_file: Path | None = None) -> None:
        self.log = JsonLog(log_file)
        """Each action taken (or not emulated): ``logs/alarms.log``."""

    def __call__(self, backend: CloudWatchBackend, alarm: Alarm, previous: AlarmState) -> None:
        if not actions_enabled(alarm):
            return
        message = notification(alarm, previous, backend.account_id, backend.region_name)
        for arn in actions_for(alarm):
            outcome = self._run(arn, alarm, backend.region_name, message)
            self.log.write(
                alarm=alarm.name,
                state=alarm.state_value,
                previous=previous.value,
                action=arn,
                outcome=outcome,
            )

    def _run(self, arn: str, alarm: Alarm, region: str, message: dict[str, Any]) -> str:
        try:
            parsed = parse_arn(arn)
        except (ValueError, IndexError):
            return "failed: not an ARN"
        if parsed.service != "sns":
            return f"not emulated: {parsed.service} actions"
        try:
            sns_backends[parsed.account][parsed.region].publish(
                json.dumps(message), arn=arn, subject=subject(alarm, region)
            )
        except Exception as err:  # CloudWatch would record the failed action; so do we
            LOGGER.exception("alarm %s could not notify %s", alarm.name, arn)
            return f"failed: {type(err).__name__}: {err}"
        return "published"
