"""shared.records (msgspec errors as `<what>: <path>: <problem>`, DynamoDB items) and the
record behaviours the steps rely on: coercions, unknown keys, hidden capabilities, frozen."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

import msgspec
import pytest
from msgspec import Meta, field

from callbacks.interactions import Interaction
from incidents.classification import SeverityPattern
from incidents.events import OperatorInput
from incidents.model import Channel, Incident, Resource
from incidents.payloads import MonitorPayload
from incidents.sources.alarm import AlarmEvent
from shared.errors import ConfigurationError, InvalidIncidentInput
from shared.records import NONEMPTY, problem, read, read_item, read_json


class Point(msgspec.Struct, kw_only=True, frozen=True):
    x: int
    y: int = 0


class Thing(msgspec.Struct, kw_only=True):
    name: Annotated[str, NONEMPTY]
    count: Annotated[int, Meta(ge=0, le=10)] = 0
    ratio: float = 0.0
    points: list[Point] = field(default_factory=list)
    labels: dict[str, int] = field(default_factory=dict)
    keys: set[str] | None = None
    raw: Any = None

    def __post_init__(self) -> None:
        if self.name == "(":
            raise ValueError("name: unbalanced '('")


def _problem(data: Any, type_: Any = Thing) -> str:
    with pytest.raises(msgspec.ValidationError) as caught:
        msgspec.convert(data, type_)
    return problem(caught.value)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({}, "name: required"),
        ({"name": "n", "points": [{"x": 1}, {"y": 2}]}, "points[1].x: required"),
        ({"name": ""}, "name: expected `str` of length >= 1"),
        ({"name": "n", "count": 11}, "count: expected `int` <= 10"),
        ({"name": "n", "points": ["p"]}, "points[0]: expected `object`, got `str`"),
        ({"name": "n", "labels": {"a": "one"}}, "labels[...]: expected `int`, got `str`"),
        ([], "expected `object`, got `array`"),
        ({"name": "("}, "name: unbalanced '('"),  # a __post_init__ check, in its own words
    ],
)
def test_problems_are_named_by_their_path(data: Any, expected: str) -> None:
    assert _problem(data) == expected


def test_an_unknown_key_is_named_where_records_forbid_them() -> None:
    assert _problem({"title": "t", "owner": "me"}, OperatorInput) == "owner: unknown field"


def test_read_raises_the_callers_typed_error_with_what_and_the_problem() -> None:
    with pytest.raises(InvalidIncidentInput, match=r"^invalid thing: points\[0\]\.x: required$"):
        read(Thing, {"name": "n", "points": [{}]}, "invalid thing")
    with pytest.raises(ConfigurationError, match=r"^bad: count: expected `int`, got `str`$"):
        read(Thing, {"name": "n", "count": "3"}, "bad", error=ConfigurationError)
    # strict=False is for text by nature (environment variables): digits read as numbers.
    assert read(Thing, {"name": "n", "count": "3"}, "env", strict=False).count == 3


def test_read_json_reports_text_that_is_not_json_and_values_that_do_not_fit() -> None:
    with pytest.raises(InvalidIncidentInput, match=r"^payload: not JSON \("):
        read_json(Thing, "{", "payload")
    with pytest.raises(InvalidIncidentInput, match=r"^payload: name: required$"):
        read_json(Thing, b"{}", "payload")
    assert read_json(Thing, '{"name": "n", "keys": ["a", "a"]}', "payload").keys == {"a"}


def test_dynamodb_numbers_read_as_the_types_declared() -> None:
    item = {
        "name": "n",
        "count": Decimal("3"),
        "ratio": Decimal("0.5"),
        "keys": {"a", "b"},  # a DynamoDB string set
        "raw": {"whole": Decimal("2"), "part": Decimal("1.25")},
    }
    thing = read_item(Thing, item, "item")
    assert type(thing.count) is int and thing.count == 3
    assert thing.ratio == 0.5 and thing.keys == {"a", "b"}
    # Where the type is Any, a fraction stays Decimal: boto3 writes it back, a float it refuses.
    assert thing.raw == {"whole": 2, "part": Decimal("1.25")}
    with pytest.raises(InvalidIncidentInput, match=r"^item: count: expected `int`, got `float`"):
        read_item(Thing, {**item, "count": Decimal("1.5")}, "item")


def test_an_incident_item_round_trips_and_stays_sparse() -> None:
    incident = Incident(
        incident_id="inc-1",
        title="t",
        opened_at="2024-05-01T10:00:00Z",
        resources=[Resource(type="AWS::Lambda::Function", id="orders")],
        correlation_keys={"alarm:a"},
        signal_count=2,
        channel=Channel(status="skipped"),
        verdict={"domain": "aws", "confidence": Decimal("0.75")},
    )
    item = incident.to_item()
    assert "alarm_name" not in item and "task_token" not in item
    assert item["correlation_keys"] == {"alarm:a"}  # still a set: ingest ADDs to it
    assert item["channel"] == {"status": "skipped"}
    assert item["verdict"]["confidence"] == Decimal("0.75")
    stored = {**item, "signal_count": Decimal(2), "signal_ids": {"s1"}}  # as boto3 reads it
    assert Incident.from_item(stored) == incident


def test_a_corrupt_incident_item_is_a_typed_error_naming_the_record() -> None:
    with pytest.raises(
        InvalidIncidentInput, match=r"^incident record 'inc-1': opened_at: required"
    ):
        Incident.from_item({"incident_id": "inc-1", "title": "t"})


def test_event_times_read_as_aware_datetimes() -> None:
    from tests.unit.test_events_sources import COMPOSITE_ALARM_EVENT

    for text in ("2024-05-01T10:00:00Z", "2024-05-01T10:00:00+0000", "2024-05-01T12:00:00+02:00"):
        parsed = msgspec.convert({**COMPOSITE_ALARM_EVENT, "time": text}, AlarmEvent)
        assert parsed.time == datetime(2024, 5, 1, 10, tzinfo=UTC)


def test_unknown_keys_are_ignored_unless_the_record_forbids_them() -> None:
    assert msgspec.convert({"name": "n", "extra": 1}, Thing).name == "n"
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"title": "t", "owner": "me"}, OperatorInput)


def test_capabilities_never_show_in_a_repr() -> None:
    incident = Incident(incident_id="i", title="t", opened_at="x", task_token="AQCE-secret")
    payload = MonitorPayload(task_token="AQCE-secret", incident_id="i")
    click = Interaction(
        action="resolve", incident_id="i", user_id="U1", response_url="https://hooks/secret"
    )
    for record in (incident, payload, click, [incident]):
        assert "secret" not in repr(record)
    assert repr(payload) == "MonitorPayload(incident_id='i', execution_arn='')"
    assert incident.to_item()["task_token"] == "AQCE-secret"


def test_frozen_records_hash_by_value_and_refuse_assignment() -> None:
    assert {Point(x=1), Point(x=1, y=0)} == {Point(x=1)}
    assert Point(x=1) != Resource(type="x", id="1")
    with pytest.raises(AttributeError):
        Point(x=1).x = 2  # type: ignore[misc]
    with pytest.raises(TypeError):
        hash(Thing(name="n"))
    with pytest.raises(TypeError):
        Point(1)  # type: ignore[misc]  # keyword-only


def test_replace_runs_the_checks_again() -> None:
    pattern = SeverityPattern(pattern="^prod-", severity="high")
    assert msgspec.structs.replace(pattern, severity="critical").severity == "critical"
    with pytest.raises(ValueError, match="invalid regex"):
        msgspec.structs.replace(pattern, pattern="(")
