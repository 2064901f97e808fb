"""No data lost (issue 7): every event ingest accepts ends on exactly one incident (in its
`signal_ids`, counted in `signal_count`, on its timeline) or as exactly one `error#` record with
its raw body and reason; a redelivery changes nothing; a throttled table raises
TransientDependencyError (so Lambda's retries and the OnFailure queue keep the event) and the
redelivery is then counted exactly once.

A seeded mix of good events of every source ingest handles (alarm storms, related alarms that
fold, a composite alarm, AWS Health issues and updates, ECS stops, CodeDeploy failures), exact
redeliveries and malformed events goes through `handlers.ingest.lambda_handler`, first one by
one and then concurrently, with DynamoDB's per-request atomicity restored on moto
(runbook.local.moto_fixes.serialise_dynamodb_requests), and then every delivery is accounted for.
"""

from __future__ import annotations

import contextlib
import copy
import json
import random
import string
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.retries.standard import ExponentialBackoff
from moto.dynamodb.exceptions import ERROR_TYPE_PREFIX, DynamodbException
from moto.dynamodb.models import DynamoDBBackend

from handlers import ingest, recovery
from incidents import alarm_tags
from incidents.policy import reset_ingest_policy
from incidents.repository import IncidentRepository
from incidents.sources import parse_source_event
from runbook.local.moto_fixes import serialise_dynamodb_requests
from shared.errors import TransientDependencyError
from tests.conftest import make_alarm_event
from tests.unit.test_events_sources import (
    COMPOSITE_ALARM_EVENT,
    HEALTH_EC2_ISSUE,
    HEALTH_EC2_RETIREMENT,
    HEALTH_ELB_ISSUE,
    codedeploy_event,
    ecs_stopped,
    health_event,
)

REGION = "us-east-1"
SEED = 20240501
RAW_LIMIT = 300_000  # what an error# record keeps of a raw event (repository.py)
# docs/contracts.md, "Ingest": every answer ingest may give.
INGEST_STATUSES = {
    "started",
    "duplicate",
    "correlated",
    "folded",
    "reopened",
    "recorded",
    "late",
    "rejected",
}
RECOVERY_STATUSES = {"resumed", "recorded", "already_resolved", "ignored", "rejected"}
START = datetime(2024, 5, 1, 14, 0, tzinfo=UTC)


# -- fixtures ---------------------------------------------------------------------------------
@pytest.fixture
def atomic_dynamodb() -> Iterator[None]:
    undo = serialise_dynamodb_requests()
    yield
    undo()


