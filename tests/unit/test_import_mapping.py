"""Incident Manager -> declaration file mapping (runbook.importers.mapping), edge case by edge
case. Every document built here is rendered, parsed back and checked against docs/oncall.md."""

from __future__ import annotations

import json
import random
from datetime import datetime

import pytest

from runbook.importers.ids import IdSpace, normalise
from runbook.importers.notes import Notes
from runbook.importers.triggers import alarm_name_regex
from tests.unit.im_account import ACCOUNT, INCIDENTS, Builder, hm, lines, loaded


def _only(note_lines: list[str], *needles: str) -> str:
    found = [line for line in note_lines if all(n in line for n in needles)]
    assert len(found) == 1, (needles, note_lines)
    return found[0]


# -- ids -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("akuam", "akuam"),
        ("Payments Primary", "payments-primary"),
        ("_night_owl", "night_owl"),
        ("--x--", "x"),
        ("a.b  c", "a-b-c"),
        ("x" * 80, "x" * 63),
        ("...", "fallback"),
    ],
)
def test_ids_normalise_to_the_file_pattern(name: str, expected: str) -> None:
    assert normalise(name, "fallback") == expected


def test_ids_that_normalise_alike_are_numbered_and_stay_within_the_limit() -> None:
    space = IdSpace("x", reserved=("default",))
    assert [space.assign(n) for n in ("Default", "a b", "A-B", "a_b")] == [
        "default-2",
        "a-b",
        "a-b-2",
        "a_b",
    ]
    long = IdSpace("x")
    first, second = long.assign("y" * 70), long.assign("Y" * 70)
    assert (len(first), len(second)) == (63, 63) and second.endswith("-2")


def test_notes_are_one_line_and_sorted_losses_first() -> None:
    notes = Notes()
    notes.renamed("contact b", "renamed")
    notes.not_carried("contact a", "lost")
    notes.review("contact a", "look")
    notes.not_carried("contact a", "lost")  # said twice, kept once
    assert [n.line() for n in notes.sorted()] == [
        "not carried over: contact a: lost",
        "review: contact a: look",
        "renamed: contact b: renamed",
    ]
    with pytest.raises(ValueError):
        notes.review("x", "two\nlines")


# -- contacts ------------------------------------------------------------------------------
def test_engagement_stages_become_cumulative_offsets() -> None:
    b = Builder()
    b.personal(
        "akuam",
        [("sms", "SMS", "+15005550100"), ("mail", "EMAIL", "a@example.com")],
        [(2, ["sms"]), (5, []), (3, ["mail"])],
        display="Akua Mansa",
    )
    b.plan("p", [])
    doc = loaded(b.build())
    assert doc["contacts"]["akuam"] == {
        "name": "Akua Mansa",
        "channels": [
            {"name": "sms", "type": "sms", "address": "+15005550100"},
            {"name": "mail", "type": "email", "address": "a@example.com"},
        ],
        "engagement": [{"channel": "sms", "after": "0m"}, {"channel": "mail", "after": "7m"}],
    }


def test_long_offsets_are_written_in_hours_and_minutes() -> None:
    b = Builder()
    b.personal(
        "x",
        [("a", "EMAIL", "a@example.com"), ("b", "SMS", "+15005550100")],
        [(30, ["a"]), (60, ["b"])],
    )
    b.personal("y", [("a", "EMAIL", "y@example.com")], [(30, []), (30, []), (30, []), (0, ["a"])])
    b.plan("p", [])
    doc = loaded(b.build())
    assert doc["contacts"]["x"]["engagement"][1]["after"] == "30m"
    assert doc["contacts"]["y"]["engagement"][0]["after"] == "1h30m"


