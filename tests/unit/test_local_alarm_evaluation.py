"""runbook/local/alarm_evaluator.py without a server: compressed periods, statistics, M out of
N, and the four ways of treating missing data, as CloudWatch documents them."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from moto.cloudwatch.models import MetricAggregatedDatum, MetricDatum

from runbook.local.alarm_evaluator import AlarmRule, Period, decide, periods, statistic

NOW = dt.datetime(2026, 1, 5, 12, 0, 0, tzinfo=dt.UTC)
SCALE = 60.0  # a 60 s period lasts one wall second


def rule(**changes: object) -> AlarmRule:
    base: dict[str, object] = {
        "name": "drill-heartbeat",
        "namespace": "IncidentRunbook",
        "metric_name": "DrillCompleted",
        "dimensions": frozenset({("service", "incident-runbook")}),
        "statistic": "Sum",
        "period": 60,
        "evaluation_periods": 1,
        "datapoints_to_alarm": 1,
        "threshold": 1.0,
        "comparison": "LessThanThreshold",
        "treat_missing_data": "breaching",
    }
    base.update(changes)
    return AlarmRule(**base)  # type: ignore[arg-type]


def datum(value: float, seconds_ago: float, **dims: str) -> MetricDatum:
    dimensions = [
        {"Name": k, "Value": v} for k, v in (dims or {"service": "incident-runbook"}).items()
    ]
    when = (NOW - dt.timedelta(seconds=seconds_ago)).replace(tzinfo=None)  # moto: naive UTC
    return MetricDatum("IncidentRunbook", "DrillCompleted", value, dimensions, when)


def values(found: list[Period]) -> list[float | None]:
    return [p.value for p in found]


def test_periods_are_compressed_newest_first_and_only_of_the_exact_metric() -> None:
    three = rule(evaluation_periods=3, datapoints_to_alarm=3)
    data = [
        datum(1, 0.2),
        datum(2, 0.7),  # same (newest) period
        datum(5, 2.5),  # the third period
        datum(9, 3.5),  # older than the evaluation range
        datum(7, 0.1, service="other"),  # another dimension set
        datum(7, 0.1, service="incident-runbook", stage="prod"),  # a superset is another metric
    ]
    found = periods(three, data, NOW, SCALE)
    assert values(found) == [3.0, None, 5.0]
    assert [p.start for p in found] == [NOW - dt.timedelta(seconds=s) for s in (1, 2, 3)]
    assert found[0].samples == 2


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Sum", 16.0),
        ("Average", 4.0),
        ("Minimum", 1.0),
        ("Maximum", 8.0),
        ("SampleCount", 4.0),
        ("p50", 2.0),
    ],
)
def test_statistics_over_single_values_and_statistic_sets(name: str, expected: float) -> None:
    singles = [datum(1, 0), datum(2, 0), datum(5, 0)]
    if name == "p50":
        assert statistic(name, singles) == (2.0, 3)
        return
    stats = MetricAggregatedDatum("N", "M", 8.0, 8.0, 1, 8.0, [], None)
    assert statistic(name, [*singles[:2], stats, singles[2]]) == (expected, 4)
    assert statistic(name, []) == (None, 0.0)


def test_a_dead_mans_switch_alarms_without_data_and_is_ok_with_it() -> None:
    switch = rule()
    silent = periods(switch, [], NOW, SCALE)
    alarm = decide(switch, silent, "INSUFFICIENT_DATA")
    assert alarm is not None and alarm.state == "ALARM"
    assert alarm.reason == (
        "Threshold Crossed: no datapoints were received for 1 period and 1 missing datapoint "
        "was treated as [Breaching]."
    )
    beating = periods(switch, [datum(1, 0.5)], NOW, SCALE)
    ok = decide(switch, beating, "ALARM")
    assert ok is not None and ok.state == "OK"
    assert ok.reason.startswith(
        "Threshold Crossed: 1 out of the last 1 datapoints [1.0 (05/01/26 11:59:59)]"
    )
    assert ok.reason.endswith(
        "was not less than the threshold (1.0) (minimum 1 datapoint for ALARM -> OK transition)."
    )
    data = json.loads(ok.reason_data)
    assert data["statistic"] == "Sum" and data["period"] == 60 and data["recentDatapoints"] == [1.0]
    assert decide(switch, beating, "OK") is None  # no change, no decision


def value_periods(*points: float | None) -> list[Period]:
    return [
        Period(NOW - dt.timedelta(seconds=i + 1), v, 1 if v is not None else 0)
        for i, v in enumerate(points)
    ]


# Three of three (M = N = 3), threshold "> 5": X breaches (9), GOOD does not (1).
X, GOOD, MISSING = 9.0, 1.0, None


@pytest.mark.parametrize(
    ("points", "missing", "ignore", "breaching", "not_breaching"),
    [
        ((GOOD, MISSING, X), "OK", "OK", "OK", "OK"),
        ((X, X, X), "ALARM", "ALARM", "ALARM", "ALARM"),
        ((MISSING, MISSING, MISSING), "INSUFFICIENT_DATA", None, "ALARM", "OK"),
        ((X, MISSING, X), "ALARM", "ALARM", "ALARM", "OK"),
        ((MISSING, X, MISSING), "ALARM", "ALARM", "ALARM", "OK"),
        ((GOOD, GOOD, MISSING), "OK", "OK", "OK", "OK"),
    ],
)
def test_missing_data_is_treated_as_configured(
    points: tuple[float | None, ...],
    missing: str | None,
    ignore: str | None,
    breaching: str,
    not_breaching: str,
) -> None:
    base = {
        "evaluation_periods": 3,
        "datapoints_to_alarm": 3,
        "threshold": 5.0,
        "comparison": "GreaterThanThreshold",
    }
    for treat, expected in (
        ("missing", missing),
        ("ignore", ignore),
        ("breaching", breaching),
        ("notBreaching", not_breaching),
    ):
        decision = decide(rule(treat_missing_data=treat, **base), value_periods(*points), "UNSET")
        assert (decision.state if decision else None) == expected, treat


def test_m_out_of_n_needs_m_breaching_periods() -> None:
    two_of_three = rule(
        evaluation_periods=3,
        datapoints_to_alarm=2,
        threshold=5.0,
        comparison="GreaterThanOrEqualToThreshold",
        treat_missing_data="missing",
    )
    assert decide(two_of_three, value_periods(X, GOOD, X), "OK").state == "ALARM"  # type: ignore[union-attr]
    assert decide(two_of_three, value_periods(X, GOOD, GOOD), "ALARM").state == "OK"  # type: ignore[union-attr]
    insufficient = decide(two_of_three, value_periods(None, None, None), "OK")
    assert (
        insufficient is not None
        and insufficient.reason == "Insufficient Data: 3 datapoints were unknown."
    )


def test_only_single_metric_alarms_have_a_rule() -> None:
    from moto.cloudwatch.models import Alarm

    def alarm(**changes: object) -> Alarm:
        kwargs: dict[str, object] = {
            "account_id": "123456789012",
            "region_name": "us-east-1",
            "name": "a",
            "namespace": "N",
            "metric_name": "M",
            "metric_data_queries": None,
            "comparison_operator": "GreaterThanThreshold",
            "evaluation_periods": 2,
            "datapoints_to_alarm": None,
            "period": 60,
            "threshold": 1.0,
            "statistic": "Average",
            "extended_statistic": None,
            "description": "",
            "dimensions": [{"Name": "FunctionName", "Value": "orders"}],
            "alarm_actions": [],
            "ok_actions": [],
            "insufficient_data_actions": [],
            "unit": None,
            "actions_enabled": True,
            "treat_missing_data": None,
            "evaluate_low_sample_count_percentile": None,
            "threshold_metric_id": None,
            "rule": None,
        }
        kwargs.update(changes)
        return Alarm(**kwargs)  # type: ignore[arg-type]

    single = AlarmRule.of(alarm())
    assert single is not None
    assert (single.datapoints_to_alarm, single.treat_missing_data) == (2, "missing")
    assert single.dimensions == frozenset({("FunctionName", "orders")})
    assert AlarmRule.of(alarm(rule="ALARM(a)")) is None
    assert (
        AlarmRule.of(alarm(comparison_operator="LessThanLowerOrGreaterThanUpperThreshold")) is None
    )
    assert AlarmRule.of(alarm(extended_statistic="p99", statistic=None)).statistic == "p99"  # type: ignore[union-attr]