@pytest.fixture
def ready(incident_table: Any, state_machine: str, atomic_dynamodb: None) -> Iterator[str]:
    alarm_tags.clear_cache()
    reset_ingest_policy()
    yield state_machine
    reset_ingest_policy()


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore retries a throttled request after a random wait of up to seconds: no wait."""
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)


class Throttle:
    """DynamoDB answering ProvisionedThroughputExceededException to every request of one
    operation on matching keys while armed (botocore's own retries included)."""

    def __init__(self) -> None:
        self.operation = ""
        self.matches: Callable[[str], bool] = lambda key: False
        self.hits = 0

    def arm(self, operation: str, matches: Callable[[str], bool]) -> None:
        self.operation, self.matches, self.hits = operation, matches, 0

    def disarm(self) -> None:
        self.operation = ""

    def check(self, operation: str, key: str) -> None:
        if operation == self.operation and self.matches(key):
            self.hits += 1
            raise DynamodbException(
                ERROR_TYPE_PREFIX + "ProvisionedThroughputExceededException",
                "The level of configured provisioned throughput for the table was exceeded.",
            )


@pytest.fixture
def throttle(monkeypatch: pytest.MonkeyPatch, no_backoff: None) -> Throttle:
    state = Throttle()
    key_of = {
        "get_item": lambda args, kwargs: kwargs.get("keys") or args[1],
        "put_item": lambda args, kwargs: kwargs.get("item_attrs") or args[1],
        "update_item": lambda args, kwargs: kwargs.get("key") or args[1],
    }
    for name, key in key_of.items():
        original = getattr(DynamoDBBackend, name)

        def throttled(
            self: Any,
            *args: Any,
            __name: str = name,
            __key: Any = key,
            __original: Any = original,
            **kwargs: Any,
        ) -> Any:
            state.check(__name, __key(args, kwargs)["incident_id"]["S"])
            return __original(self, *args, **kwargs)

        monkeypatch.setattr(DynamoDBBackend, name, throttled)
    return state


# -- the mix ----------------------------------------------------------------------------------
@dataclass(eq=False)
class Delivery:
    kind: str  # good | duplicate | malformed
    event: Any
    group: str = ""  # good: which incident it belongs on ("" for a recorded Health event)
    signal_id: str = ""


def _stamp(seconds: float) -> str:
    return (START + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"


def _good_events(rng: random.Random) -> list[tuple[str, Any]]:
    """(group, event): each group must end as one incident. Every group's signals lie within
    four minutes, so folding (correlationWindowMinutes 5) never depends on arrival order."""
    good: list[tuple[str, Any]] = []
    # Three alarms on one function fold into one incident; each fires repeatedly.
    for alarm, firings in (("errors", 20), ("throttles", 10), ("duration", 8)):
        for second in rng.sample(range(240), firings):
            event = make_alarm_event(
                alarm_name=f"orders-api-{alarm}",
                function_name="orders-api",
                timestamp=_stamp(second),
            )
            good.append(("orders-api", event))
    # Unrelated alarm storms: one incident each.
    for n in range(4):
        for second in rng.sample(range(240), rng.randint(6, 14)):
            event = make_alarm_event(
                alarm_name=f"svc{n}-errors", function_name=f"svc{n}", timestamp=_stamp(second)
            )
            good.append((f"svc{n}", event))
    # An alarm with a huge (but well-formed) description is still an incident.
    big = make_alarm_event(alarm_name="reports-errors", function_name="reports")
    big["detail"]["configuration"]["description"] = "d" * 200_000
    good.append(("reports", big))
    # A composite alarm folds into the incident of the child that triggered it (the child's
    # firings go first, in the sequential phase).
    for stamp in ("2022-07-22T15:55:00.000+0000", "2022-07-22T15:57:40.000+0000"):
        event = make_alarm_event(
            alarm_name="ServerCpuTooHigh", function_name="cpu", timestamp=stamp
        )
        good.append(("cpu", event))
    good.append(("cpu", copy.deepcopy(COMPOSITE_ALARM_EVENT)))
    # AWS Health: an issue and three updates of it (one incident), another issue, a scheduled
    # change; closed events of other issues are only recorded (their health# item).
    good.append(("health-ec2", copy.deepcopy(HEALTH_EC2_ISSUE)))
    for minute in (10, 20, 30):
        update = health_event(lastUpdatedTime=f"Fri, 27 Jan 2023 09:{minute}:00 GMT")
        good.append(("health-ec2", update))
    good.append(("health-elb", copy.deepcopy(HEALTH_ELB_ISSUE)))
    good.append(("health-retirement", copy.deepcopy(HEALTH_EC2_RETIREMENT)))
    for n in range(2):
        arn = f"arn:aws:health:af-south-1::event/EC2/AWS_EC2_OPERATIONAL_ISSUE/closed-{n}"
        good.append(("", health_event(eventArn=arn, statusCode="closed")))
    # ECS: a service's tasks failing (one incident), a standalone family's tasks (another).
    stops = [
        ("EssentialContainerExited", "Essential container in task exited", 1),
        ("TaskFailedToStart", "CannotPullContainerError: pull image manifest", None),
        ("SpotInterruption", "Your Spot Task was interrupted.", 143),
        ("ServiceSchedulerInitiated", "Task failed ELB health checks in (target-group)", 143),
    ]
    for i in range(8):
        code, reason, exit_code = rng.choice(stops)
        at = (START + timedelta(seconds=20 * i)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        event = ecs_stopped(code, reason, exit_code, task=f"{i:032x}", stopped_at=at)
        good.append(("ecs-service", event))
    for i in range(3):
        at = (START + timedelta(seconds=30 * i)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        event = ecs_stopped(group="family:batch", task=f"{100 + i:032x}", stopped_at=at)
        good.append(("ecs-family", event))
    # CodeDeploy: five failed deployments of one deployment group.
    for i in range(5):
        good.append(("codedeploy", codedeploy_event(deployment=f"d-{i:09d}")))
    return good


def _garbage(rng: random.Random) -> str:
    alphabet = string.printable + "\u00e9\u2603\U0001f525\x00\ufffd"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 200)))


def _malformed_events(rng: random.Random, good: list[Any]) -> list[Any]:
    """Distinct events ingest must reject (and record)."""
    alarm = make_alarm_event()

    def alarm_with(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        event = copy.deepcopy(alarm)
        change(event)
        return event

    bad: list[Any] = [
        None,
        [],
        "",
        42,
        3.14,
        True,
        [1, "two", {"three": 3}],
        json.dumps(alarm),  # a JSON object serialised twice: a string, not an event
        {},
        {"hello": "world"},
        alarm_with(lambda e: e.pop("detail")),
        alarm_with(lambda e: e.update(detail="a string, not an object")),
        alarm_with(lambda e: e["detail"]["state"].update(value=5)),
        alarm_with(lambda e: e["detail"]["state"].pop("timestamp")),
        alarm_with(lambda e: e["detail"]["state"].update(timestamp="yesterday")),
        alarm_with(lambda e: e["detail"].update(alarmName=["a", "list"])),
        alarm_with(lambda e: e.update(resources="not a list")),
        alarm_with(lambda e: e.update(resources=["arn:aws:s3:::not-an-alarm"])),
        alarm_with(lambda e: e.update({"detail-type": "CloudWatch Alarm Configuration Change"})),
        alarm_with(lambda e: e.update({"detail-type": None})),
        alarm_with(lambda e: e.update(source="aws.ec2")),
        alarm_with(lambda e: e.update(source="custom.orders")),
        alarm_with(lambda e: e.update(source=["aws.cloudwatch"])),
        make_alarm_event(state="OK"),  # OK goes to the recovery step, not ingest
        make_alarm_event(state="INSUFFICIENT_DATA"),
        ecs_stopped("UserInitiated", "Task stopped by user", 143),
        ecs_stopped("EssentialContainerExited", "Essential container in task exited", 0),
        codedeploy_event(state="SUCCESS"),
        health_event(eventTypeCategory="accountNotification"),
        health_event(startTime="the day before yesterday"),
        health_event(eventArn=""),
        # Oversized: larger than a DynamoDB item may hold, so the record keeps a prefix.
        {"source": "custom.bulk", "detail-type": "Bulk", "detail": {"blob": "z" * 450_000}},
        alarm_with(lambda e: e["detail"].update(padding=list(range(60_000)), alarmName=7)),
    ]
    bad += [_garbage(rng) for _ in range(6)]
    for event in rng.sample(good, 10):  # a good event missing a required envelope field
        mutant = copy.deepcopy(event)
        mutant.pop(rng.choice(["id", "time", "account", "region", "detail"]))
        bad.append(mutant)
    distinct: dict[str, Any] = {}
    for event in bad:
        distinct.setdefault(_raw(event), event)
    return list(distinct.values())


def _raw(event: Any) -> str:
    """The raw body an error# record keeps (repository.record_invalid_event)."""
    return json.dumps(event, sort_keys=True, default=str)


def _signal_id(event: Any) -> str:
    return parse_source_event(event).incident_id()


def _mix(rng: random.Random) -> tuple[list[Delivery], list[Delivery]]:
    """(sequential, concurrent) deliveries: every good event once, 60 redeliveries of good
    events, every malformed event once and 6 of them again."""
    good = [Delivery("good", event, group, _signal_id(event)) for group, event in _good_events(rng)]
    malformed = [Delivery("malformed", e) for e in _malformed_events(rng, [d.event for d in good])]
    incident_events = [d for d in good if d.group]
    duplicates = [
        Delivery("duplicate", copy.deepcopy(d.event), d.group, d.signal_id)
        for d in rng.sample(incident_events, 60)
    ]
    malformed_again = [
        Delivery("malformed", copy.deepcopy(d.event)) for d in rng.sample(malformed, 6)
    ]
    first = [
        d
        for d in good
        if d.group == "cpu" and d.event["detail"]["alarmName"] != "ServiceAggregatedAlarm"
    ]
    rest = [d for d in good + duplicates + malformed + malformed_again if d not in first]
    rng.shuffle(rest)
    sequential = first + rest[:40]
    return sequential, rest[40:]


def _deliver_concurrently(deliveries: list[Delivery], context: Any) -> list[dict[str, Any]]:
    barrier = threading.Barrier(16)

    def deliver(delivery: Delivery) -> dict[str, Any]:
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=2)
        return ingest.lambda_handler(delivery.event, context)

    with ThreadPoolExecutor(max_workers=16) as pool:
        return list(pool.map(deliver, deliveries))


def _items(table: Any) -> dict[str, dict[str, Any]]:
    items: dict[str, dict[str, Any]] = {}
    kwargs: dict[str, Any] = {"ConsistentRead": True}
    while True:
        page = table.scan(**kwargs)
        items.update({item["incident_id"]: item for item in page["Items"]})
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _executions(state_machine_arn: str) -> list[str]:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=state_machine_arn)
    return sorted(e["name"] for page in pages for e in page["executions"])


