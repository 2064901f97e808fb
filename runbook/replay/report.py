"""Count what the runbook did in a replay, from what it left behind, and print it.

Nothing here models the runbook: incidents, reopenings, folds, joins, flaps and escalations
are read from the incident records the functions wrote (their counters and timelines), and
pages are the SNS deliveries the emulator recorded for the replay's subscribers (one per topic,
so one delivery is one publish). Postmortem notices on the team topic are counted apart: they
tell people a document exists, they page nobody.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

import msgspec

from incidents.model import SEVERITIES, Incident
from runbook.render import table, to_json
from runbook.replay.configuration import Timing

REPLAY_DOMAIN = "@replay.invalid"
UPGRADE_PREFIX = "UPGRADED to"
TOPIC_NAMES = ("critical", "high", "standard", "escalation")


class IncidentRow(msgspec.Struct, kw_only=True):
    incident_id: str
    opened_at: str
    severity: str
    status: str
    alarms: list[str]
    signals: int
    folded: int  # firings of other alarms folded in (a storm)
    joined: int  # repeat firings of its alarms while it was open
    reopened: int
    flaps: int
    escalations: int
    pages: int  # response and upgrade pages (escalations apart)
    late: int


class Totals(msgspec.Struct, kw_only=True):
    incidents: int
    by_severity: dict[str, int]
    reopened: int
    storms: int  # incidents that folded in firings of other alarms
    folded: int
    joined: int
    flaps: int
    escalations: int
    unresolved: int
    open_at_end: int
    late: int


class Pages(msgspec.Struct, kw_only=True):
    by_topic: dict[str, int]  # pages per topic (postmortem notices left out)
    response: dict[str, int]  # per severity: the page of each run (opened or reopened)
    upgrades: dict[str, int]  # per severity: pages after a severity upgrade
    escalations: dict[str, int]  # per severity of the incident escalated
    postmortem_notices: int
    total: int
    # People paged through their own topics (docs/oncall.md): contact id -> deliveries.
    people: dict[str, int] = msgspec.field(default_factory=dict)


class Window(msgspec.Struct, kw_only=True):
    start: str
    end: str
    changes: int
    alarms: int


class Handling(msgspec.Struct, kw_only=True):
    """How long (history seconds) the runbook took to handle a change: on AWS about a
    second; in a replay the emulator's time multiplied by the speed."""

    median: float
    p90: float
    max: float


class Run(msgspec.Struct, kw_only=True):
    speed: float
    wall_seconds: float
    skipped_history_seconds: float
    latest_change_seconds: float
    emulator_waits: dict[str, int]  # the waits the emulator ran, wall seconds
    handling: Handling


class Report(msgspec.Struct, kw_only=True):
    window: Window
    settings: dict[str, Any]
    run: Run
    totals: Totals
    pages: Pages
    incidents: list[IncidentRow]
    running_at_end: int
    notes: list[str]


# A change handled later than this (history seconds) may be decided otherwise than on AWS
# when it falls that close to a window's edge.
LATE_HANDLING_SECONDS = 60.0


def handling(seconds: list[float]) -> Handling:
    ordered = sorted(seconds)
    if not ordered:
        return Handling(median=0.0, p90=0.0, max=0.0)

    def at(share: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 1)

    return Handling(median=at(0.5), p90=at(0.9), max=round(ordered[-1], 1))


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _alarm_names(incident: Incident) -> list[str]:
    names = {incident.alarm_name} if incident.alarm_name else set()
    for key in incident.correlation_keys or ():
        if key.startswith("alarm:") and ":alarm:" in key:
            names.add(key.split(":alarm:", 1)[1])
    return sorted(names)


def _events(incident: Incident) -> Counter[str]:
    return Counter(entry.event for entry in incident.timeline)


# Each contact's topic is `<stack>-contact-<id>` (stacks/oncall.py).
CONTACT_TOPIC_MARK = "-contact-"


def _page_kind(delivery: dict[str, Any], topic: str) -> str | None:
    """`response`, `upgrade`, `escalation`, `postmortem` or None (not a replay delivery)."""
    if not str(delivery.get("endpoint", "")).endswith(REPLAY_DOMAIN):
        return None
    attributes = delivery.get("attributes") or {}
    if (attributes.get("kind") or {}).get("Value") == "postmortem":
        return "postmortem"
    if topic == "escalation":
        return "escalation"
    if str(delivery.get("message", "")).startswith(UPGRADE_PREFIX):
        return "upgrade"
    return "response"


def _severity_of(delivery: dict[str, Any], topic: str) -> str:
    value = ((delivery.get("attributes") or {}).get("severity") or {}).get("Value")
    if value in SEVERITIES:
        return str(value)
    return topic if topic in SEVERITIES else "standard"


