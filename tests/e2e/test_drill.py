"""`runbook drill` and the dead-man's switch on the emulator (docs/drills.md): a drill goes
through the bus, ingest and the workflow, pages the drill topic and prints its figures; with
the drill topic's Publish broken it exits 1 naming the page; with scheduled drills completing
the switch stays OK, and when they stop it goes to ALARM and notifies its own topic directly,
without the runbook opening an incident for it."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from runbook.cli import main
from runbook.local.emulator import LocalEmulator
from runbook.local.faults import Fault

from .helpers import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.filterwarnings("ignore:Tried to parse AWS::")]


def drill(emulator: LocalEmulator, capsys: pytest.CaptureFixture[str], *extra: str) -> Any:
    code = main(["drill", "--endpoint-url", emulator.endpoint_url, *extra])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_drill_pages_the_drill_topic_and_prints_its_figures(
    emulator: LocalEmulator, aws: Callable[[str], Any], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = drill(emulator, capsys, "--json", "--timeout", "90")
    assert code == 0, err
    report = json.loads(out)
    assert report["failed_step"] is None
    for figure in ("time_to_page_s", "time_to_diagnostics_s", "time_to_postmortem_s"):
        assert isinstance(report[figure], float), figure
    assert report["time_to_page_s"] <= report["time_to_postmortem_s"]
    assert report["topic"] == emulator.outputs["DrillTopicArn"]
    item = aws("dynamodb").get_item(
        TableName=emulator.outputs["IncidentTableName"],
        Key={"incident_id": {"S": report["incident_id"]}},
    )["Item"]
    assert item["drill"] == {"BOOL": True}
    assert item["drill_id"]["S"] == report["drill_id"]
    assert item["status"]["S"] == "RESOLVED", [
        (e["M"]["event"]["S"], e["M"].get("detail", {}).get("S")) for e in item["timeline"]["L"]
    ][5:]
    assert item["resolved_by"]["S"] == "drill"
    assert item["title"]["S"].startswith("DRILL")
    bucket, key = report["postmortem_uri"].removeprefix("s3://").split("/", 1)
    body = aws("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    assert body.startswith("# Postmortem: DRILL")
    # The real paging topics stayed quiet: no [DRILL] page on the critical topic's log.
    critical = emulator.outputs["CriticalTopicArn"]
    assert not [
        d for d in emulator.deliveries(topic=critical) if report["drill_id"] in d["message"]
    ]


def test_a_drill_of_the_real_rotation_pages_the_on_call_person_marked_drill(
    emulator: LocalEmulator, aws: Callable[[str], Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """`--target rotation`: the first response plan that pages people (the example's
    payments plan) engages whoever is on call now, through their own topic, as `[DRILL]`."""
    code, out, err = drill(emulator, capsys, "--json", "--timeout", "90", "--target", "rotation")
    assert code == 0, err
    report = json.loads(out)
    assert report["topic"] == emulator.outputs["CriticalTopicArn"]
    item = aws("dynamodb").get_item(
        TableName=emulator.outputs["IncidentTableName"],
        Key={"incident_id": {"S": report["incident_id"]}},
    )["Item"]
    assert item["response_plan"]["S"] == "payments-critical"
    engagement = item["engagement"]["M"]
    first = engagement["stages"]["L"][0]["M"]["contacts"]["L"][0]["S"]
    topic = f"arn:aws:sns:us-east-1:123456789012:IncidentRunbook-contact-{first}"
    paged = [d for d in emulator.deliveries(topic=topic) if report["drill_id"] in d["message"]]
    assert paged and all("[DRILL]" in (d.get("subject") or d["message"]) for d in paged)


def test_a_drill_with_paging_broken_exits_1_naming_the_page(
    emulator: LocalEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    topic = emulator.outputs["DrillTopicArn"]
    rule = emulator.faults.add(
        Fault(
            "sns",
            "Publish",
            "AuthorizationError",
            403,
            "not authorised to publish",
            times=None,
            contains=(topic,),
            name="drill-page",
        )
    )
    try:
        code, _out, err = drill(emulator, capsys, "--timeout", "20")
    finally:
        emulator.faults.clear()
    assert rule.fired >= 1
    assert code == 1
    assert f"drill failed: no page within 20 s on {topic}" in err
    assert "incident inc-" in err  # it got as far as opening the incident


def _alarm(aws: Callable[[str], Any], name: str) -> dict[str, Any]:
    alarms: list[dict[str, Any]] = aws("cloudwatch").describe_alarms(AlarmNames=[name])[
        "MetricAlarms"
    ]
    return alarms[0]


def _set_schedule(aws: Callable[[str], Any], state: str) -> None:
    scheduler = aws("scheduler")
    current = scheduler.get_schedule(Name="IncidentRunbook-drill")
    scheduler.update_schedule(
        Name=current["Name"],
        ScheduleExpression=current["ScheduleExpression"],
        FlexibleTimeWindow=current["FlexibleTimeWindow"],
        Target=current["Target"],
        State=state,
    )


def test_the_dead_mans_switch_stays_ok_while_drills_complete_and_fires_when_they_stop(
    emulator: LocalEmulator, aws: Callable[[str], Any]
) -> None:
    outputs = emulator.outputs
    name, topic = outputs["DeadMansSwitchAlarmName"], outputs["DeadMansSwitchTopicArn"]
    email = "drills-watch@example.com"
    aws("sns").subscribe(TopicArn=topic, Protocol="email", Endpoint=email)
    cloudwatch = aws("cloudwatch")
    evaluator = emulator.alarm_evaluator
    scale = evaluator.time_scale
    # The one-hour window lasts 30 wall seconds: a loaded machine's drill (diagnostics and a
    # postmortem on two busy cores) must fit in it, as a real one fits in the real window.
    evaluator.time_scale = 120
    _set_schedule(aws, "ENABLED")
    cloudwatch.enable_alarm_actions(AlarmNames=[name])
    try:
        fired = [
            f for f in emulator.fire_schedules() if f["schedule"].endswith("/IncidentRunbook-drill")
        ]
        assert [f["outcome"] for f in fired] == ["put"]
        wait_for("a drill to complete", lambda: _alarm(aws, name)["StateValue"] == "OK", timeout=60)
        for _ in range(40):  # 40 s: more than a window, while drills keep completing
            assert _alarm(aws, name)["StateValue"] == "OK"
            time.sleep(1)
        _set_schedule(aws, "DISABLED")
        before = len(emulator.deliveries(topic=topic))
        wait_for(
            "the switch to fire", lambda: _alarm(aws, name)["StateValue"] == "ALARM", timeout=120
        )
        assert "treated as [Breaching]" in _alarm(aws, name)["StateReason"]

        def noticed() -> list[dict[str, Any]]:
            return [
                d
                for d in emulator.deliveries(topic=topic)[before:]
                if d["endpoint"] == email and '"ALARM"' in d["message"]
            ]

        (notice, *_) = wait_for("the switch's notice", noticed, timeout=10)
        assert json.loads(notice["message"])["AlarmName"] == name
        # The runbook's own alarm rule ignored it: no incident for the switch.
        items = aws("dynamodb").scan(TableName=outputs["IncidentTableName"])["Items"]
        assert not [i for i in items if i.get("alarm_name", {}).get("S") == name]
    finally:
        _set_schedule(aws, "DISABLED")
        cloudwatch.disable_alarm_actions(AlarmNames=[name])
        evaluator.time_scale = scale
