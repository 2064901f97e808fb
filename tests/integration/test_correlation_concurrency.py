"""Many deliveries at once (threads against moto): one alarm storm is one incident and one
execution; redelivered copies never count twice; related alarms racing each other fold into
one incident; a flapping alarm racing to reopen reopens once.

DynamoDB applies each conditional write atomically; moto checks a condition and then writes
without a lock, so two threads can both pass the same condition. The fixture below adds the
atomicity DynamoDB guarantees, with the emulator's own fix (one lock around moto's table
operations), nothing more.
"""

from __future__ import annotations

import contextlib
import random
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from handlers import ingest, recovery
from incidents import alarm_tags
from incidents.repository import IncidentRepository
from runbook.local.moto_fixes import serialise_dynamodb_requests

REGION = "us-east-1"
TABLE_NAME = "incident-runbook-incidents"


@pytest.fixture
def atomic_dynamodb() -> Iterator[None]:
    undo = serialise_dynamodb_requests()
    yield
    undo()


@pytest.fixture(autouse=True)
def ready(incident_table, state_machine, atomic_dynamodb) -> str:
    alarm_tags.clear_cache()
    return state_machine


def _executions(state_machine_arn: str) -> list[str]:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    listed = sfn.list_executions(stateMachineArn=state_machine_arn)["executions"]
    return sorted(e["name"] for e in listed)


def _deliver_all(events: list[dict[str, Any]], context: Any, workers: int = 16) -> list[dict]:
    barrier = threading.Barrier(min(workers, len(events)))

    def deliver(event: dict[str, Any]) -> dict:
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=5)
        return ingest.lambda_handler(event, context)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(deliver, events))


def _storm(alarm_event: Callable[..., dict], name: str, function: str, count: int) -> list[dict]:
    start = datetime(2024, 5, 1, 14, 0, tzinfo=UTC)
    return [
        alarm_event(
            alarm_name=name,
            function_name=function,
            timestamp=(start + timedelta(seconds=7 * i)).strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
        )
        for i in range(count)
    ]


def test_one_alarm_storm_is_one_incident_and_one_execution(
    ready, alarm_event, lambda_context, incident_table
) -> None:
    distinct = _storm(alarm_event, "orders-api-errors", "orders-api", 30)
    deliveries = distinct + [dict(e) for e in random.Random(7).sample(distinct, 10)]
    random.Random(11).shuffle(deliveries)

    results = _deliver_all(deliveries, lambda_context)

    statuses = Counter(r["status"] for r in results)
    assert statuses["started"] == 1
    assert statuses["duplicate"] == 10
    assert statuses["correlated"] == 29
    assert len({r["incident_id"] for r in results}) == 1
    incident_id = results[0]["incident_id"]
    assert _executions(ready) == [incident_id]
    item = incident_table.get_item(Key={"incident_id": incident_id})["Item"]
    assert item["signal_count"] == 30
    assert len(item["signal_ids"]) == 30
    assert [i.incident_id for i in IncidentRepository(incident_table).list()] == [incident_id]


def test_identical_copies_delivered_at_once_start_one_execution(
    ready, alarm_event, lambda_context
) -> None:
    results = _deliver_all([alarm_event() for _ in range(16)], lambda_context)
    assert Counter(r["status"] for r in results) == {"started": 1, "duplicate": 15}
    assert len(_executions(ready)) == 1


def test_unrelated_alarms_at_once_open_one_incident_each(
    ready, alarm_event, lambda_context
) -> None:
    events = [
        e for n in range(5) for e in _storm(alarm_event, f"service-{n}-errors", f"service-{n}", 6)
    ]
    random.Random(3).shuffle(events)

    results = _deliver_all(events, lambda_context)

    assert Counter(r["status"] for r in results) == {"started": 5, "correlated": 25}
    assert len(_executions(ready)) == 5


def test_related_alarms_racing_each_other_fold_into_one_incident(
    ready, alarm_event, lambda_context, incident_table
) -> None:
    events = [
        alarm_event(alarm_name=f"orders-api-{metric}", function_name="orders-api")
        for metric in ("errors", "throttles", "duration", "iterator-age", "dead-letters", "p99")
    ]
    results = _deliver_all(events * 2, lambda_context)

    assert len({r["incident_id"] for r in results}) == 1
    statuses = Counter(r["status"] for r in results)
    assert statuses["started"] == 1
    # A copy racing its original may join first through the claim the original just set
    # ("correlated"); either way each alarm joins once and its copy is the duplicate.
    assert statuses["folded"] + statuses["correlated"] == 5
    assert statuses["duplicate"] == 6
    assert len(_executions(ready)) == 1
    item = incident_table.get_item(Key={"incident_id": results[0]["incident_id"]})["Item"]
    assert item["signal_count"] == 6


def test_a_flapping_alarm_racing_to_reopen_reopens_once(ready, alarm_event, lambda_context) -> None:
    now = datetime.now(UTC)

    def at(minutes: float) -> str:
        return (now + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"

    incident_id = ingest.lambda_handler(alarm_event(timestamp=at(-10)), lambda_context)[
        "incident_id"
    ]
    recovery.lambda_handler(alarm_event(state="OK", timestamp=at(-1)), lambda_context)
    repo = IncidentRepository(boto3.resource("dynamodb", region_name=REGION).Table(TABLE_NAME))
    signal = repo.get(incident_id).recovery_signal
    assert signal is not None
    repo.confirm_recovery(incident_id, signal, "stayed OK")  # the stabilisation check's part
    refires = [alarm_event(timestamp=at(2 + i / 10)) for i in range(12)]

    results = _deliver_all(refires, lambda_context)

    statuses = Counter(r["status"] for r in results)
    assert statuses["reopened"] == 1
    assert statuses["correlated"] == 11
    assert {r["incident_id"] for r in results} == {incident_id}
    assert _executions(ready) == [incident_id, f"{incident_id}-r1"]
