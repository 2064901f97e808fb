"""People on the emulator (issue 13), through the real entry path and the deployed example
declaration (examples/incident-response.yaml, minutes run as seconds: timeCompression 60):

- a critical `payments-` alarm engages stage 1's on-call person of `payments-primary` on their
  own topic (an SMS delivery to their number); nobody acknowledges, so stage 2 begins after its
  duration (5 s) and pages `payments-secondary`'s two on-call people; `runbook ack --by` stops
  the plan (stage 3 never pages); the alarm's OK closes it; the postmortem names who was engaged
  and who acknowledged;
- with an override in force (`runbook oncall override add`), the overriding person is paged.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from boto3.dynamodb.types import TypeDeserializer

from runbook.cli import main as runbook_cli
from runbook.local.emulator import LocalEmulator

from .helpers import finished, wait_for
from .test_incident_flow import incident_for_alarm, put_lambda_errors_alarm

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "incident-response.yaml"
DECLARED = yaml.safe_load(EXAMPLE.read_text())
TOPIC = "arn:aws:sns:us-east-1:123456789012:IncidentRunbook-contact-{}"


def _record(aws: Callable[[str], Any], outputs: dict[str, str], incident_id: str) -> dict:
    item = aws("dynamodb").get_item(
        TableName=outputs["IncidentTableName"], Key={"incident_id": {"S": incident_id}}
    )["Item"]
    deserializer = TypeDeserializer()
    return {k: deserializer.deserialize(v) for k, v in item.items()}


def _engagement(aws: Callable[[str], Any], outputs: dict[str, str], incident_id: str) -> dict:
    return dict(_record(aws, outputs, incident_id).get("engagement") or {})


def _paged(emulator: LocalEmulator, contact: str) -> list[dict[str, Any]]:
    """Every SMS or email delivery from the contact's own topic so far."""
    return emulator.deliveries(topic=TOPIC.format(contact))


def _texted(emulator: LocalEmulator, contact: str, after: int) -> list[dict[str, Any]]:
    return _paged(emulator, contact)[after:]