def test_voice_is_not_carried_over_and_a_voice_only_contact_is_left_out_everywhere() -> None:
    b = Builder()
    akua = b.personal(
        "akuam",
        [("desk", "VOICE", "+15005550101"), ("mail", "EMAIL", "a@example.com")],
        [(5, ["desk"]), (5, ["mail"])],
    )
    ana = b.personal("anasi", [("phone", "VOICE", "+15005550103")])
    rotation = b.rotation("Primary", [akua, ana])
    esc = b.escalation("esc", [(5, [ana]), (5, [akua])])
    b.plan("p", [esc])
    b.account.overrides[rotation] = [
        {
            "RotationOverrideId": "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d",
            "NewContactIds": [ana],
            "StartTime": datetime.fromisoformat("2026-03-10T09:00:00+00:00"),
            "EndTime": datetime.fromisoformat("2026-03-11T09:00:00+00:00"),
            "CreateTime": datetime.fromisoformat("2026-02-10T09:00:00+00:00"),
        }
    ]
    imported = b.build()
    doc = loaded(imported)
    notes = lines(imported)
    assert set(doc["contacts"]) == {"akuam"}
    assert doc["contacts"]["akuam"]["channels"] == [
        {"name": "mail", "type": "email", "address": "a@example.com"}
    ]
    # The VOICE channel's stage still delays the email, as in Incident Manager.
    assert doc["contacts"]["akuam"]["engagement"] == [{"channel": "mail", "after": "5m"}]
    _only(notes, "not carried over: contact akuam: VOICE channel 'desk'")
    _only(notes, "contact anasi: no channel can be carried over")
    _only(notes, "rotation Primary: participant anasi is not carried over")
    assert doc["rotations"]["primary"]["participants"] == ["akuam"]
    # anasi's stage is gone: akuam's stage begins at once (said), the plan keeps its rhythm.
    assert doc["escalationPlans"]["esc"]["stages"] == [
        {"duration": "5m", "targets": [{"contact": "akuam"}]}
    ]
    _only(notes, "escalation plan esc: stage 1: contact anasi is not carried over")
    _only(notes, "escalation plan esc: nobody carried over is engaged in its first 5m")
    _only(notes, "override 2026-03-10T09:00:00Z .. 2026-03-11T09:00:00Z: no contact")
    assert imported.overrides == []


def test_bad_addresses_and_unknown_types_are_said_not_written() -> None:
    b = Builder()
    b.personal(
        "x",
        [
            ("local", "SMS", "5550100"),
            ("mail", "EMAIL", "not-an-address"),
            ("pager", "PAGER", "123"),
            ("ok", "EMAIL", "x@example.com"),
        ],
        [(0, ["local", "mail", "pager", "ok"])],
    )
    b.plan("p", [])
    imported = b.build()
    doc = loaded(imported)
    notes = lines(imported)
    assert [c["name"] for c in doc["contacts"]["x"]["channels"]] == ["ok"]
    _only(notes, "SMS channel 'local': not an E.164 number")
    _only(notes, "EMAIL channel 'mail': not an address")
    _only(notes, "channel 'pager' of unknown type 'PAGER'")


def test_a_channel_paged_again_keeps_its_first_offset_and_retries_are_said_once() -> None:
    b = Builder()
    b.personal("x", [("sms", "SMS", "+15005550100")], [(5, ["sms"]), (5, ["sms"])], retry=1)
    b.personal("y", [("mail", "EMAIL", "y@example.com")], retry=2)
    b.plan("p", [])
    imported = b.build()
    doc = loaded(imported)
    notes = lines(imported)
    assert doc["contacts"]["x"]["engagement"] == [{"channel": "sms", "after": "0m"}]
    _only(notes, "contact x: channel sms is paged again at 5m")
    _only(notes, "contacts x, y: RetryIntervalInMinutes")


def test_channel_names_become_unique_labels_and_unactivated_channels_are_flagged() -> None:
    b = Builder()
    b.personal(
        "x",
        [("Work Email", "EMAIL", "a@example.com"), ("work email", "EMAIL", "b@example.com")],
        activation={"work email": "NOT_ACTIVATED"},
    )
    b.plan("p", [])
    imported = b.build()
    doc = loaded(imported)
    names = [c["name"] for c in doc["contacts"]["x"]["channels"]]
    assert sorted(names) == ["work-email", "work-email-2"]
    _only(lines(imported), "review: contact x: channel 'work email' was never activated")


def test_a_contact_without_engagement_plan_pages_every_channel() -> None:
    b = Builder()
    b.personal("x", [("mail", "EMAIL", "x@example.com")], [])
    b.plan("p", [])
    imported = b.build()
    assert "engagement" not in loaded(imported)["contacts"]["x"]
    _only(lines(imported), "review: contact x: it has no engagement plan")


