"""Choosing an incident's response plan: first match wins, else the default."""

from __future__ import annotations

from oncall.declaration import Match, ResponseConfig, ResponsePlan
from oncall.response_plans import choose

PLANS = (
    ResponsePlan(
        id="payments-critical",
        match=Match(severity=("critical", "high"), alarm_name="^payments-", resource="payments"),
        escalation_plan="payments",
    ),
    ResponsePlan(id="default", escalation_plan="everyone"),  # not last: still only a fallback
    ResponsePlan(id="databases", match=Match(resource=r"^AWS::RDS::DBInstance=")),
    ResponsePlan(id="any-high", match=Match(severity=("high",))),
    ResponsePlan(id="orders", match=Match(alarm_name="orders")),
)
CONFIG = ResponseConfig(response_plans=PLANS)
LAMBDA = ("AWS::Lambda::Function", "payments-api")
RDS = ("AWS::RDS::DBInstance", "orders-db")


def plan(severity: str, alarm: str | None, *resources: tuple[str, str]) -> str:
    return choose(CONFIG, severity=severity, alarm_name=alarm, resources=resources).id


def test_every_condition_must_hold() -> None:
    assert plan("critical", "payments-5xx", LAMBDA) == "payments-critical"
    assert plan("standard", "payments-5xx", LAMBDA) == "default"  # severity not listed
    assert plan("critical", "api-payments-5xx", LAMBDA) == "default"  # alarm: ^ anchors
    assert plan("critical", "payments-5xx", RDS) == "databases"  # resource not found


def test_the_first_match_wins_in_order() -> None:
    assert plan("high", "payments-5xx", LAMBDA, RDS) == "payments-critical"
    assert plan("high", "x", RDS) == "databases"
    assert plan("high", "x") == "any-high"


def test_alarm_patterns_are_searched_and_need_an_alarm() -> None:
    assert plan("standard", "eu-orders-errors") == "orders"
    assert plan("standard", None) == "default"


def test_resources_are_searched_as_type_equals_id() -> None:
    assert plan("standard", None, ("AWS::RDS::DBCluster", "orders-db")) == "default"
    assert plan("standard", None, LAMBDA, RDS) == "databases"


def test_without_a_default_the_built_in_one_escalates_to_nobody() -> None:
    config = ResponseConfig(response_plans=PLANS[2:])
    chosen = choose(config, severity="standard", alarm_name="x", resources=())
    assert (chosen.id, chosen.escalation_plan) == ("default", None)
