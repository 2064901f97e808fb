"""Key moments, their order, the figures read from them and the Mermaid chart."""

from __future__ import annotations

import re

from msgspec.structs import replace as replace_record

from incidents.model import TimelineEntry
from postmortem.figures import duration, figures
from postmortem.history import WorkflowHistory
from postmortem.mermaid import gantt
from postmortem.timeline import full_timeline, in_order, key_moments, signals_absorbed

from .test_postmortem_cases import (
    INCIDENT_ID,
    MERMAID_BREAKER,
    at,
    full_case,
    partial_case,
    unresolved_case,
)


def _moments(case):
    status = (
        "RESOLVED" if case.recovery.get("status") in ("recovered", "resolved") else "UNRESOLVED"
    )
    return key_moments(
        case.incident, case.history, case.response, case.recovery, case.closed_at, status
    )


def test_full_incident_key_moments_in_time_order() -> None:
    moments = _moments(full_case())
    assert [(m.label, m.at.strftime("%H:%M:%S"), m.source) for m in moments] == [
        ("First signal", "14:03:07", "incident record"),
        ("Incident opened", "14:03:08", "execution history"),
        ("Page sent", "14:03:10", "execution history"),
        ("Channel created", "14:03:12", "incident record"),
        ("Diagnostics finished (completed)", "14:03:35", "execution history"),
        ("Waiting for recovery", "14:03:37", "incident record"),
        ("Acknowledged", "14:06:07", "incident record"),
        ("Escalated", "14:13:07", "incident record"),
        ("Recovered (alarm OK)", "14:20:10", "workflow result"),
        ("Closed RESOLVED", "14:20:12", "workflow result"),
    ]
    assert moments == sorted(moments, key=lambda m: m.at)


def test_partial_incident_marks_failures_and_who_resolved() -> None:
    labels = {m.label: m for m in _moments(partial_case())}
    assert labels["Diagnostics failed"].detail == "Lambda.Unknown"
    assert labels["Diagnostics failed"].at.strftime("%H:%M:%S") == "14:04:07"
    assert labels["Channel failed"].detail == "SlackChannelError"
    assert labels["Resolved"].detail.startswith("by operator:bob: fixed it")
    assert "Channel created" not in labels and "Acknowledged" not in labels


def test_unresolved_incident_without_history_falls_back_to_the_record() -> None:
    moments = _moments(unresolved_case())
    assert [m.label for m in moments] == [
        "First signal",
        "Incident opened",
        "Waiting for recovery",
        "Closed UNRESOLVED",
    ]
    assert moments[1].source == "incident record"


def test_timed_out_wait_is_a_moment_when_the_history_has_it() -> None:
    from .test_postmortem_cases import History

    builder = History()
    start = builder.add(0, "ExecutionStarted")
    entered = builder.enter(30, "MonitorRecovery", previous=start)
    timed_out = builder.add(
        3630, "TaskTimedOut", entered, taskTimedOutEventDetails={"error": "States.Timeout"}
    )
    builder.enter(3630, "RecoveryTimedOut", "Pass", timed_out)
    case = unresolved_case()
    moments = key_moments(
        case.incident, builder.summary(), case.response, case.recovery, at(3632), "UNRESOLVED"
    )
    assert [m.label for m in moments][-2:] == ["Recovery wait timed out", "Closed UNRESOLVED"]


def test_simultaneous_moments_follow_the_incident_order() -> None:
    case = full_case()
    incident = replace_record(
        case.incident, **{"timeline": [TimelineEntry(at=at(0), event="workflow started")]}
    )
    moments = key_moments(incident, WorkflowHistory(), {}, {}, at(0), "UNRESOLVED")
    assert [m.key for m in moments] == ["first_signal", "opened", "closed"]
    assert in_order(reversed(moments)) == moments


def test_full_timeline_merges_record_and_history() -> None:
    case = full_case()
    merged = full_timeline(case.incident, case.history)
    assert [m.at for m in merged] == sorted(m.at for m in merged)
    assert {m.source for m in merged} == {"incident record", "execution history"}
    assert len(merged) == len(case.incident.timeline) + len(case.history.entries)