# -- the accounting ---------------------------------------------------------------------------
def test_every_delivery_of_a_mixed_storm_is_accounted_for(
    ready: str, incident_table: Any, lambda_context: Any
) -> None:
    sequential, concurrent = _mix(random.Random(SEED))
    deliveries = sequential + concurrent
    answers = [ingest.lambda_handler(d.event, lambda_context) for d in sequential]
    answers += _deliver_concurrently(concurrent, lambda_context)

    kinds = Counter(d.kind for d in deliveries)
    good = [d for d in deliveries if d.kind == "good"]
    malformed_raws = {_raw(d.event) for d in deliveries if d.kind == "malformed"}
    groups = {d.group for d in good if d.group}
    assert len(deliveries) >= 200
    assert len({d.signal_id for d in good}) == len(good)  # every good event is its own signal

    # Every answer is a documented one; nothing raised.
    assert all(isinstance(a, dict) and a["status"] in INGEST_STATUSES for a in answers)
    statuses = Counter(a["status"] for a in answers)
    recorded = [d for d in good if not d.group]
    assert statuses["rejected"] == kinds["malformed"]
    assert statuses["duplicate"] == kinds["duplicate"]
    assert statuses["recorded"] == len(recorded)
    assert statuses["started"] == len(groups)
    joined = len(good) - len(recorded) - len(groups)
    assert statuses["correlated"] + statuses["folded"] == joined
    # Each related alarm folds once (two orders-api alarms, the composite); its next firings
    # join through its own key, which then names the incident it folded into.
    assert statuses["folded"] == 3
    assert statuses["late"] == statuses["reopened"] == 0

    items = _items(incident_table)
    incidents = {k: v for k, v in items.items() if k.startswith("inc-")}
    errors = {k: v for k, v in items.items() if k.startswith("error#")}
    health = {k: v for k, v in items.items() if k.startswith("health#")}
    assert set(items) == set(incidents) | set(errors) | set(health) | {
        k for k in items if k.startswith("claim#")
    }

    # Good events: each signal on exactly one incident, the one its answer named, with the
    # other signals of its group and only those.
    holder: dict[str, str] = {}
    for incident_id, item in incidents.items():
        for signal_id in item["signal_ids"]:
            assert signal_id not in holder, f"{signal_id} counted on two incidents"
            holder[signal_id] = incident_id
    by_group: dict[str, set[str]] = defaultdict(set)
    for delivery, answer in zip(deliveries, answers, strict=True):
        if delivery.kind == "malformed" or not delivery.group:
            continue
        assert holder[delivery.signal_id] == answer["incident_id"], delivery.signal_id
        by_group[delivery.group].add(answer["incident_id"])
    assert all(len(ids) == 1 for ids in by_group.values()), by_group
    assert len(incidents) == len(groups)
    expected_signals = {d.signal_id for d in good if d.group}
    assert set(holder) == expected_signals
    assert set(incidents) <= expected_signals  # each incident was opened by one of them
    for item in incidents.values():
        events = Counter(entry["event"] for entry in item["timeline"])
        assert item["signal_count"] == len(item["signal_ids"])
        assert events["opened"] == 1
        assert events["workflow started"] == 1
        assert events["correlated"] + events["folded"] == item["signal_count"] - 1
    assert sum(int(i["signal_count"]) for i in incidents.values()) == len(expected_signals)
    assert _executions(ready) == sorted(incidents)

    # Recorded Health events: their health# items; every Health event is stored.
    health_events = {
        d.event["detail"]["eventArn"] for d in good if d.event.get("source") == "aws.health"
    }
    assert {h["event_arn"] for h in health.values()} == health_events
    assert {h["status_code"] for h in health.values() if "closed-" in h["event_arn"]} == {"closed"}

    # Malformed events: one error# record each, with the raw body and the answer's reason.
    assert len(errors) == len(malformed_raws)
    by_raw = {e["raw_event"]: e for e in errors.values()}
    for delivery, answer in zip(deliveries, answers, strict=True):
        if delivery.kind != "malformed":
            continue
        assert answer["error"] == "InvalidIncidentInput"
        record = by_raw[_raw(delivery.event)[:RAW_LIMIT]]
        assert record["reason"] == answer["reason"] and record["reason"]
    assert len(by_raw) == len(errors)

    # The totals: accepted = on an incident + recorded Health + recorded errors (+ redeliveries).
    assert len(deliveries) == (
        sum(int(i["signal_count"]) for i in incidents.values())
        + len(recorded)
        + kinds["duplicate"]
        + kinds["malformed"]
    )

    # Everything delivered again, at once: nothing changes.
    before = {k: v for k, v in _items(incident_table).items() if not k.startswith("error#")}
    again = _deliver_concurrently(deliveries, lambda_context)
    for delivery, answer in zip(deliveries, again, strict=True):
        expected = (
            "rejected"
            if delivery.kind == "malformed"
            else ("duplicate" if delivery.group else "recorded")
        )
        assert answer["status"] == expected, (delivery.kind, delivery.group, answer)
    after = _items(incident_table)
    assert {k: v for k, v in after.items() if not k.startswith("error#")} == before
    assert {k for k in after if k.startswith("error#")} == set(errors)
    assert _executions(ready) == sorted(incidents)