# -- rotations -----------------------------------------------------------------------------
def test_rotation_fields_and_the_file_zone_is_the_most_common_one() -> None:
    b = Builder()
    a, c = b.personal("a"), b.personal("c")
    coverage = {d: [{"Start": hm(9), "End": hm(17)}] for d in ("MON", "TUE")}
    b.rotation(
        "Primary",
        [a, c],
        recurrence={
            "NumberOfOnCalls": 2,
            "RecurrenceMultiplier": 1,
            "DailySettings": [hm(9)],
            "ShiftCoverages": coverage,
        },
        zone="America/New_York",
        start="2026-02-01T14:00:00+00:00",
    )
    b.rotation("Secondary", [c], zone="America/New_York")
    b.rotation("Tertiary", [a], zone="Asia/Tokyo")
    b.plan("p", [])
    imported = b.build()
    doc = loaded(imported)
    assert doc["timezone"] == "America/New_York"
    assert doc["rotations"]["primary"] == {
        "name": "Primary",
        "timezone": "America/New_York",
        "participants": ["a", "c"],
        "start": "2026-02-01T09:00",
        "shift": "daily",
        "onCall": 2,
        "workingHours": [{"days": ["mon", "tue"], "start": "09:00", "end": "17:00"}],
    }
    assert "onCall" not in doc["rotations"]["secondary"]
    _only(lines(imported), "renamed: rotation Primary: 'Primary' is 'primary' here")


def test_more_on_call_than_participants_is_flagged() -> None:
    b = Builder()
    a = b.personal("a")
    b.rotation(
        "Pair",
        [a],
        recurrence={"NumberOfOnCalls": 2, "RecurrenceMultiplier": 1, "DailySettings": [hm(9)]},
    )
    b.plan("p", [])
    imported = b.build()
    loaded(imported)
    _only(lines(imported), "review: rotation Pair: 2 on call at once but only 1 participants")


def test_monthly_and_unknown_zone_rotations_are_left_out_with_their_targets() -> None:
    b = Builder()
    a = b.personal("a")
    monthly = b.rotation(
        "Monthly",
        [a],
        recurrence={
            "NumberOfOnCalls": 1,
            "RecurrenceMultiplier": 1,
            "MonthlySettings": [{"DayOfMonth": 15, "HandOffTime": hm(9)}],
        },
    )
    lost = b.rotation("Lost", [a], zone="Mars/Olympus_Mons")
    kept = b.rotation("Kept", [a])
    sched = b.schedule("oncall", [monthly, lost, kept])
    esc = b.escalation("esc", [(5, [sched])])
    b.plan("p", [esc])
    imported = b.build()
    doc = loaded(imported)
    notes = lines(imported)
    assert set(doc["rotations"]) == {"kept"}
    assert doc["escalationPlans"]["esc"]["stages"][0]["targets"] == [{"rotation": "kept"}]
    _only(notes, "not carried over: rotation Monthly: recurs monthly (day 15 09:00)")
    _only(notes, "not carried over: rotation Lost: time zone 'Mars/Olympus_Mons'")
    _only(notes, "stage 1: rotation Monthly of on-call schedule oncall is not carried over")
    _only(notes, "stage 1: rotation Lost of on-call schedule oncall is not carried over")


# -- escalation plans ----------------------------------------------------------------------
def test_escalation_stages_schedules_and_essential_flags() -> None:
    b = Builder()
    a, c, d = b.personal("a"), b.personal("c"), b.personal("d")
    r1, r2 = b.rotation("One", [a]), b.rotation("Two", [c])
    sched = b.schedule("oncall", [r1, r2])
    esc = b.escalation(
        "example_escalation",
        [(5, [a]), (0, [(sched, False)]), (10, [c, d]), (0, [(d, False)])],
    )
    b.plan("p", [esc])
    imported = b.build()
    doc = loaded(imported)
    notes = lines(imported)
    # The 0-minute stage 2 begins with stage 3: one stage; d engaged twice is engaged once.
    assert doc["escalationPlans"]["example_escalation"]["stages"] == [
        {"duration": "5m", "targets": [{"contact": "a"}]},
        {
            "duration": "10m",
            "targets": [
                {"contact": "c"},
                {"contact": "d"},
                {"rotation": "one"},
                {"rotation": "two"},
            ],
        },
        {"duration": "30m", "targets": [{"contact": "d"}]},
    ]
    _only(notes, "approximated: escalation plan example_escalation: its last stage lasts 0")
    _only(
        notes, "not carried over: escalation plan example_escalation: targets marked not essential"
    )
    assert doc["responsePlans"][0]["escalationPlan"] == "example_escalation"


