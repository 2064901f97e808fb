"""Property, end to end against moto: arbitrary JSON thrown at ingest and at classify ends in
an incident or a typed validation error (ingest: a `rejected` answer and an `error#` item with
the raw event; classify: InvalidIncidentInput, which the state machine catches), never another
exception and never a silent drop."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handlers import classify, ingest
from incidents import alarm_tags
from incidents.policy import reset_ingest_policy
from shared.errors import InvalidIncidentInput
from tests.unit.test_ingest_fuzz import events, json_values

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
INCIDENT_STATUSES = {"started", "duplicate", "correlated", "folded", "reopened", "late"}


@pytest.fixture
def ready(incident_table: Any, state_machine: str) -> Iterator[Any]:
    alarm_tags.clear_cache()
    reset_ingest_policy()
    yield incident_table


def _item(table: Any, key: str) -> dict[str, Any] | None:
    return table.get_item(Key={"incident_id": key}).get("Item")


@FUZZ
@given(event=events)
def test_every_event_ends_in_an_incident_or_a_recorded_rejection(
    ready: Any, lambda_context: Any, event: Any
) -> None:
    result = ingest.lambda_handler(event, lambda_context)

    if result["status"] == "rejected":
        assert result["error"] == "InvalidIncidentInput"
        raw = json.dumps(event, sort_keys=True, default=str)
        errors = [
            i
            for i in ready.scan()["Items"]
            if i["incident_id"].startswith("error#") and i["raw_event"] == raw[:300_000]
        ]
        assert errors and errors[0]["reason"] == result["reason"]
    elif result["status"] == "recorded":  # a closed AWS Health event: stored for diagnostics
        assert event["source"] == "aws.health"
    else:
        assert result["status"] in INCIDENT_STATUSES
        assert _item(ready, result["incident_id"]) is not None


wrapped = st.fixed_dictionaries({"incident_id": st.text(max_size=90), "event": events})
operator = st.fixed_dictionaries(
    {"title": json_values}, optional={"severity": json_values, "resources": json_values}
)
payloads = st.fixed_dictionaries(
    {
        "input": events | wrapped | operator,
        "execution_name": st.text(min_size=1, max_size=80),
        "execution_arn": st.just("arn:aws:states:us-east-1:123456789012:execution:x:y"),
        "started_at": st.sampled_from(["2024-05-01T14:03:07.123Z", "yesterday"]),
    }
) | json_values  # fmt: skip


@FUZZ
@given(payload=payloads)
def test_classify_ends_in_an_incident_or_a_typed_error(
    ready: Any, lambda_context: Any, payload: Any
) -> None:
    try:
        result = classify.lambda_handler(payload, lambda_context)
    except InvalidIncidentInput:
        return
    incident = result["incident"]
    assert _item(ready, incident["incident_id"]) is not None
    assert incident["severity"] in ("critical", "high", "standard")
    assert incident["severity_rule"]
    assert len(result["notification"]["subject"]) < 100
