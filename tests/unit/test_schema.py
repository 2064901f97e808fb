"""shared.schema: records and the checks `parse` makes of JSON-shaped data."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal

import pytest

from shared.schema import (
    NONEMPTY,
    FrozenRecordError,
    Record,
    Rule,
    SchemaError,
    dump,
    field,
    fields,
    parse,
    replace,
)


class Point(Record, frozen=True):
    x: int
    y: int = 0


class Tag(Record):
    key: Annotated[str, Rule(min_length=1, max_length=8, alias="Key")]
    value: str = ""


class Thing(Record):
    """Every kind of annotation the models use."""

    name: Annotated[str, NONEMPTY]
    kind: Literal["a", "b"] = "a"
    count: Annotated[int, Rule(ge=0, le=10)] = 0
    ratio: float = 0.0
    enabled: bool = True
    at: datetime | None = None
    tags: list[Tag] = field(default_factory=list)
    labels: dict[str, int] = field(default_factory=dict)
    keys: set[str] | None = None
    point: Point | None = None
    either: list[Point] | Point | None = None
    raw: Any = None
    secret: str = field(default="", repr=False)


class Strict(Record):
    FORBID_EXTRA: ClassVar[bool] = True

    title: str


class Checked(Record):
    pattern: str

    def __post_init__(self) -> None:
        if "(" in self.pattern:
            raise ValueError(f"unbalanced {self.pattern!r}")


def test_a_valid_object_becomes_a_record_with_defaults_filled() -> None:
    thing = parse(Thing, {"name": "n", "tags": [{"Key": "k"}], "point": {"x": 1}, "extra": 1})
    assert thing == Thing(name="n", tags=[Tag(key="k")], point=Point(x=1))
    assert thing.count == 0 and thing.labels == {} and thing.keys is None


def test_every_problem_is_named_by_its_path() -> None:
    with pytest.raises(SchemaError) as caught:
        parse(
            Thing,
            {
                "kind": "c",
                "count": 11,
                "tags": [{"Key": ""}, {"value": "v"}, "x"],
                "labels": {"a": "one"},
                "point": {"y": 2},
            },
        )
    assert caught.value.problems == [
        (("name",), "required"),
        (("kind",), "should be one of 'a', 'b', not 'c'"),
        (("count",), "should be at most 10"),
        (("tags", 0, "Key"), "should have at least 1 character(s)"),
        (("tags", 1, "Key"), "required"),
        (("tags", 2), "should be an object, not str"),
        (("labels", "a"), "should be a whole number, not 'one'"),
        (("point", "x"), "required"),
    ]
    assert str(caught.value).startswith("name: required; kind: should be one of")
    assert str(caught.value).endswith("(and 3 more)")


def test_the_root_must_be_an_object() -> None:
    with pytest.raises(SchemaError, match=r"<root>: should be an object, not list"):
        parse(Thing, [])


def test_numbers_from_dynamodb_and_the_environment_become_ints() -> None:
    thing = parse(Thing, {"name": "n", "count": Decimal(3), "labels": {"a": "7", "b": 2.0}})
    assert (thing.count, thing.labels) == (3, {"a": 7, "b": 2})
    assert type(thing.count) is int
    for bad in (Decimal("1.5"), True, "x", None, 1.5):
        with pytest.raises(SchemaError, match="count"):
            parse(Thing, {"name": "n", "count": bad})


def test_strings_are_not_coerced() -> None:
    with pytest.raises(SchemaError, match="name: should be a string, not int"):
        parse(Thing, {"name": 5})
    with pytest.raises(SchemaError, match="enabled: should be true or false, not str"):
        parse(Thing, {"name": "n", "enabled": "yes"})


def test_a_literal_does_not_match_a_value_of_another_type() -> None:
    class Flag(Record):
        on: Literal[1] = 1

    with pytest.raises(SchemaError):
        parse(Flag, {"on": True})


def test_times_sets_and_unions() -> None:
    thing = parse(
        Thing,
        {
            "name": "n",
            "at": "2024-05-01T10:00:00Z",
            "keys": ["a", "b", "a"],
            "either": {"x": 1},
            "ratio": Decimal("0.5"),
        },
    )
    assert thing.at == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert thing.keys == {"a", "b"}
    assert thing.either == Point(x=1)
    assert thing.ratio == 0.5
    assert parse(Thing, {"name": "n", "either": [{"x": 2}]}).either == [Point(x=2)]
    with pytest.raises(SchemaError, match="either"):
        parse(Thing, {"name": "n", "either": "p"})
    with pytest.raises(SchemaError, match="at: should be an ISO-8601 time"):
        parse(Thing, {"name": "n", "at": "yesterday"})


def test_the_alias_and_the_field_name_are_both_accepted() -> None:
    assert parse(Tag, {"Key": "a"}) == parse(Tag, {"key": "a"}) == Tag(key="a")


def test_forbidden_extra_keys_are_named() -> None:
    with pytest.raises(SchemaError, match="owner: not allowed"):
        parse(Strict, {"title": "t", "owner": "me"})


def test_post_init_checks_become_schema_errors() -> None:
    with pytest.raises(SchemaError, match=r"<root>: unbalanced '\('"):
        parse(Checked, {"pattern": "("})
    with pytest.raises(ValueError, match="unbalanced"):
        Checked(pattern="(")


def test_an_existing_record_is_accepted_as_is() -> None:
    point = Point(x=1)
    assert parse(Thing, {"name": "n", "point": point}).point is point


def test_frozen_records_refuse_assignment_and_hash_by_value() -> None:
    point = Point(x=1)
    with pytest.raises(FrozenRecordError):
        point.x = 2  # type: ignore[misc]
    assert hash(point) == hash(Point(x=1, y=0))
    assert {point, Point(x=1)} == {point}
    tag = Tag(key="k")
    tag.value = "v"
    assert tag.value == "v"
    with pytest.raises(TypeError):
        hash(tag)


def test_construction_is_keyword_only_and_checked() -> None:
    with pytest.raises(TypeError, match="missing argument 'x'"):
        Point()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected arguments"):
        Point(x=1, z=2)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Point(1)  # type: ignore[misc]


def test_default_factories_are_not_shared() -> None:
    first, second = Thing(name="a"), Thing(name="b")
    first.tags.append(Tag(key="k"))
    assert second.tags == []


def test_equality_needs_the_same_class() -> None:
    class Other(Record, frozen=True):
        x: int
        y: int = 0

    assert Point(x=1) != Other(x=1)
    assert Point(x=1) != (1, 0)


def test_repr_hides_fields_marked_repr_false() -> None:
    text = repr(Thing(name="n", secret="hunter2"))
    assert text.startswith("Thing(name='n', kind='a'")
    assert "hunter2" not in text and "secret" not in text


def test_replace_copies_with_changes_and_rechecks() -> None:
    point = Point(x=1, y=2)
    assert replace(point, y=3) == Point(x=1, y=3)
    assert point.y == 2
    with pytest.raises(ValueError, match="unbalanced"):
        replace(Checked(pattern="a"), pattern="(")


def test_dump_gives_plain_data_and_can_leave_out_none() -> None:
    thing = Thing(name="n", tags=[Tag(key="k")], keys={"a"}, point=Point(x=1))
    plain = dump(thing)
    assert plain["tags"] == [{"key": "k", "value": ""}]
    assert plain["point"] == {"x": 1, "y": 0}
    assert plain["at"] is None
    compact = dump(thing, exclude_none=True)
    assert "at" not in compact and "either" not in compact
    assert compact["keys"] == {"a"}
    assert parse(Thing, compact) == thing


def test_inherited_fields_come_first_and_can_be_narrowed() -> None:
    class Base(Record):
        id: str
        detail: Any = None

    class Narrow(Base):
        detail: Point
        extra: int = 0

    assert [f.name for f in fields(Narrow)] == ["id", "detail", "extra"]
    parsed = parse(Narrow, {"id": "i", "detail": {"x": 1}})
    assert parsed.detail == Point(x=1)
    with pytest.raises(SchemaError, match=r"detail\.x: required"):
        parse(Narrow, {"id": "i", "detail": {}})


def test_an_incident_repr_never_shows_its_task_token() -> None:
    from incidents.model import Incident

    incident = Incident(
        incident_id="i", title="t", opened_at="x", task_token="AQCEAAAAKgAAAA-secret"
    )
    assert "AQCEAAAAKgAAAA-secret" not in repr(incident)
    assert incident.to_item()["task_token"] == "AQCEAAAAKgAAAA-secret"