def count_pages(
    deliveries: list[dict[str, Any]], topics: dict[str, str]
) -> tuple[Pages, Counter[str]]:
    """The pages, and the response/upgrade pages per incident id."""
    names = {arn: name for name, arn in topics.items()}
    zero: dict[str, int] = dict.fromkeys(SEVERITIES, 0)
    response, upgrades, escalations = dict(zero), dict(zero), dict(zero)
    by_topic = dict.fromkeys(TOPIC_NAMES, 0)
    notices = 0
    per_incident: Counter[str] = Counter()
    people: Counter[str] = Counter()
    for delivery in deliveries:
        arn = str(delivery.get("topic"))
        topic = names.get(arn)
        if topic is None:
            contact = arn.rsplit(":", 1)[-1].partition(CONTACT_TOPIC_MARK)[2]
            if CONTACT_TOPIC_MARK in arn and contact:
                people[contact] += 1
            continue
        kind = _page_kind(delivery, topic)
        if kind is None:
            continue
        if kind == "postmortem":
            notices += 1
            continue
        by_topic[topic] += 1
        severity = _severity_of(delivery, topic)
        if kind == "escalation":
            escalations[severity] += 1
            continue
        (upgrades if kind == "upgrade" else response)[topic] += 1
        incident_id = ((delivery.get("attributes") or {}).get("incident_id") or {}).get("Value")
        if incident_id:
            per_incident[str(incident_id)] += 1
    pages = Pages(
        by_topic=by_topic,
        response=response,
        upgrades=upgrades,
        escalations=escalations,
        postmortem_notices=notices,
        total=sum(by_topic.values()),
        people=dict(sorted(people.items())),
    )
    return pages, per_incident


def incident_rows(items: list[dict[str, Any]], pages: Counter[str]) -> list[IncidentRow]:
    rows = []
    for item in items:
        incident = Incident.from_item(item)
        events = _events(incident)
        rows.append(
            IncidentRow(
                incident_id=incident.incident_id,
                opened_at=incident.opened_at,
                severity=incident.severity,
                status=incident.status if not incident.is_open else "OPEN",
                alarms=_alarm_names(incident),
                signals=incident.signal_count or 1,
                folded=events["folded"],
                joined=events["correlated"],
                reopened=incident.reopen_count or 0,
                flaps=incident.flap_count or 0,
                escalations=incident.escalation_count or 0,
                pages=pages[incident.incident_id],
                late=events["late signal"],
            )
        )
    return sorted(rows, key=lambda row: (row.opened_at, row.incident_id))


def totals_of(rows: list[IncidentRow]) -> Totals:
    by_severity: dict[str, int] = dict.fromkeys(SEVERITIES, 0)
    for row in rows:
        by_severity[row.severity] += 1
    return Totals(
        incidents=len(rows),
        by_severity=by_severity,
        reopened=sum(row.reopened for row in rows),
        storms=sum(1 for row in rows if row.folded),
        folded=sum(row.folded for row in rows),
        joined=sum(row.joined for row in rows),
        flaps=sum(row.flaps for row in rows),
        escalations=sum(row.escalations for row in rows),
        unresolved=sum(1 for row in rows if row.status == "UNRESOLVED"),
        open_at_end=sum(1 for row in rows if row.status == "OPEN"),
        late=sum(row.late for row in rows),
    )


SETTINGS_SHOWN = (
    "correlationWindowMinutes",
    "reopenWindowMinutes",
    "foldByResource",
    "recoveryTimeoutSeconds",
    "stabilisationSeconds",
    "maxEscalations",
    "defaultSeverity",
    "severityPatterns",
    "namespaceSeverity",
)


def build(
    *,
    incidents: list[dict[str, Any]],
    deliveries: list[dict[str, Any]],
    topics: dict[str, str],
    settings: dict[str, Any],
    timing: Timing,
    start: datetime,
    end: datetime,
    changes: int,
    alarms: int,
    running_at_end: int = 0,
    skipped_seconds: float = 0.0,
    wall_seconds: float = 0.0,
    latest_change_seconds: float = 0.0,
    handling_seconds: list[float] | None = None,
    notes: list[str] | None = None,
) -> Report:
    pages, per_incident = count_pages(deliveries, topics)
    rows = incident_rows(incidents, per_incident)
    handled = handling(handling_seconds or [])
    notes = list(notes or [])
    if handled.max > LATE_HANDLING_SECONDS:
        notes.append(
            f"the runbook fell behind the replay: some changes were handled up to "
            f"{handled.max:g} s of history late (on AWS about a second), so a decision that "
            "close to a window's edge may differ; a lower --speed replays more faithfully"
        )
    return Report(
        window=Window(start=_iso(start), end=_iso(end), changes=changes, alarms=alarms),
        settings={key: settings[key] for key in SETTINGS_SHOWN if key in settings},
        run=Run(
            speed=timing.speed,
            wall_seconds=round(wall_seconds, 1),
            skipped_history_seconds=round(skipped_seconds),
            latest_change_seconds=round(latest_change_seconds, 3),
            emulator_waits={
                "recoveryTimeoutSeconds": timing.recovery_timeout,
                "stabilisationSeconds": timing.stabilisation,
            },
            handling=handled,
        ),
        totals=totals_of(rows),
        pages=pages,
        incidents=rows,
        running_at_end=running_at_end,
        notes=notes,
    )