def test_figures_of_the_full_incident() -> None:
    case = full_case()
    found = {f.name: f for f in figures(case.incident, _moments(case), case.history, "sent")}
    assert found["Time to open"].value == "1s"
    assert found["Time to page"].value == "3s"
    assert found["Time to acknowledge (MTTA)"].value == "3m 00s"
    assert found["Time to recover (MTTR)"].value == "17m 03s"
    assert found["Time to recover (MTTR)"].seconds == 1023
    assert found["Time open"].value == "17m 05s"
    assert found["Alarms and events absorbed"].value == "2"
    assert found["Escalations"].value == "1"
    assert found["Timeline entries"].value == f"9 + {len(case.history.entries)}"


def test_figures_say_why_a_value_is_missing() -> None:
    case = unresolved_case()
    found = {f.name: f for f in figures(case.incident, _moments(case), case.history, "sent")}
    assert found["Time to page"].value == "-"
    assert "does not show when" in found["Time to page"].basis
    assert found["Time to recover (MTTR)"].basis.startswith("not recovered")
    assert found["Alarms and events absorbed"].value == "7"  # the ingest counter
    standard = figures(case.incident, _moments(case), case.history, "skipped")
    assert [f.name for f in standard][1] == "Time to notify"


def test_signals_absorbed_counts_joined_alarms_without_a_counter() -> None:
    assert signals_absorbed(full_case().incident) == 2
    assert signals_absorbed(partial_case().incident) == 1


def test_duration_text() -> None:
    assert [duration(s) for s in (0, 45, 183, 7500, 3 * 86400 + 3600)] == [
        "0s",
        "45s",
        "3m 03s",
        "2h 05m 00s",
        "3d 01h 00m",
    ]


_GANTT_LINE = re.compile(
    r"^(gantt"
    r"|    title [A-Za-z0-9 ._/+=@()-]+"
    r"|    dateFormat YYYY-MM-DD HH:mm:ss|    axisFormat %H:%M"
    r"|    section [A-Za-z ]+"
    r"|    [A-Za-z0-9 ._/+=@-]+ :(milestone|done|crit), [mrw]\d+, "
    r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d, (0s|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d))$"
)


def test_gantt_chart_has_only_well_formed_statements() -> None:
    case = full_case()
    moments = _moments(case)
    chart = gantt(moments, INCIDENT_ID)
    assert all(_GANTT_LINE.match(line) for line in chart.splitlines()), chart
    assert "Page sent :milestone, m2, 2024-05-01 14:03:10, 0s" in chart
    assert "Waiting :done, w0, 2024-05-01 14:03:37, 2024-05-01 14:20:10" in chart
    sections = [line for line in chart.splitlines() if line.startswith("    section")]
    assert sections == [
        "    section Detect",
        "    section Respond",
        "    section Wait for recovery",
        "    section Close",
    ]


def test_gantt_labels_cannot_break_the_chart() -> None:
    case = full_case()
    hostile = [
        m.__class__(m.at, MERMAID_BREAKER, m.detail, m.source, m.key) for m in _moments(case)
    ]
    chart = gantt(hostile, INCIDENT_ID)
    assert "```" not in chart and "%%" not in chart and ";" not in chart
    assert all(_GANTT_LINE.match(line) for line in chart.splitlines()), chart


def test_escalation_loop_flaps_and_the_close_after_the_escalations() -> None:
    """The workflow escalates, waits again, gives up at RecoveryUnresolved; an operator's
    escalation request is not a second escalation; a flap is a moment of its own."""
    from .test_postmortem_cases import History

    builder = History()
    start = builder.add(0, "ExecutionStarted")
    first_wait = builder.enter(30, "MonitorRecovery", previous=start)
    builder.enter(90, "RecoveryTimedOut", "Pass", first_wait)
    second_wait = builder.enter(95, "MonitorRecovery", previous=first_wait)
    builder.enter(160, "RecoveryUnresolved", "Pass", second_wait)
    case = unresolved_case()
    incident = replace_record(
        case.incident,
        **{
            "timeline": [
                TimelineEntry(at=at(40), event="flapped", detail="fired again"),
                TimelineEntry(at=at(80), event="escalation requested", detail="by operator:x"),
                TimelineEntry(at=at(91), event="escalated", detail="operator after 1 min"),
            ]
        },
    )
    moments = key_moments(
        incident, builder.summary(), case.response, case.recovery, at(162), "UNRESOLVED"
    )
    start = moments[0].at  # the first signal, at(0)
    labels = [(m.label, int((m.at - start).total_seconds())) for m in moments]
    assert ("Flapped", 40) in labels
    assert [label for label, _ in labels].count("Escalated") == 1
    assert ("Recovery wait timed out", 160) in labels
