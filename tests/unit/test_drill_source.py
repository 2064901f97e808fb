"""The drill source: parsed strictly, marked as a drill, keyed on its own drill id (never
folding into a real incident), and paged with a [DRILL] subject."""

from __future__ import annotations

from typing import Any

import pytest

from incidents.model import Incident
from incidents.notification import build_notification
from incidents.sources import parse_source_event
from shared.errors import InvalidIncidentInput


def drill_event(**detail: Any) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "7bf73129-1428-4cd3-a780-95db273d1602",
        "detail-type": "Incident Drill",
        "source": "incident-runbook.drill",
        "account": "123456789012",
        "time": "2026-03-01T10:00:00Z",
        "region": "eu-west-1",
        "resources": [],
        "detail": {"drill_id": "drill-0a1b2c", **detail},
    }


def test_a_drill_event_is_a_drill_signal_with_its_own_key() -> None:
    signal = parse_source_event(drill_event(target="rotation"))
    assert signal.kind == "drill"
    assert signal.correlation_key == "drill:drill-0a1b2c"
    assert signal.fold_keys == [] and signal.service_keys == []
    assert signal.requested_severity == "critical"
    incident = signal.to_incident(signal.incident_id())
    assert (incident.drill, incident.drill_id, incident.drill_target) == (
        True,
        "drill-0a1b2c",
        "rotation",
    )
    assert incident.title.startswith("DRILL")
    state = incident.to_state()
    assert state["drill"] is True and state["drill_target"] == "rotation"


def test_two_drills_are_two_incidents() -> None:
    one = parse_source_event(drill_event())
    two = parse_source_event(drill_event(drill_id="drill-ffff"))
    assert one.incident_id() != two.incident_id()
    assert one.correlation_key != two.correlation_key


@pytest.mark.parametrize(
    ("detail", "named"),
    [
        ({"drill_id": "bad id!"}, "detail.drill_id"),
        ({"target": "pager"}, "target"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_a_bad_drill_event_names_the_field(detail: dict[str, Any], named: str) -> None:
    with pytest.raises(InvalidIncidentInput, match=named):
        parse_source_event(drill_event(**detail))


def test_a_drill_page_says_drill_first_and_a_real_one_does_not() -> None:
    signal = parse_source_event(drill_event())
    drill = signal.to_incident(signal.incident_id())
    page = build_notification(drill, "UTC", "eu-west-1")
    assert page["subject"].startswith("[DRILL] [CRITICAL]")
    assert len(page["subject"]) < 100
    assert page["message"].startswith("[DRILL] CRITICAL incident")
    real = Incident(incident_id="inc-1", title="orders down", opened_at="2026-03-01T10:00:00Z")
    assert not build_notification(real, "UTC", "eu-west-1")["subject"].startswith("[DRILL]")
