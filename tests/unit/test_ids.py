"""Incident ids: deterministic, well-formed, valid Step Functions execution names."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from incidents.ids import incident_id, incident_id_for_input, is_incident_id

# Step Functions execution names: 1-80 characters, none of these (API reference).
_SFN_FORBIDDEN = re.compile(r"[\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]")


def test_same_signal_gives_same_id() -> None:
    at = datetime(2024, 5, 1, 14, 3, 7, tzinfo=UTC)
    assert incident_id(at, "alarm-a") == incident_id(at, "alarm-a")


def test_format_uses_utc_time_and_eight_hex() -> None:
    at = datetime(2024, 5, 1, 16, 3, 7, tzinfo=timezone(timedelta(hours=2)))
    value = incident_id(at, "alarm-a")
    assert value.startswith("inc-20240501-140307-")
    assert re.fullmatch(r"inc-\d{8}-\d{6}-[0-9a-f]{8}", value)
    assert is_incident_id(value)


def test_different_signals_differ() -> None:
    at = datetime(2024, 5, 1, 14, 3, 7, tzinfo=UTC)
    assert incident_id(at, "alarm-a") != incident_id(at, "alarm-b")


def test_naive_datetimes_are_taken_as_utc() -> None:
    naive = datetime(2024, 5, 1, 14, 3, 7)
    assert incident_id(naive, "k") == incident_id(naive.replace(tzinfo=UTC), "k")


def test_is_a_valid_execution_name() -> None:
    value = incident_id(datetime(2024, 5, 1, tzinfo=UTC), "k")
    assert 1 <= len(value) <= 80
    assert not _SFN_FORBIDDEN.search(value)


def test_is_incident_id_rejects_other_names() -> None:
    assert not is_incident_id("inc-2024-01")
    assert not is_incident_id("INC-20240501-140307-abcdef01")
    assert not is_incident_id("inc-20240501-140307-abcdef0g")


def test_event_input_id_ignores_the_time_of_the_call(alarm_event) -> None:
    event = alarm_event()
    first = incident_id_for_input(event, now=datetime(2030, 1, 1, tzinfo=UTC))
    second = incident_id_for_input(event, now=datetime(2031, 1, 1, tzinfo=UTC))
    assert first == second
    assert first.startswith("inc-20191002-170440-")


def test_operator_input_id_depends_on_content_and_time() -> None:
    now = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
    body = {"title": "Checkout slow"}
    assert incident_id_for_input(body, now) == incident_id_for_input(dict(body), now)
    assert incident_id_for_input(body, now) != incident_id_for_input({"title": "Other"}, now)
    later = incident_id_for_input(body, now + timedelta(seconds=1))
    assert later != incident_id_for_input(body, now)