# -- a throttled table: the event is retried, then counted once -------------------------------
def _alarm(second: int = 0) -> dict[str, Any]:
    return make_alarm_event(
        alarm_name="payments-errors", function_name="payments", timestamp=_stamp(second)
    )


def _age_claims(table: Any) -> None:
    """Lambda retries a failed async event after a minute or more: by then a claim the failed
    delivery left is stale (claims.PENDING_FOR)."""
    for key, item in _items(table).items():
        if key.startswith("claim#"):
            table.update_item(
                Key={"incident_id": key},
                UpdateExpression="SET claimed_at = :old",
                ExpressionAttributeValues={":old": "2000-01-01T00:00:00Z"},
            )
            assert item["current"]


THROTTLED_STEPS: dict[str, tuple[str, Callable[[str, str], bool], set[str]]] = {
    # step: (operation, which keys, what the failed delivery leaves behind)
    "dedupe lookup": ("get_item", lambda key, sid: key == sid, set()),
    "claim swap": ("update_item", lambda key, sid: key.startswith("claim#"), set()),
    "incident write": ("put_item", lambda key, sid: key == sid, {"claim"}),
    # The run started but its ARN was not recorded: the retry finds the run (5 s later).
    "execution recorded": ("update_item", lambda key, sid: key == sid, {"claim", "incident"}),
}