def as_json(report: Report) -> str:
    return to_json(msgspec.to_builtins(report))


def _duration(seconds: float) -> str:
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def _alarms_cell(alarms: list[str]) -> str:
    """Up to two names; a storm's incident as its first alarm and how many more (--json
    lists them all)."""
    if len(alarms) <= 2:
        return ", ".join(alarms)
    return f"{alarms[0]} +{len(alarms) - 1} more"


def _count(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _by_severity(counts: dict[str, int]) -> str:
    return ", ".join(f"{severity} {counts.get(severity, 0)}" for severity in SEVERITIES)


def text(report: Report) -> str:
    window, run, totals, pages, s = (
        report.window,
        report.run,
        report.totals,
        report.pages,
        report.settings,
    )
    waits = run.emulator_waits
    lines = [
        f"Replay of {_count(window.changes, 'alarm state change')} of "
        f"{_count(window.alarms, 'alarm')}, "
        f"{window.start} to {window.end}, at {run.speed:g}x: {_duration(run.wall_seconds)}"
        + (
            f" ({_duration(run.skipped_history_seconds)} of quiet history skipped)"
            if run.skipped_history_seconds
            else ""
        ),
        f"Settings: correlation window {s.get('correlationWindowMinutes')} min, reopen window "
        f"{s.get('reopenWindowMinutes')} min, fold by resource "
        f"{'on' if s.get('foldByResource') else 'off'}, recovery wait "
        f"{s.get('recoveryTimeoutSeconds')} s, stabilisation {s.get('stabilisationSeconds')} s, "
        f"at most {s.get('maxEscalations')} escalations, "
        f"{len(s.get('severityPatterns', []))} severity patterns",
        f"  (on the emulator: recovery wait {waits['recoveryTimeoutSeconds']} s = "
        f"{waits['recoveryTimeoutSeconds'] * run.speed:g} s of history, stabilisation "
        f"{waits['stabilisationSeconds']} s = {waits['stabilisationSeconds'] * run.speed:g} s)",
        f"Each change was handled within {run.handling.max:g} s of history (median "
        f"{run.handling.median:g} s, 90% within {run.handling.p90:g} s)",
        "",
        "What the runbook would have done:",
        f"  incidents opened        {totals.incidents}  ({_by_severity(totals.by_severity)})",
        f"  reopened                {totals.reopened}",
        f"  storms folded           {_count(totals.storms, 'incident')} absorbed "
        f"{_count(totals.folded, 'firing')} of other alarms",
        f"  repeat firings joined   {totals.joined}  (an alarm firing again while its incident "
        "was open)",
        f"  flaps                   {totals.flaps}  (fired again during the stabilisation wait: "
        "kept open)",
        f"  escalations             {totals.escalations}",
        f"  closed unresolved       {totals.unresolved}",
        f"  still open at the end   {totals.open_at_end}",
    ]
    if totals.late:
        lines.append(f"  late signals            {totals.late}")
    lines += [
        "",
        "Pages (SNS deliveries):",
        table(
            ["", *SEVERITIES, "total"],
            [
                [
                    f"  {label}",
                    *(counts.get(sev, 0) for sev in SEVERITIES),
                    sum(counts.values()),
                ]
                for label, counts in (
                    ("response pages", pages.response),
                    ("upgrade pages", pages.upgrades),
                    ("escalation pages", pages.escalations),
                )
            ],
        ),
        "  per topic: "
        + ", ".join(f"{topic} {count}" for topic, count in pages.by_topic.items())
        + f"; {pages.postmortem_notices} postmortem notices on the team topic (not pages)",
        "  people paged on their own channels: "
        + (
            ", ".join(f"{contact} {count}" for contact, count in pages.people.items())
            if pages.people
            else "none (no response plan with an escalation plan applied)"
        ),
        "",
        f"Incidents ({len(report.incidents)}):",
        table(
            [
                "id",
                "opened",
                "severity",
                "alarms",
                "signals",
                "folded",
                "joined",
                "reopened",
                "flaps",
                "escalations",
                "pages",
                "status",
            ],
            [
                [
                    row.incident_id,
                    row.opened_at,
                    row.severity,
                    _alarms_cell(row.alarms),
                    row.signals,
                    row.folded,
                    row.joined,
                    row.reopened,
                    row.flaps,
                    row.escalations,
                    row.pages,
                    row.status,
                ]
                for row in report.incidents
            ],
        ),
    ]
    if report.running_at_end:
        lines.append(f"{report.running_at_end} workflows were still running at the end.")
    if report.notes:
        lines += ["", "Notes:", *(f"  - {note}" for note in report.notes)]
    return "\n".join(lines)
