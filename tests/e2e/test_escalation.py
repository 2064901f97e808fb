"""The human side of the response on the emulator (issue 5's proof): escalation after a
timeout, acknowledgement, flap-safe recovery, Slack's buttons, and no secret in any log.

The scenarios need waits of seconds and Slack configured, so they run in a process of their
own (tests/e2e/escalation_scenario.py) with a local fake Slack Web API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .escalation_scenario import BOT_TOKEN, SIGNING_SECRET
from .helpers import run_scenario

pytestmark = pytest.mark.e2e

SCENARIO = Path(__file__).with_name("escalation_scenario.py")


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return run_scenario(SCENARIO, tmp_path_factory.mktemp("escalation"))


def test_unanswered_page_escalates_then_ack_and_ok_close_it_as_recovered(
    outcome: dict[str, Any],
) -> None:
    run = outcome["escalation"]
    assert run["page_subject"].startswith("[CRITICAL] ")
    # The first wait ran its full length (heartbeats kept it alive past heartbeatSeconds).
    assert run["escalation_subject"].startswith("[ESCALATION 1] ")
    assert len(run["escalation_subject"]) < 100
    assert "nobody resolved it within the wait" in run["escalation_message"]
    assert f"#{run['channel_name']}" in run["escalation_message"]
    assert run["first_ack"][0] == 0 and "Acknowledged" in run["first_ack"][1]
    assert (
        run["second_ack"][0] == 1 and "already acknowledged by e2e-oncall" in run["second_ack"][1]
    )
    assert run["status"] == "SUCCEEDED"
    states = run["states"]
    assert states.count("MonitorRecovery") == 2
    for state in ("Escalate", "StabilisationWait", "CheckStability", "DocumentIncident"):
        assert state in states
    assert run["output"]["stability"]["status"] == "recovered"
    assert run["output"]["postmortem"]["status"] == "written"
    assert run["incident_status"] == "RESOLVED"
    assert run["acknowledged_by"] == "e2e-oncall"
    assert run["escalation_count"] == 1
    for event in ("acknowledged", "escalated", "recovering", "recovered"):
        assert event in run["timeline"]
    # The channel: a valid name, the responders invited, the buttons, the updates.
    assert run["channel_name"].startswith("inc-") and len(run["channel_name"]) <= 80
    assert run["created_names"][0] == run["channel_name"]
    assert any("U0E2ERESP" in (users or "") for users in run["invited"])
    assert {"incident_ack", "incident_resolve"} <= set(run["action_ids"])
    lines = "\n".join(run["channel_lines"])
    assert "Escalated (1)" in lines
    assert "stabilisation" in lines
    assert "recovered" in lines


def test_an_alarm_that_flaps_during_stabilisation_goes_back_to_waiting(
    outcome: dict[str, Any],
) -> None:
    run = outcome["flap"]
    assert run["status"] == "SUCCEEDED"
    assert run["states"].count("MonitorRecovery") == 2
    assert run["states"].count("CheckStability") == 2
    assert run["flap_count"] == 1
    assert "flapped" in run["timeline"]
    assert run["output"]["stability"]["status"] == "recovered"
    assert run["incident_status"] == "RESOLVED"
    assert len(run["runs"]) == 1  # the re-fire joined the incident: no reopen, no second run


def test_slack_buttons_acknowledge_and_resolve_and_refuse_forgeries(
    outcome: dict[str, Any],
) -> None:
    run = outcome["buttons"]
    assert run["forged_status"] == 401
    assert run["ack_status"] == 200 and run["resolve_status"] == 200
    assert run["again_status"] == 200 and "already" in run["again_body"]
    assert run["status"] == "SUCCEEDED"
    assert run["output"]["recovery"]["status"] == "resolved"
    assert run["incident_status"] == "RESOLVED"
    assert run["acknowledged_by"] == "slack:dana"
    assert run["resolved_by"] == "slack:dana"
    # Slack shows nothing of a button's HTTP answer: the channel hears what the click did.
    lines = "\n".join(run["channel_lines"])
    assert "Acknowledged" in lines and "as slack:dana" in lines
    assert "Resolved" in lines


def test_no_token_or_secret_reaches_a_log_line(outcome: dict[str, Any]) -> None:
    logs = outcome["logs"]
    assert "incident opened" in logs or "monitoring recovery" in logs  # logs were captured
    for secret in (BOT_TOKEN, SIGNING_SECRET):
        assert secret not in logs
    assert "taskToken" not in logs and "task_token" not in logs
    tokens = outcome["task_tokens"]
    assert len(tokens) == 5  # every wait: two for the escalation, two for the flap, one more
    leaked = [token for token in tokens if token in logs]
    assert leaked == []