def test_plans_cannot_nest_and_unknown_contacts_are_said() -> None:
    b = Builder()
    a = b.personal("a")
    inner = b.escalation("inner", [(5, [a])])
    outer = b.escalation("outer", [(5, [inner, f"{INCIDENTS}:contact/ghost"]), (5, [a])])
    b.plan("p", [outer])
    imported = b.build()
    doc = loaded(imported)
    notes = lines(imported)
    assert doc["escalationPlans"]["outer"]["stages"] == [
        {"duration": "5m", "targets": [{"contact": "a"}]}
    ]
    _only(notes, "outer: stage 1 engages escalation plan inner")
    _only(notes, "outer: stage 1 engages ghost, which is not among the contacts read")


def test_a_plan_nobody_is_left_in_is_left_out_and_its_response_plan_says_so() -> None:
    b = Builder()
    ana = b.personal("anasi", [("phone", "VOICE", "+15005550103")])
    esc = b.escalation("esc", [(5, [ana])])
    b.plan("p", [esc])
    imported = b.build()
    doc = loaded(imported)
    assert "escalationPlans" not in doc
    assert "escalationPlan" not in doc["responsePlans"][0]
    _only(lines(imported), "escalation plan esc: no stage has a target carried over")
    _only(lines(imported), "response plan p: its escalation plan esc is not carried over")


# -- response plans ------------------------------------------------------------------------
def test_impact_maps_to_severity() -> None:
    b = Builder()
    for impact in range(1, 6):
        b.plan(f"p{impact}", [], impact=impact)
    plans = {p["id"]: p.get("severity") for p in loaded(b.build())["responsePlans"]}
    assert plans == {
        "p1": "critical",
        "p2": "high",
        "p3": "standard",
        "p4": "standard",
        "p5": "standard",
        "default": None,
    }


def test_direct_engagements_become_an_escalation_plan_of_their_own() -> None:
    b = Builder()
    a, c = b.personal("a"), b.personal("c")
    r = b.rotation("Primary", [a, c])
    sched = b.schedule("oncall", [r])
    esc = b.escalation("esc", [(5, [c]), (5, [a])])
    b.escalation("db-on-call", [(5, [a])])  # takes the id the new plan would have had
    b.plan("db-on-call", [sched, a, esc])
    imported = b.build()
    doc = loaded(imported)
    notes = lines(imported)
    plan = doc["responsePlans"][0]
    assert plan["escalationPlan"] == "db-on-call-2"
    assert doc["escalationPlans"]["db-on-call-2"]["stages"] == [
        {
            "duration": "5m",
            "targets": [{"contact": "a"}, {"contact": "c"}, {"rotation": "primary"}],
        },
        {"duration": "25m", "targets": [{"contact": "a"}]},
    ]
    _only(notes, "review: response plan db-on-call: engages a, oncall directly")
    _only(notes, "approximated: response plan db-on-call: its 3 engagements run side by side")


def test_alarms_naming_a_plan_become_its_match_in_both_arn_spellings() -> None:
    b = Builder()
    b.plan("payments-critical", [])
    b.plan("other", [])
    b.alarm("payments-5xx", f"arn:aws:ssm-incidents::{ACCOUNT}:responseplan/payments-critical")
    b.alarm(
        "payments-latency (p99)",
        "arn:aws:sns:us-east-1:123456789012:ops",
        f"arn:aws:ssm-incidents::{ACCOUNT}:response-plan/payments-critical",
    )
    b.alarm("elsewhere", "arn:aws:ssm-incidents::999999999999:responseplan/payments-critical")
    b.alarm("payments-critical-ish", f"arn:aws:ssm-incidents::{ACCOUNT}:responseplan/payments")
    imported = b.build()
    doc = loaded(imported)
    first, second, default = doc["responsePlans"]
    assert first == {
        "id": "payments-critical",
        "match": {"alarmName": r"^(payments-5xx|payments-latency \(p99\))$"},
        "severity": "standard",
    }
    assert second["match"] == {"alarmName": "^$"}  # matches nothing, after the matched ones
    assert default == {"id": "default"}
    _only(lines(imported), "review: response plan other: no CloudWatch alarm or EventBridge rule")
    _only(lines(imported), "review: response plan default: added for incidents no plan matches")


