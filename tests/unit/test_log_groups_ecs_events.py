"""Which stopped ECS tasks the diagnostics read: the log group the stack names in
ECS_EVENTS_LOG_GROUP, queried for the incident's (cluster, service) pairs only (names ECS could
not have issued are left out with a note), through the resolver and the logs source's plan."""

from __future__ import annotations

import boto3
import pytest

from diagnostics import queries
from diagnostics.log_groups import (
    ENV_ECS_EVENTS_LOG_GROUP,
    LogGroupResolver,
    LogGroups,
)
from diagnostics.logs import plan_queries
from diagnostics.paging import Deadline
from diagnostics.targets import Targets

REGION = "us-east-1"
GROUP = "/aws/events/IncidentRunbook/ecs-tasks-stopped"


def _resolve(targets: Targets) -> LogGroups:
    resolver = LogGroupResolver(lambda service, region=None: boto3.client(service, REGION))
    return resolver.resolve(targets, Deadline.after(10))


def _ecs_query(groups: LogGroups) -> tuple[str, tuple[str, ...]]:
    (query,) = [q for q in plan_queries(groups) if q.name == "ecs_stopped_reasons"]
    return query.query_string, query.log_groups


def test_the_query_reads_the_stacks_group_for_the_incidents_services(
    moto: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_ECS_EVENTS_LOG_GROUP, GROUP)
    groups = _resolve(Targets(ecs_services=[("prod", "orders"), ("prod-eu", "orders")]))
    assert groups.ecs_events == [GROUP]
    assert groups.ecs_services == [("prod", "orders"), ("prod-eu", "orders")]
    text, log_groups = _ecs_query(groups)
    assert log_groups == (GROUP,)
    assert text == queries.ecs_stopped_reasons([("prod", "orders"), ("prod-eu", "orders")])


def test_without_the_variable_the_old_name_is_read(
    moto: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_ECS_EVENTS_LOG_GROUP, raising=False)
    assert _resolve(Targets(ecs_services=[("prod", "orders")])).ecs_events == ["/aws/events/ecs"]


def test_names_ecs_could_not_have_issued_are_left_out_with_a_note(moto: None) -> None:
    groups = _resolve(Targets(ecs_services=[("prod", 'orders" or "x'), ("prod", "web")]))
    assert groups.ecs_services == [("prod", "web")]
    assert 'ECS task events not queried for: prod/orders" or "x' in groups.notes
    text, _ = _ecs_query(groups)
    assert '"service:web"' in text and "orders" not in text


def test_no_valid_service_no_query(moto: None) -> None:
    groups = _resolve(Targets(ecs_services=[("prod", "a b")]))
    assert groups.ecs_events == [] and groups.ecs_services == []
    assert [q.name for q in plan_queries(groups)] == []


def test_at_most_max_services_are_queried(moto: None) -> None:
    services = [("prod", f"s{i:02d}") for i in range(queries.MAX_ECS_SERVICES + 2)]
    groups = _resolve(Targets(ecs_services=services))
    assert groups.ecs_services == services[: queries.MAX_ECS_SERVICES]
    assert "ECS task events not queried for: prod/s10, prod/s11" in groups.notes
    _ecs_query(groups)  # the query builds
