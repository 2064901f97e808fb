"""CloudWatch alarm evaluation on the emulator, over the metric data moto stores.

moto keeps alarms and metric data apart: an alarm only changes state when someone calls
SetAlarmState. The dead-man's switch of issue 15 needs the real thing: an alarm that goes to
ALARM because *no* data arrived (TreatMissingData breaching) and stays OK while data arrives.
``AlarmEvaluator`` evaluates single-metric alarms as CloudWatch documents it:

- the last ``EvaluationPeriods`` periods, each reduced to one datapoint by ``Statistic`` (Sum,
  Average, Minimum, Maximum, SampleCount) or ``ExtendedStatistic`` (pNN, nearest rank) over the
  data points of exactly the alarm's namespace, metric name and dimension set (and ``Unit``,
  when the alarm names one); a period without data points is missing;
- ``DatapointsToAlarm`` (M) out of ``EvaluationPeriods`` (N) breaching -> ALARM, else OK, the
  comparison being ``ComparisonOperator`` against ``Threshold``;
- ``TreatMissingData``: ``breaching`` / ``notBreaching`` count missing periods as bad / good;
  ``missing`` goes to INSUFFICIENT_DATA when every period is missing, ``ignore`` then keeps the
  current state; otherwise both evaluate the periods that have data (fewer than M of them, all
  breaching, is ALARM: CloudWatch fills missing points "as few times as possible").

Time is compressed: a period of P seconds lasts ``P / time_scale`` wall seconds (default 60: a
one-minute period is a second, a day is 24 minutes), and the evaluator ticks every
``60 / time_scale`` wall seconds (CloudWatch evaluates every minute), at least every 0.25 s.

Only the alarms it is told to watch are evaluated: the ones the emulator's deployed stacks
declare (cloudformation_gaps.py creates them) and any ``watch()`` adds. Alarms that tests create
through the API and drive with SetAlarmState are never touched. A state change goes through
moto's ``set_alarm_state`` (hooked by alarms.py), so the EventBridge event and the alarm
actions follow as for any other change; each one is a line in ``logs/alarms.log``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moto.cloudwatch.models import (
    Alarm,
    MetricAggregatedDatum,
    MetricDatum,
    MetricDatumBase,
    cloudwatch_backends,
)

from runbook.local.jsonlog import JsonLog

LOGGER = logging.getLogger(__name__)
MINIMUM_TICK = 0.25
_COMPARISONS = {
    "GreaterThanOrEqualToThreshold": ("greater than or equal to", lambda v, t: v >= t),
    "GreaterThanThreshold": ("greater than", lambda v, t: v > t),
    "LessThanThreshold": ("less than", lambda v, t: v < t),
    "LessThanOrEqualToThreshold": ("less than or equal to", lambda v, t: v <= t),
}
_STATISTICS = ("Sum", "Average", "Minimum", "Maximum", "SampleCount")


@dataclass(frozen=True)
class AlarmRule:
    """What evaluating a single-metric alarm needs from its configuration."""

    name: str
    namespace: str
    metric_name: str
    dimensions: frozenset[tuple[str, str]]
    statistic: str
    period: int
    evaluation_periods: int
    datapoints_to_alarm: int
    threshold: float
    comparison: str
    treat_missing_data: str = "missing"
    unit: str | None = None

    @classmethod
    def of(cls, alarm: Alarm) -> AlarmRule | None:
        """The rule of a single-metric alarm; ``None`` for metric-math, composite or
        anomaly-band alarms, which the evaluator leaves alone."""
        statistic = alarm.extended_statistic or alarm.statistic
        if (
            alarm.rule
            or alarm.metric_data_queries
            or not alarm.metric_name
            or alarm.comparison_operator not in _COMPARISONS
            or not statistic
            or alarm.period is None
            or alarm.threshold is None
        ):
            return None
        periods = int(alarm.evaluation_periods or 1)
        return cls(
            name=alarm.name,
            namespace=str(alarm.namespace),
            metric_name=str(alarm.metric_name),
            dimensions=frozenset((str(d.name), str(d.value)) for d in alarm.dimensions or []),
            statistic=str(statistic),
            period=int(alarm.period),
            evaluation_periods=periods,
            datapoints_to_alarm=int(alarm.datapoints_to_alarm or periods),
            threshold=float(alarm.threshold),
            comparison=str(alarm.comparison_operator),
            treat_missing_data=str(alarm.treat_missing_data or "missing"),
            unit=alarm.unit,
        )

    def breaches(self, value: float) -> bool:
        return bool(_COMPARISONS[self.comparison][1](value, self.threshold))


@dataclass(frozen=True)
class Period:
    """One evaluated period: its start (wall time) and datapoint (``None``: missing)."""

    start: dt.datetime
    value: float | None
    samples: float = 0.0


@dataclass(frozen=True)
class Decision:
    state: str
    reason: str
    reason_data: str


def _aware(when: dt.datetime) -> dt.datetime:
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def _of_metric(rule: AlarmRule, datum: MetricDatumBase) -> bool:
    if datum.namespace != rule.namespace or datum.name != rule.metric_name:
        return False
    if frozenset((str(d.name), str(d.value)) for d in datum.dimensions) != rule.dimensions:
        return False
    return rule.unit is None or datum.unit == rule.unit


def statistic(name: str, data: Sequence[MetricDatumBase]) -> tuple[float | None, float]:
    """(value, sample count) of one period's data points; ``None`` without data."""
    singles = [float(d.value) for d in data if isinstance(d, MetricDatum)]
    sets = [d for d in data if isinstance(d, MetricAggregatedDatum)]
    count = float(len(singles) + sum(s.sample_count for s in sets))
    if count == 0:
        return None, 0.0
    total = float(sum(singles) + sum(s.sum for s in sets))
    if name == "Sum":
        return total, count
    if name == "SampleCount":
        return count, count
    if name == "Average":
        return total / count, count
    if name == "Minimum":
        return float(min([*singles, *(s.min for s in sets)])), count
    if name == "Maximum":
        return float(max([*singles, *(s.max for s in sets)])), count
    if name.startswith("p") and singles:
        rank = max(1, math.ceil(float(name[1:]) / 100 * len(singles)))
        return sorted(singles)[min(rank, len(singles)) - 1], count
    return None, count


