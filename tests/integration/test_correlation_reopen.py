"""Flapping: an alarm that fires again within the reopen window after its incident closed
reopens it (a new run `<id>-r<n>`), later than that it opens a new incident, and a delivery
older than the closing changes nothing. The OK path stays with the recovery step."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from handlers import ingest, recovery
from incidents import alarm_tags
from incidents.repository import IncidentRepository

REGION = "us-east-1"
TABLE_NAME = "incident-runbook-incidents"


@pytest.fixture(autouse=True)
def ready(incident_table, state_machine) -> str:
    alarm_tags.clear_cache()
    return state_machine


def stamp(minutes: float) -> str:
    """An alarm state timestamp `minutes` from now (the windows are measured against the
    incident's resolution, which the recovery step records at the current time)."""
    moment = datetime.now(UTC) + timedelta(minutes=minutes)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"


def _executions(state_machine_arn: str) -> list[str]:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    listed = sfn.list_executions(stateMachineArn=state_machine_arn)["executions"]
    return sorted(e["name"] for e in listed)


def _fire(alarm_event: Callable[..., dict[str, Any]], context: Any, minutes: float) -> dict:
    return ingest.lambda_handler(alarm_event(timestamp=stamp(minutes)), context)


def _recover(alarm_event: Callable[..., dict[str, Any]], context: Any, minutes: float) -> dict:
    """The alarm's OK, then what the stabilisation check records when it stays OK: only a
    confirmed recovery closes the incident (before that, a re-fire joins it: a flap)."""
    result = recovery.lambda_handler(alarm_event(state="OK", timestamp=stamp(minutes)), context)
    if result["status"] in ("recorded", "resumed"):
        table = boto3.resource("dynamodb", region_name=REGION).Table(TABLE_NAME)
        repo = IncidentRepository(table)
        incident = repo.get(result["incident_id"])
        signal = incident.recovering or incident.recovery_signal
        assert signal is not None
        assert repo.confirm_recovery(incident.incident_id, signal, "stayed OK")
    return result


def test_alarm_firing_again_soon_after_recovery_reopens_the_incident(
    ready, alarm_event, lambda_context, incident_table
) -> None:
    opened = _fire(alarm_event, lambda_context, -10)
    incident_id = opened["incident_id"]
    assert _recover(alarm_event, lambda_context, -1)["status"] == "recorded"

    reopened = _fire(alarm_event, lambda_context, 5)

    assert reopened["status"] == "reopened"
    assert reopened["incident_id"] == incident_id
    assert reopened["execution_arn"].endswith(f":{incident_id}-r1")
    assert _executions(ready) == [incident_id, f"{incident_id}-r1"]
    item = incident_table.get_item(Key={"incident_id": incident_id})["Item"]
    assert item["status"] == "OPEN"
    assert item["reopen_count"] == 1
    for gone in ("resolved_at", "resolved_by", "recovery_signal", "task_token"):
        assert gone not in item
    events = [t["event"] for t in item["timeline"]]
    assert events[-2:] == ["reopened", "workflow started"]
    # The recovery step finds the reopened incident again when the alarm recovers.
    assert _recover(alarm_event, lambda_context, 6)["incident_id"] == incident_id


def test_each_flap_reopens_once_more(ready, alarm_event, lambda_context) -> None:
    incident_id = _fire(alarm_event, lambda_context, -20)["incident_id"]
    for flap in (1, 2, 3):
        _recover(alarm_event, lambda_context, flap * 2 - 1)
        result = _fire(alarm_event, lambda_context, flap * 2)
        assert (result["status"], result["incident_id"]) == ("reopened", incident_id)
    assert _executions(ready) == [incident_id] + [f"{incident_id}-r{n}" for n in (1, 2, 3)]


def test_closed_by_the_postmortem_also_reopens(
    ready, alarm_event, lambda_context, incident_table
) -> None:
    incident_id = _fire(alarm_event, lambda_context, -30)["incident_id"]
    IncidentRepository(incident_table).update(incident_id, {"status": "UNRESOLVED"}, "postmortem")
    assert _fire(alarm_event, lambda_context, 10)["status"] == "reopened"


def test_firing_after_the_reopen_window_opens_a_new_incident(
    ready, alarm_event, lambda_context
) -> None:
    first = _fire(alarm_event, lambda_context, -10)
    _recover(alarm_event, lambda_context, -5)

    later = _fire(alarm_event, lambda_context, 45)  # default reopen window: 30 minutes

    assert later["status"] == "started"
    assert later["incident_id"] != first["incident_id"]
    assert len(_executions(ready)) == 2


def test_a_late_delivery_from_before_the_closing_changes_nothing(
    ready, alarm_event, lambda_context, incident_table
) -> None:
    incident_id = _fire(alarm_event, lambda_context, -10)["incident_id"]
    _recover(alarm_event, lambda_context, -1)

    late = _fire(alarm_event, lambda_context, -8)

    assert (late["status"], late["incident_id"]) == ("late", incident_id)
    assert "resolved_at" in incident_table.get_item(Key={"incident_id": incident_id})["Item"]
    assert _executions(ready) == [incident_id]


def test_redelivered_reopening_event_is_a_duplicate(ready, alarm_event, lambda_context) -> None:
    incident_id = _fire(alarm_event, lambda_context, -10)["incident_id"]
    _recover(alarm_event, lambda_context, -1)
    refire = alarm_event(timestamp=stamp(3))
    assert ingest.lambda_handler(refire, lambda_context)["status"] == "reopened"

    again = ingest.lambda_handler(refire, lambda_context)

    assert (again["status"], again["incident_id"]) == ("duplicate", incident_id)
    assert _executions(ready) == [incident_id, f"{incident_id}-r1"]


def test_ok_events_are_not_ingests_business(ready, alarm_event, lambda_context) -> None:
    _fire(alarm_event, lambda_context, -10)
    result = ingest.lambda_handler(alarm_event(state="OK", timestamp=stamp(-1)), lambda_context)
    assert result["status"] == "rejected"
    assert "not ALARM" in result["reason"]


def test_the_old_run_closing_late_cannot_undo_a_reopen(
    ready, alarm_event, lambda_context, incident_table
) -> None:
    first = _fire(alarm_event, lambda_context, -10)
    _recover(alarm_event, lambda_context, -1)
    reopened = _fire(alarm_event, lambda_context, 2)
    repo = IncidentRepository(incident_table)

    closed = repo.update(
        first["incident_id"], {"status": "RESOLVED"}, "postmortem", run=first["execution_arn"]
    )

    assert closed is False
    assert repo.get(first["incident_id"]).status == "OPEN"
    assert repo.update(
        first["incident_id"], {"status": "RESOLVED"}, "postmortem", run=reopened["execution_arn"]
    )


def test_the_reopened_runs_page_says_so(ready, alarm_event, lambda_context, incident_table) -> None:
    from handlers import classify

    incident_id = _fire(alarm_event, lambda_context, -10)["incident_id"]
    _recover(alarm_event, lambda_context, -1)
    refire = alarm_event(timestamp=stamp(2))
    reopened = ingest.lambda_handler(refire, lambda_context)

    result = classify.lambda_handler(
        {
            "input": {"incident_id": incident_id, "event": refire},
            "execution_name": f"{incident_id}-r1",
            "execution_arn": reopened["execution_arn"],
            "started_at": datetime.now(UTC).isoformat(),
        },
        lambda_context,
    )

    assert result["incident"]["incident_id"] == incident_id
    assert result["notification"]["subject"].endswith("orders-api-errors (reopened)")
    assert "Reopened: 1 time(s)" in result["notification"]["message"]