def _cli(*args: str, endpoint: str, capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    assert runbook_cli([*args, "--endpoint-url", endpoint]) == 0
    return capsys.readouterr().out


def _open(aws: Callable[[str], Any], outputs: dict[str, str], unique: str) -> dict[str, Any]:
    function = f"payments-{unique}"
    alarm = f"{function}-critical-errors"
    arn = put_lambda_errors_alarm(aws, alarm, function)
    aws("cloudwatch").set_alarm_state(
        AlarmName=alarm, StateValue="ALARM", StateReason="Threshold Crossed: Errors >= 1"
    )
    return {"alarm": alarm, **incident_for_alarm(aws, outputs, arn)}


def _on_call(endpoint: str, rotation: str, capsys: pytest.CaptureFixture[str]) -> list[str]:
    import json

    out = _cli("oncall", "now", "--rotation", rotation, "--json", endpoint=endpoint, capsys=capsys)
    return list(json.loads(out)["on_call"][0]["contacts"])


def test_stage_one_then_stage_two_then_ack_stops_the_plan(
    emulator: LocalEmulator,
    aws: Callable[[str], Any],
    outputs: dict[str, str],
    unique: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    endpoint = emulator.endpoint_url
    primary = _on_call(endpoint, "payments-primary", capsys)
    secondary = _on_call(endpoint, "payments-secondary", capsys)
    assert len(primary) == 1 and len(secondary) == 2
    before = {c: len(_paged(emulator, c)) for c in DECLARED["contacts"]}

    incident = _open(aws, outputs, unique)
    incident_id = incident["incident_id"]
    (first,) = primary
    wait_for(f"stage 1 to page {first}", lambda: _texted(emulator, first, before[first]), 30)
    engagement = _engagement(aws, outputs, incident_id)
    assert engagement["response_plan"] == "payments-critical"
    assert engagement["stages"][0]["contacts"] == [first]

    # Nobody acknowledges: after stage 1's 5 s, stage 2 pages the secondary rotation's pair.
    for other in secondary:
        wait_for(f"stage 2 to page {other}", lambda o=other: _texted(emulator, o, before[o]), 40)
    engagement = _engagement(aws, outputs, incident_id)
    stages = engagement["stages"]
    assert len(stages) >= 2 and set(secondary) <= set(stages[1]["contacts"])
    # Stage 2's people were paged by stage 2, none of them before it began.
    for page in engagement["pages"]:
        if page["contact"] in secondary and page["status"] == "sent":
            assert page["stage"] == 1 and page["sent_at"] >= stages[1]["started_at"]

    acker = secondary[0]
    out = _cli("ack", incident_id, "--by", acker, endpoint=endpoint, capsys=capsys)
    assert "Acknowledged" in out

    def stopped() -> dict[str, Any] | None:
        found = _engagement(aws, outputs, incident_id)
        return found if found.get("status") == "acknowledged" else None

    engagement = wait_for("the plan to stop", stopped, 60)
    assert engagement["acknowledged_by"] == acker
    acked = engagement["acknowledged_at"]
    # The stage in force when the ack landed (stage 2, unless a loaded machine took past
    # stage 2's 10 s); nothing was paged after it, and nothing is left to page.
    begun = [s["index"] for s in engagement["stages"] if s["started_at"] <= acked]
    assert engagement["ack_stage"] == begun[-1] >= 1
    assert all(p["status"] != "pending" for p in engagement["pages"])
    assert all((p["sent_at"] or "") <= acked for p in engagement["pages"] if p["status"] == "sent")
    paged_so_far = {c: len(_paged(emulator, c)) for c in DECLARED["contacts"]}

    aws("cloudwatch").set_alarm_state(
        AlarmName=incident["alarm"], StateValue="OK", StateReason="Threshold no longer crossed"
    )
    sfn = aws("stepfunctions")
    described = wait_for(
        "the execution to end", lambda: finished(sfn, incident["execution_arn"]), 120
    )
    assert described["status"] == "SUCCEEDED"
    assert {c: len(_paged(emulator, c)) for c in DECLARED["contacts"]} == paged_so_far
    record = _record(aws, outputs, incident_id)
    document = (
        aws("s3")
        .get_object(
            Bucket=outputs["ArtifactBucketName"], Key=f"incidents/{incident_id}/postmortem.md"
        )["Body"]
        .read()
        .decode()
    )
    names = {c: DECLARED["contacts"][c]["name"] for c in [first, *secondary]}
    section = document.split("## People engaged", 1)[1]
    for name in names.values():
        assert name in section
    assert f"**Acknowledged by {names[acker]} ({acker})**" in section
    assert "| 2 |" in section  # the stage table row of stage 2, with its time to acknowledge
    assert "not acknowledged in it" in section  # stage 1's row
    assert record.get("ops_item_id") and record["ops_item_id"] in section
    ops = aws("ssm").get_ops_item(OpsItemId=record["ops_item_id"])["OpsItem"]
    assert ops["Status"] == "Resolved"
    assert ops["Severity"] == "1"


def test_an_override_engages_the_overriding_person(
    emulator: LocalEmulator,
    aws: Callable[[str], Any],
    outputs: dict[str, str],
    unique: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    endpoint = emulator.endpoint_url
    (regular,) = _on_call(endpoint, "payments-primary", capsys)
    cover = "dana" if regular != "dana" else "chen"
    now = datetime.now(UTC)
    added = _cli(
        "oncall", "override", "add", "payments-primary", "--contact", cover,
        "--from", (now - timedelta(minutes=5)).isoformat(),
        "--to", (now + timedelta(minutes=30)).isoformat(),
        "--by", "e2e", endpoint=endpoint, capsys=capsys,
    )  # fmt: skip
    override_id = added.split()[1].rstrip(":")
    try:
        assert _on_call(endpoint, "payments-primary", capsys) == [cover]
        before = len(_paged(emulator, cover))
        incident = _open(aws, outputs, unique)
        wait_for(f"the override to page {cover}", lambda: _texted(emulator, cover, before), 30)
        engagement = _engagement(aws, outputs, incident["incident_id"])
        assert engagement["stages"][0]["contacts"] == [cover]
        listed = _cli("oncall", "override", "list", endpoint=endpoint, capsys=capsys)
        assert override_id in listed
    finally:
        _cli(
            "oncall", "override", "remove", "payments-primary", override_id,
            endpoint=endpoint, capsys=capsys,
        )  # fmt: skip
    assert _on_call(endpoint, "payments-primary", capsys) == [regular]
    aws("cloudwatch").set_alarm_state(
        AlarmName=incident["alarm"], StateValue="OK", StateReason="Threshold no longer crossed"
    )