def periods(
    rule: AlarmRule, data: Iterable[MetricDatumBase], now: dt.datetime, time_scale: float
) -> list[Period]:
    """The alarm's last ``evaluation_periods`` periods, newest first; a period lasts
    ``rule.period / time_scale`` wall seconds and ends where the next one starts."""
    width = dt.timedelta(seconds=rule.period / time_scale)
    now = _aware(now)
    oldest = now - width * rule.evaluation_periods
    buckets: list[list[MetricDatumBase]] = [[] for _ in range(rule.evaluation_periods)]
    for datum in data:
        if not _of_metric(rule, datum):
            continue
        stamp = _aware(datum.timestamp)
        if not oldest < stamp <= now:
            continue
        index = min(int((now - stamp) / width), rule.evaluation_periods - 1)
        buckets[index].append(datum)
    found = []
    for index, bucket in enumerate(buckets):
        value, samples = statistic(rule.statistic, bucket)
        found.append(Period(now - width * (index + 1), value, samples))
    return found


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _stamp(when: dt.datetime) -> str:
    return _aware(when).strftime("%d/%m/%y %H:%M:%S")


def decide(rule: AlarmRule, evaluated: Sequence[Period], current: str) -> Decision | None:
    """The alarm's state after this evaluation (``None``: keep the current one)."""
    present = [p for p in evaluated if p.value is not None]
    missing = len(evaluated) - len(present)
    bad = [p for p in present if rule.breaches(float(p.value))]  # type: ignore[arg-type]
    m = rule.datapoints_to_alarm
    treat = rule.treat_missing_data
    if treat in ("breaching", "notBreaching"):
        breaching = len(bad) + (missing if treat == "breaching" else 0)
        state = "ALARM" if breaching >= m else "OK"
    elif not present:
        if treat == "ignore":
            return None
        state = "INSUFFICIENT_DATA"
    else:
        alarming = len(bad) >= m or (len(present) < m and len(bad) == len(present))
        state = "ALARM" if alarming else "OK"
    if state == current:
        return None
    return Decision(state, _reason(rule, evaluated, state, current), _reason_data(rule, evaluated))