def _kinds(table: Any) -> set[str]:
    return {key.split("#")[0] if "#" in key else "incident" for key in _items(table)}


@pytest.mark.parametrize("step", sorted(THROTTLED_STEPS))
def test_a_throttled_step_raises_transient_and_the_retry_counts_once(
    ready: str, incident_table: Any, lambda_context: Any, throttle: Throttle, step: str
) -> None:
    event = _alarm()
    signal_id = _signal_id(event)
    operation, matches, leftovers = THROTTLED_STEPS[step]
    throttle.arm(operation, lambda key: matches(key, signal_id))

    with pytest.raises(TransientDependencyError, match="ProvisionedThroughputExceeded"):
        ingest.lambda_handler(event, lambda_context)

    throttle.disarm()
    assert throttle.hits >= 1
    assert _kinds(incident_table) == leftovers
    assert _executions(ready) == ([signal_id] if "incident" in leftovers else [])
    _age_claims(incident_table)
    answer = ingest.lambda_handler(copy.deepcopy(event), lambda_context)

    assert answer["status"] == "started"
    assert answer["incident_id"] == signal_id
    item = incident_table.get_item(Key={"incident_id": signal_id})["Item"]
    assert item["signal_ids"] == {signal_id}
    assert item["signal_count"] == 1
    events = Counter(entry["event"] for entry in item["timeline"])
    assert events == {"opened": 1, "workflow started": 1}
    assert _executions(ready) == [signal_id]
    assert item["execution_arn"].endswith(f":{signal_id}")
    again = ingest.lambda_handler(copy.deepcopy(event), lambda_context)
    assert again["status"] == "duplicate"
    assert incident_table.get_item(Key={"incident_id": signal_id})["Item"] == item