def test_the_match_selects_exactly_the_alarms() -> None:
    import re

    pattern = re.compile(alarm_name_regex(["a.b", "c"], []))
    assert [n for n in ("a.b", "axb", "c", "cc", "xc") if pattern.search(n)] == ["a.b", "c"]
    mixed = re.compile(alarm_name_regex(["orders-db-cpu"], ["db-"]))
    hits = ("orders-db-cpu", "db-read", "x-db-", "orders-db-cpu-2")
    assert [n for n in hits if mixed.search(n)] == ["orders-db-cpu", "db-read"]


def test_eventbridge_rules_on_alarm_names_join_the_match_and_others_need_a_person() -> None:
    b = Builder()
    plan = b.plan("db", [])
    pattern = {
        "source": ["aws.cloudwatch"],
        "detail-type": ["CloudWatch Alarm State Change"],
        "detail": {
            "alarmName": [{"prefix": "db-"}, "orders-db-cpu"],
            "state": {"value": ["ALARM"]},
        },
    }
    b.rule(plan, "db-alarms", json.dumps(pattern))
    b.rule(plan, "health", json.dumps({"source": ["aws.health"]}))
    b.rule(plan, "off", json.dumps(pattern | {"detail": {"alarmName": ["x"]}}), state="DISABLED")
    imported = b.build()
    doc = loaded(imported)
    assert doc["responsePlans"][0]["match"] == {"alarmName": "^(orders-db-cpu$|db-)"}
    _only(lines(imported), "review: response plan db: EventBridge rule health starts it")


def test_an_alarm_starting_two_plans_goes_to_the_first_and_is_said() -> None:
    b = Builder()
    b.plan("a-plan", [])
    b.plan("b-plan", [])
    b.alarm(
        "both",
        f"arn:aws:ssm-incidents::{ACCOUNT}:responseplan/b-plan",
        f"arn:aws:ssm-incidents::{ACCOUNT}:responseplan/a-plan",
    )
    imported = b.build()
    loaded(imported)
    _only(lines(imported), "alarm both: starts response plans a-plan, b-plan")


def test_unread_alarms_say_why() -> None:
    b = Builder()
    b.plan("p", [])
    b.account.alarms, b.account.alarms_unavailable = None, "DescribeAlarms.json was not saved"
    imported = b.build()
    loaded(imported)
    _only(
        lines(imported), "CloudWatch alarms could not be read (DescribeAlarms.json was not saved)"
    )


def test_what_response_plans_do_that_the_file_cannot() -> None:
    b = Builder()
    b.plan(
        "everything",
        [],
        impact=1,
        chatChannel={"chatbotSns": ["arn:aws:sns:us-east-1:123456789012:chat"]},
        actions=[{"ssmAutomation": {"documentName": "AWS-RestartEC2Instance", "roleArn": "r"}}],
        integrations=[{"pagerDutyConfiguration": {"name": "pd", "secretId": "s"}}],
        template={
            "notificationTargets": [{"snsTopicArn": "arn:aws:sns:us-east-1:1:t"}],
            "dedupeString": "x",
            "incidentTags": {"team": "x"},
        },
    )
    imported = b.build()
    loaded(imported)
    notes = lines(imported)
    for needle in (
        "chat channel through AWS Chatbot",
        "runs SSM Automation runbook AWS-RestartEC2Instance",
        "PagerDuty integration",
        "incident notifications to SNS topics",
        "dedupe string",
        "tags of the incidents",
        "engages nobody",
    ):
        _only(notes, "response plan everything", needle)


def test_a_plan_named_default_is_renamed() -> None:
    b = Builder()
    b.plan("default", [])
    imported = b.build()
    ids = [p["id"] for p in loaded(imported)["responsePlans"]]
    assert ids == ["default-2", "default"]
    _only(lines(imported), "renamed: response plan default: 'default' is 'default-2' here")


