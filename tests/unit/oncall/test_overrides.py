"""The override store against moto's DynamoDB: the table's key schema, ids that sort by
creation, the TTL attribute, listing, removal and the per-rotation read the steps make."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from oncall.declaration import default_config
from oncall.overrides import (
    OverrideError,
    OverrideNotFound,
    OverrideStore,
    check_override,
    new_override_id,
)
from oncall.rotation import Override
from shared.errors import TransientDependencyError
from tests.conftest import REGION
from tests.unit.oncall.test_engagement import CONFIG

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def day(n: int, hour: int = 9) -> datetime:
    return datetime(2026, 3, n, hour, tzinfo=UTC)


@pytest.fixture
def table(moto: None) -> Any:
    return boto3.resource("dynamodb", region_name=REGION).create_table(
        TableName="overrides",
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[
            {"AttributeName": "rotation", "KeyType": "HASH"},
            {"AttributeName": "override_id", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "rotation", "AttributeType": "S"},
            {"AttributeName": "override_id", "AttributeType": "S"},
        ],
    )


def test_add_stores_the_documented_item(table: Any) -> None:
    store = OverrideStore(table)
    added = store.add("primary", "bob", day(5), day(6), by="arn:aws:iam::1:user/alice", now=NOW)
    assert (added.start, added.end, added.created_at) == (
        "2026-03-05T09:00:00Z",
        "2026-03-06T09:00:00Z",
        "2026-03-01T12:00:00Z",
    )
    item = table.get_item(Key={"rotation": "primary", "override_id": added.override_id})["Item"]
    assert item == {
        "rotation": "primary",
        "override_id": added.override_id,
        "contact": "bob",
        "start": "2026-03-05T09:00:00Z",
        "end": "2026-03-06T09:00:00Z",
        "created_at": "2026-03-01T12:00:00Z",
        "created_by": "arn:aws:iam::1:user/alice",
        "expires_at": int((day(6) + timedelta(days=7)).timestamp()),
    }


def test_ids_sort_by_creation_so_listing_is_precedence_order(table: Any) -> None:
    store = OverrideStore(table)
    ids = [
        store.add(
            "primary", c, day(5), day(6), by="x", now=NOW + timedelta(milliseconds=n)
        ).override_id
        for n, c in enumerate(["bob", "chen", "dana", "erin"])
    ]
    assert ids == sorted(ids)
    assert all(i.startswith("ov-") and len(i) == 21 for i in ids)
    assert [o.contact for o in store.list("primary")] == ["bob", "chen", "dana", "erin"]
    later = [new_override_id(NOW + timedelta(days=n)) for n in range(0, 400, 37)]
    assert later == sorted(later)


def test_naive_datetimes_are_utc_and_bad_input_names_its_field(table: Any) -> None:
    store = OverrideStore(table)
    naive = store.add("primary", "bob", datetime(2026, 3, 5, 9), datetime(2026, 3, 5, 10),
                      by="x", now=NOW)  # fmt: skip
    assert naive.start == "2026-03-05T09:00:00Z"
    with pytest.raises(OverrideError, match="end: 2026-03-05T09:00:00Z is not after start"):
        store.add("primary", "bob", day(5), day(5), by="x", now=NOW)
    with pytest.raises(OverrideError, match="contact: 'Bob Okafor' is not an id"):
        store.add("primary", "Bob Okafor", day(5), day(6), by="x", now=NOW)
    with pytest.raises(OverrideError, match="rotation: '' is not an id"):
        store.add("", "bob", day(5), day(6), by="x", now=NOW)
    with pytest.raises(OverrideError, match="start: expected a datetime, got str"):
        store.add("primary", "bob", "tomorrow", day(6), by="x", now=NOW)  # type: ignore[arg-type]


def test_list_every_rotation_and_those_ending_after(table: Any) -> None:
    store = OverrideStore(table)
    store.add("secondary", "chen", day(2), day(3), by="x", now=NOW)
    store.add("primary", "bob", day(5), day(6), by="x", now=NOW)
    store.add("primary", "dana", day(1), day(2), by="x", now=NOW + timedelta(seconds=1))
    assert [(o.rotation, o.contact) for o in store.list()] == [
        ("primary", "bob"),
        ("primary", "dana"),
        ("secondary", "chen"),
    ]
    assert [o.contact for o in store.list(ending_after=day(3))] == ["bob"]
    assert [o.contact for o in store.list("primary", ending_after=day(2))] == ["bob"]
    assert store.list("nobody-here") == []


def test_remove_returns_what_it_removed_and_a_second_remove_is_not_found(table: Any) -> None:
    store = OverrideStore(table)
    added = store.add("primary", "bob", day(5), day(6), by="x", now=NOW)
    assert store.remove("primary", added.override_id) == added
    assert store.list("primary") == []
    with pytest.raises(
        OverrideNotFound, match=f"rotation primary has no override {added.override_id}"
    ):
        store.remove("primary", added.override_id)


def test_for_rotations_gives_each_rotation_its_overrides_not_ended(table: Any) -> None:
    store = OverrideStore(table)
    ended = store.add("primary", "bob", day(1), day(2), by="x", now=NOW)
    running = store.add("primary", "chen", day(2), day(4), by="x", now=NOW)
    coming = store.add("secondary", "dana", day(10), day(11), by="x", now=NOW)
    found = store.for_rotations(["primary", "secondary", "office", "primary"], at=day(3))
    assert found == {"primary": [running], "secondary": [coming], "office": []}
    assert ended not in found["primary"]
    assert store.for_rotations([], at=day(3)) == {}


def test_put_keeps_an_imported_override_as_it_is(table: Any) -> None:
    store = OverrideStore(table)
    imported = Override(
        override_id="ov-im-a1b2c3d4",
        rotation="primary",
        contact="alejr",
        start="2026-03-10T09:00:00Z",
        end="2026-03-11T09:00:00Z",
        created_at="2026-03-01T12:00:00Z",
        created_by="runbook import incident-manager",
    )
    store.put(imported)
    store.put(imported)  # an import run twice changes nothing
    assert store.list("primary") == [imported]


def test_a_malformed_item_is_a_typed_error_naming_the_field(table: Any) -> None:
    table.put_item(Item={"rotation": "primary", "override_id": "ov-x", "contact": "bob"})
    with pytest.raises(OverrideError, match="override item: start: required"):
        OverrideStore(table).list("primary")


def test_throttling_is_transient(moto: None) -> None:
    table = boto3.resource("dynamodb", region_name=REGION).Table("overrides")
    with Stubber(table.meta.client) as stub:
        stub.add_client_error(
            "query", "ProvisionedThroughputExceededException", http_status_code=400
        )
        with pytest.raises(TransientDependencyError, match="DynamoDB Query"):
            OverrideStore(table).list("primary")
        stub.add_client_error("delete_item", "ValidationException", http_status_code=400)
        with pytest.raises(ClientError):
            OverrideStore(table).remove("primary", "ov-1")


def test_check_override_names_an_undeclared_rotation_or_contact() -> None:
    with pytest.raises(OverrideError, match="rotation: unknown rotation 'primary' \\(known: none"):
        check_override(default_config(), "primary", "bob")
    check_override(CONFIG, "primary", "bob")
    with pytest.raises(OverrideError, match="contact: unknown contact 'zed' \\(known: alice, bob"):
        check_override(CONFIG, "primary", "zed")