def test_a_throttled_join_raises_transient_and_the_retry_joins_once(
    ready: str, incident_table: Any, lambda_context: Any, throttle: Throttle
) -> None:
    incident_id = ingest.lambda_handler(_alarm(0), lambda_context)["incident_id"]
    later = _alarm(60)
    throttle.arm("update_item", lambda key: key == incident_id)

    with pytest.raises(TransientDependencyError):
        ingest.lambda_handler(later, lambda_context)

    throttle.disarm()
    assert incident_table.get_item(Key={"incident_id": incident_id})["Item"]["signal_count"] == 1
    assert ingest.lambda_handler(copy.deepcopy(later), lambda_context)["status"] == "correlated"
    assert ingest.lambda_handler(copy.deepcopy(later), lambda_context)["status"] == "duplicate"
    item = incident_table.get_item(Key={"incident_id": incident_id})["Item"]
    assert item["signal_ids"] == {incident_id, _signal_id(later)}
    assert item["signal_count"] == 2
    assert [e["event"] for e in item["timeline"]].count("correlated") == 1
    assert _executions(ready) == [incident_id]


def test_a_throttled_health_record_raises_transient_and_the_retry_counts_once(
    ready: str, incident_table: Any, lambda_context: Any, throttle: Throttle
) -> None:
    event = copy.deepcopy(HEALTH_ELB_ISSUE)
    throttle.arm("put_item", lambda key: key.startswith("health#"))

    with pytest.raises(TransientDependencyError):
        ingest.lambda_handler(event, lambda_context)

    throttle.disarm()
    assert _items(incident_table) == {}
    answer = ingest.lambda_handler(copy.deepcopy(event), lambda_context)
    assert answer["status"] == "started"
    kinds = Counter(
        key.split("#")[0] if "#" in key else "incident" for key in _items(incident_table)
    )
    assert kinds["incident"] == 1 and kinds["health"] == 1
    assert _executions(ready) == [answer["incident_id"]]


def test_a_throttled_error_record_raises_transient_and_the_retry_records_once(
    ready: str, incident_table: Any, lambda_context: Any, throttle: Throttle
) -> None:
    event = make_alarm_event()
    del event["detail"]
    throttle.arm("put_item", lambda key: key.startswith("error#"))

    with pytest.raises(TransientDependencyError):
        ingest.lambda_handler(event, lambda_context)

    throttle.disarm()
    assert _items(incident_table) == {}
    answer = ingest.lambda_handler(copy.deepcopy(event), lambda_context)
    assert answer["status"] == "rejected"
    (record,) = _items(incident_table).values()
    assert record["incident_id"].startswith("error#")
    assert json.loads(record["raw_event"]) == event
    assert record["reason"] == answer["reason"]