# -- overrides -----------------------------------------------------------------------------
def _override(uid: str, contacts: list[str], start: str, end: str) -> dict[str, object]:
    return {
        "RotationOverrideId": uid,
        "NewContactIds": contacts,
        "StartTime": datetime.fromisoformat(start),
        "EndTime": datetime.fromisoformat(end),
        "CreateTime": datetime.fromisoformat("2026-01-01T00:00:00+00:00"),
    }


def test_future_overrides_go_to_the_sidecar_in_utc() -> None:
    b = Builder()
    a, c = b.personal("a"), b.personal("c")
    b.rotation(
        "Primary",
        [a, c],
        overrides=[
            _override("u2", [c, a], "2026-03-19T10:00:00+01:00", "2026-03-20T18:00:00+00:00"),
            _override("u1", [c], "2026-02-28T09:00:00+00:00", "2026-03-02T09:00:00+00:00"),
            _override("u0", [a], "2026-02-01T09:00:00+00:00", "2026-02-02T09:00:00+00:00"),
        ],
    )
    b.plan("p", [])
    imported = b.build()
    assert imported.overrides == [
        {
            "rotation": "primary",
            "contact": "c",
            "start": "2026-02-28T09:00:00Z",  # in force now: kept
            "end": "2026-03-02T09:00:00Z",
            "incidentManagerId": "u1",
        },
        {
            "rotation": "primary",
            "contact": "c",
            "start": "2026-03-19T09:00:00Z",
            "end": "2026-03-20T18:00:00Z",
            "incidentManagerId": "u2",
        },
    ]
    _only(lines(imported), "rotation Primary: override 2026-03-19T09:00:00Z", "puts 2 contacts")


# -- the whole ----------------------------------------------------------------------------
def _busy_account(seed: int) -> Builder:
    b = Builder()
    people = [b.personal(n) for n in ("akuam", "alejr", "anasi", "_night_owl")]
    rotations = [b.rotation(n, people[i:] + people[:i]) for i, n in enumerate(("One", "Two"))]
    sched = b.schedule("oncall", rotations)
    esc = b.escalation("esc", [(5, [people[0]]), (5, [sched])])
    b.plan("critical", [esc], impact=1)
    b.plan("direct", [people[1], sched], impact=2)
    b.alarm("x", f"arn:aws:ssm-incidents::{ACCOUNT}:responseplan/critical")
    rng = random.Random(seed)
    for items in (b.account.contacts, b.account.rotations, b.account.response_plans):
        rng.shuffle(items)
    for channels in b.account.channels.values():
        rng.shuffle(channels)
    return b


def test_output_does_not_depend_on_the_order_the_apis_listed_things() -> None:
    first = _busy_account(1).build()
    for seed in (2, 3, 4):
        other = _busy_account(seed).build()
        assert other.document == first.document
        assert lines(other) == lines(first)
    assert list(loaded(first)) == [
        "version",
        "timezone",
        "contacts",
        "rotations",
        "escalationPlans",
        "responsePlans",
    ]


def test_a_stage_that_pages_one_channel_engages_its_contact_and_an_empty_schedule_is_said() -> None:
    b = Builder()
    a = b.personal("a", [("sms", "SMS", "+15005550100"), ("mail", "EMAIL", "a@example.com")])
    empty = b.schedule("nobody", [])
    esc = b.escalation("esc", [(5, [empty]), (5, [])])
    channel = b.account.channels[a][0]["ContactChannelArn"]
    b.account.contacts[-1]["Plan"]["Stages"][1]["Targets"] = [
        {"ChannelTargetInfo": {"ContactChannelId": channel, "RetryIntervalInMinutes": 1}}
    ]
    b.plan("p", [esc])
    imported = b.build()
    doc = loaded(imported)
    notes = lines(imported)
    assert doc["escalationPlans"]["esc"]["stages"] == [
        {"duration": "5m", "targets": [{"contact": "a"}]}
    ]
    _only(notes, "approximated: escalation plan esc: stage 2 pages one channel of a")
    _only(notes, "escalation plan esc: stage 1: on-call schedule nobody has no rotation")
    _only(notes, "escalation plan esc: nobody carried over is engaged in its first 5m")
