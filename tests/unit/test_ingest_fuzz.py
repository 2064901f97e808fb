"""Property: whatever JSON arrives, parsing ends in a Signal or a typed InvalidIncidentInput,
never another exception. Arbitrary JSON, and AWS-documented samples with one field replaced by
arbitrary JSON (so the fuzz reaches the deep validation, not just the envelope)."""

from __future__ import annotations

import contextlib
import copy
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incidents.events import parse_eventbridge_event, parse_execution_input
from incidents.signal import Signal
from incidents.sources import parse_source_event
from shared.errors import InvalidIncidentInput
from tests.unit.test_events_sources import (
    CODEDEPLOY_EVENT,
    COMPOSITE_ALARM_EVENT,
    HEALTH_EC2_ISSUE,
    HEALTH_EC2_RETIREMENT,
    codedeploy_event,
    ecs_stopped,
)

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=6)
    ),
    max_leaves=25,
)

STARTED = datetime(2023, 1, 27, 9, 1, 22, tzinfo=UTC)

SAMPLES: list[dict[str, Any]] = [
    COMPOSITE_ALARM_EVENT,
    HEALTH_EC2_ISSUE,
    HEALTH_EC2_RETIREMENT,
    CODEDEPLOY_EVENT,
    codedeploy_event(),
    ecs_stopped(),
]


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


def _replace(event: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    mutated = copy.deepcopy(event)
    node: Any = mutated
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return mutated


@st.composite
def mutated_samples(draw: st.DrawFn) -> dict[str, Any]:
    """A documented sample (or the alarm fixture's) with one field replaced."""
    sample = draw(st.sampled_from(SAMPLES))
    path = draw(st.sampled_from(_paths(sample)))
    return _replace(sample, path, draw(json_values))


events = json_values | mutated_samples() | st.sampled_from(SAMPLES)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events)
def test_ingest_parsing_is_total(event: Any) -> None:
    try:
        signal = parse_source_event(event)
    except InvalidIncidentInput:
        return
    assert isinstance(signal, Signal)
    assert signal.correlation_key
    assert signal.incident_id().startswith("inc-")
    assert signal.occurred_at.tzinfo is not None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events)
def test_state_machine_input_parsing_is_total(event: Any) -> None:
    for parse in (
        parse_eventbridge_event,
        lambda e: parse_execution_input(e, STARTED, "run")[1],
        lambda e: parse_execution_input({"incident_id": "inc-x", "event": e}, STARTED, "r")[1],
    ):
        with contextlib.suppress(InvalidIncidentInput):
            assert isinstance(parse(event), Signal)