# -- the recovery step's malformed OK events ---------------------------------------------------
def _recovery_malformed() -> list[Any]:
    ok = make_alarm_event(state="OK", alarm_name="payments-errors", function_name="payments")

    def ok_with(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        event = copy.deepcopy(ok)
        change(event)
        return event

    return [
        None,
        ["an", "array"],
        "OK",
        17,
        {},
        {"incident_id": ""},
        {"incident_id": 5, "by": "me"},
        {"incident_id": "inc-1", "by": "x" * 500},
        ok_with(lambda e: e.pop("detail")),
        ok_with(lambda e: e.update(detail="not an object")),
        ok_with(lambda e: e["detail"]["state"].update(value=0)),
        ok_with(lambda e: e["detail"]["state"].update(timestamp="at some point")),
        ok_with(lambda e: e.update(time="soon")),
        ok_with(lambda e: e.update(source="aws.ec2")),
        ok_with(lambda e: e.update(resources=[])),
        ok_with(lambda e: e["detail"].update(padding="p" * 400_000, alarmName=None)),
    ]


def test_recovery_records_every_malformed_ok_event(
    ready: str, incident_table: Any, lambda_context: Any
) -> None:
    opened = ingest.lambda_handler(_alarm(0), lambda_context)
    malformed = _recovery_malformed()

    answers = [recovery.lambda_handler(event, lambda_context) for event in malformed]

    assert all(a["status"] == "rejected" for a in answers), answers
    errors = {k: v for k, v in _items(incident_table).items() if k.startswith("error#")}
    assert len(errors) == len({_raw(e) for e in malformed}) == len(malformed)
    by_raw = {e["raw_event"]: e for e in errors.values()}
    for event, answer in zip(malformed, answers, strict=True):
        assert by_raw[_raw(event)[:RAW_LIMIT]]["reason"] == answer["reason"]
    # The incident is untouched by all of it; a good OK is then recorded on it, once.
    incident = IncidentRepository(incident_table).get(opened["incident_id"])
    assert incident.recovery_signal is None
    ok = make_alarm_event(
        state="OK", alarm_name="payments-errors", function_name="payments", timestamp=_stamp(300)
    )
    first = recovery.lambda_handler(ok, lambda_context)
    assert first == {"status": "recorded", "incident_id": opened["incident_id"]}
    signal = IncidentRepository(incident_table).get(opened["incident_id"]).recovery_signal
    assert signal is not None and signal.status == "recovered"
    again = recovery.lambda_handler(copy.deepcopy(ok), lambda_context)
    assert again["status"] in RECOVERY_STATUSES - {"resumed", "recorded"}
    assert IncidentRepository(incident_table).get(opened["incident_id"]).recovery_signal == signal
    unknown = make_alarm_event(state="OK", alarm_name="nobody-watches", function_name="x")
    assert recovery.lambda_handler(unknown, lambda_context)["status"] == "ignored"


def test_recovery_raises_transient_when_its_error_record_is_throttled(
    ready: str, incident_table: Any, lambda_context: Any, throttle: Throttle
) -> None:
    event = {"incident_id": ""}
    throttle.arm("put_item", lambda key: key.startswith("error#"))
    with pytest.raises(TransientDependencyError):
        recovery.lambda_handler(event, lambda_context)
    throttle.disarm()
    assert recovery.lambda_handler(event, lambda_context)["status"] == "rejected"
    assert _kinds(incident_table) == {"error"}
    assert len(_items(incident_table)) == 1


# -- found by this accounting, and fixed ------------------------------------------------------
def test_a_redelivery_past_the_signal_ids_cap_is_still_a_duplicate(
    ready: str, incident_table: Any, lambda_context: Any
) -> None:
    incident_id = ingest.lambda_handler(_alarm(0), lambda_context)["incident_id"]
    # A long storm: 1,000 signals absorbed already (set up directly; ingesting them is slow).
    incident_table.update_item(
        Key={"incident_id": incident_id},
        UpdateExpression="ADD signal_ids :ids SET signal_count = :count",
        ExpressionAttributeValues={
            ":ids": {f"inc-20240501-140000-{i:08x}" for i in range(1, 1000)},
            ":count": 1000,
        },
    )
    storm = _alarm(60)
    assert ingest.lambda_handler(storm, lambda_context)["status"] == "correlated"

    again = ingest.lambda_handler(copy.deepcopy(storm), lambda_context)

    item = incident_table.get_item(Key={"incident_id": incident_id})["Item"]
    assert (again["status"], item["signal_count"]) == ("duplicate", 1001)


def test_a_late_signal_is_kept_on_its_closed_incident(
    ready: str, incident_table: Any, lambda_context: Any
) -> None:
    now = datetime.now(UTC)

    def at(minutes: float) -> str:
        return (now + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"

    def alarm(minutes: float, state: str = "ALARM") -> dict[str, Any]:
        return make_alarm_event(state=state, timestamp=at(minutes))

    incident_id = ingest.lambda_handler(alarm(-10), lambda_context)["incident_id"]
    recovery.lambda_handler(alarm(-1, "OK"), lambda_context)
    repo = IncidentRepository(incident_table)
    signal = repo.get(incident_id).recovery_signal
    assert signal is not None
    repo.confirm_recovery(incident_id, signal, "stayed OK")  # closed one minute ago
    late = alarm(-5)  # fired while the incident was open; EventBridge delivered it late

    answer = ingest.lambda_handler(late, lambda_context)

    assert answer["status"] == "late"
    item = incident_table.get_item(Key={"incident_id": incident_id})["Item"]
    assert _signal_id(late) in item["signal_ids"]