def _reason(rule: AlarmRule, evaluated: Sequence[Period], state: str, current: str) -> str:
    present = [p for p in evaluated if p.value is not None]
    missing = len(evaluated) - len(present)
    if state == "INSUFFICIENT_DATA":
        was = "was" if missing == 1 else "were"
        return f"Insufficient Data: {_plural(missing, 'datapoint')} {was} unknown."
    if not present:
        treated = "Breaching" if rule.treat_missing_data == "breaching" else "NonBreaching"
        was = "was" if missing == 1 else "were"
        return (
            f"Threshold Crossed: no datapoints were received for "
            f"{_plural(len(evaluated), 'period')} and "
            f"{_plural(missing, 'missing datapoint')} {was} treated as [{treated}]."
        )
    words = _COMPARISONS[rule.comparison][0]
    shown = ", ".join(f"{p.value!r} ({_stamp(p.start)})" for p in present)
    relation = words if state == "ALARM" else f"not {words}"
    counted = len([p for p in present if rule.breaches(float(p.value))])  # type: ignore[arg-type]
    counted = counted if state == "ALARM" else len(present) - counted
    minimum = rule.datapoints_to_alarm if state == "ALARM" else 1
    return (
        f"Threshold Crossed: {counted} out of the last {len(evaluated)} datapoints [{shown}] "
        f"was {relation} the threshold ({rule.threshold!r}) "
        f"(minimum {_plural(minimum, 'datapoint')} for {current} -> {state} transition)."
    )


def _reason_data(rule: AlarmRule, evaluated: Sequence[Period]) -> str:
    def stamp(when: dt.datetime) -> str:
        when = _aware(when)
        return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}+0000"

    data: dict[str, Any] = {
        "version": "1.0",
        "queryDate": stamp(dt.datetime.now(dt.UTC)),
        "startDate": stamp(evaluated[-1].start) if evaluated else None,
        "period": rule.period,
        "recentDatapoints": [p.value for p in evaluated if p.value is not None],
        "threshold": rule.threshold,
        "evaluatedDatapoints": [
            {"timestamp": stamp(p.start), "sampleCount": p.samples, "value": p.value}
            for p in evaluated
            if p.value is not None
        ],
    }
    data["statistic" if rule.statistic in _STATISTICS else "extendedStatistic"] = rule.statistic
    return json.dumps(data)


class AlarmEvaluator:
    """Evaluates the watched alarms on a thread, every ``tick_seconds``."""

    def __init__(self, *, time_scale: float = 60.0, log_file: Path | None = None) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.time_scale = time_scale
        """A period of P seconds lasts P / time_scale wall seconds (settable at run time)."""
        self.log = JsonLog(log_file)
        self._watched: set[tuple[str, str, str]] = set()
        self._lock = threading.Lock()
        self._tick_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def tick_seconds(self) -> float:
        return max(MINIMUM_TICK, 60.0 / self.time_scale)

    # -- what is evaluated ---------------------------------------------------------------
    def watch(self, name: str, account: str, region: str) -> None:
        with self._lock:
            self._watched.add((account, region, name))

    def unwatch(self, name: str, account: str, region: str) -> None:
        with self._lock:
            self._watched.discard((account, region, name))

    @property
    def watched(self) -> list[tuple[str, str, str]]:
        """(account, region, alarm name) of every watched alarm."""
        with self._lock:
            return sorted(self._watched)

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="emulator-alarms", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.tick_seconds):
            try:
                self.evaluate()
            except Exception:  # one bad tick must not end evaluation
                LOGGER.exception("alarm evaluation tick failed")

    # -- one tick --------------------------------------------------------------------------
    def evaluate(self, now: dt.datetime | None = None) -> list[dict[str, Any]]:
        """Evaluate every watched alarm now; the state changes made (one dict each)."""
        changes = []
        with self._tick_lock:
            moment = now or dt.datetime.now(dt.UTC)
            for account, region, name in self.watched:
                change = self._evaluate_one(account, region, name, moment)
                if change is not None:
                    changes.append(change)
        return changes

    def _evaluate_one(
        self, account: str, region: str, name: str, now: dt.datetime
    ) -> dict[str, Any] | None:
        backend = cloudwatch_backends[account][region]
        alarm = backend.alarms.get(name)
        rule = AlarmRule.of(alarm) if alarm is not None else None
        if alarm is None or rule is None:
            return None
        data = list(backend.metric_data) + list(backend.aws_metric_data)
        decision = decide(rule, periods(rule, data, now, self.time_scale), alarm.state_value)
        if decision is None:
            return None
        previous = alarm.state_value
        backend.set_alarm_state(name, decision.reason, decision.reason_data, decision.state)
        return self.log.write(
            alarm=name, previous=previous, state=decision.state, reason=decision.reason
        )
