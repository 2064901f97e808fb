"""What the correlation rules imply for an alarm history, worked out by hand (for
test_replay.py): an independent reading of docs/ingest.md ("Correlation") and the README's
workflow, with none of the runbook's code, to hold `runbook replay`'s counts against.

The rules, in history time:
- ALARM of an alarm whose incident is open (also while it recovers): it joins. Of an alarm
  whose incident closed: within the reopen window it reopens it (a new run, a new page),
  later it is a new signal. A new signal folds into an open incident holding one of its
  resources whose last signal is within the correlation window; otherwise it opens an
  incident (which then holds the alarm and its resources).
- OK of the last of an incident's alarms still firing: recovery starts; after the
  stabilisation wait the incident closes (at the OK's time) unless one of its alarms fires
  again (a flap: it waits again).
- Every run pages once at its severity; each recovery wait that runs out pages the escalation
  topic, and the one past maxEscalations closes the incident unresolved.
- Severity: the `Severity` tag, else the first matching name pattern, else the namespace's,
  else the default.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

SEVERITIES = ("critical", "high", "standard")


@dataclass(frozen=True)
class Rules:
    correlation: timedelta
    reopen: timedelta
    stabilisation: timedelta
    recovery_timeout: timedelta
    max_escalations: int
    fold_by_resource: bool
    patterns: list[tuple[str, str]]
    namespace_severity: dict[str, str]
    default_severity: str

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> Rules:
        return cls(
            correlation=timedelta(minutes=settings["correlationWindowMinutes"]),
            reopen=timedelta(minutes=settings["reopenWindowMinutes"]),
            stabilisation=timedelta(seconds=settings["stabilisationSeconds"]),
            recovery_timeout=timedelta(seconds=settings["recoveryTimeoutSeconds"]),
            max_escalations=settings["maxEscalations"],
            fold_by_resource=settings["foldByResource"],
            patterns=[(p["pattern"], p["severity"]) for p in settings["severityPatterns"]],
            namespace_severity=dict(settings["namespaceSeverity"]),
            default_severity=settings["defaultSeverity"],
        )


@dataclass
class Change:
    at: datetime
    alarm: str
    state: str


@dataclass
class Alarm:
    name: str
    namespace: str
    resources: frozenset[tuple[str, str]]
    tags: dict[str, str]


@dataclass
class ModelIncident:
    opened_at: datetime
    severity: str
    alarms: set[str]
    last_signal: datetime
    status: str = "waiting"  # waiting | recovering | closed | unresolved
    wait_started: datetime | None = None
    recovering_since: datetime | None = None
    check_at: datetime | None = None
    closed_at: datetime | None = None
    timeouts: int = 0  # in the current run
    reopened: int = 0
    flaps: int = 0
    folded: int = 0
    joined: int = 0
    escalations: list[str] = field(default_factory=list)  # severities paged
    runs: int = 1
    closed_runs: int = 0

    @property
    def is_open(self) -> bool:
        return self.status in ("waiting", "recovering")


def read_history(path: Path) -> tuple[list[Change], dict[str, Alarm]]:
    responses = json.loads(path.read_text())
    changes: list[Change] = []
    configs: dict[str, dict[str, Any]] = {}
    tags: dict[str, dict[str, str]] = {}
    for response in responses:
        for item in response.get("AlarmHistoryItems", []):
            data = json.loads(item["HistoryData"])
            changes.append(
                Change(
                    at=datetime.fromisoformat(item["Timestamp"]),
                    alarm=item["AlarmName"],
                    state=data["newState"]["stateValue"],
                )
            )
        for alarm in response.get("MetricAlarms", []):
            configs[alarm["AlarmName"]] = alarm
        if "ResourceARN" in response:
            name = response["ResourceARN"].split(":alarm:", 1)[1]
            tags[name] = {t["Key"]: t["Value"] for t in response["Tags"]}
    alarms = {
        name: Alarm(
            name=name,
            namespace=config["Namespace"],
            resources=frozenset((d["Name"], d["Value"]) for d in config["Dimensions"]),
            tags=tags.get(name, {}),
        )
        for name, config in configs.items()
    }
    changes.sort(key=lambda change: change.at)
    return changes, alarms


def severity(alarm: Alarm, rules: Rules) -> str:
    tagged = alarm.tags.get("Severity", "").lower()
    if tagged in SEVERITIES:
        return tagged
    for pattern, decided in rules.patterns:
        if re.search(pattern, alarm.name):
            return decided
    return rules.namespace_severity.get(alarm.namespace, rules.default_severity)


class Model:
    def __init__(self, rules: Rules, alarms: dict[str, Alarm]) -> None:
        self.rules = rules
        self.alarms = alarms
        self.incidents: list[ModelIncident] = []
        self.key: dict[str, ModelIncident] = {}  # alarm -> the incident its key names
        self.resource: dict[tuple[str, str], ModelIncident] = {}
        self.state: dict[str, str] = {}

    # -- timers: stability checks and recovery waits that run out -----------------------------
    def _next_timer(self) -> tuple[datetime, ModelIncident, str] | None:
        due: list[tuple[datetime, ModelIncident, str]] = []
        for incident in self.incidents:
            if incident.status == "recovering" and incident.check_at:
                due.append((incident.check_at, incident, "check"))
            if incident.status == "waiting" and incident.wait_started:
                due.append(
                    (incident.wait_started + self.rules.recovery_timeout, incident, "timeout")
                )
        return min(due, key=lambda entry: entry[0]) if due else None

    def _run_timers(self, until: datetime) -> None:
        while (timer := self._next_timer()) and timer[0] <= until:
            at, incident, kind = timer
            if kind == "check":
                if any(self.state.get(a) == "ALARM" for a in incident.alarms):
                    incident.flaps += 1
                    incident.status, incident.wait_started = "waiting", at
                else:
                    incident.status, incident.closed_at = "closed", incident.recovering_since
                    incident.closed_runs += 1
            else:
                incident.timeouts += 1
                incident.escalations.append(incident.severity)
                if incident.timeouts > self.rules.max_escalations:
                    incident.status, incident.closed_at = "unresolved", at
                    incident.closed_runs += 1
                else:
                    incident.wait_started = at

    # -- changes -------------------------------------------------------------------------------
    def apply(self, change: Change) -> None:
        self._run_timers(change.at)
        self.state[change.alarm] = change.state
        if change.state == "ALARM":
            self._alarm(change.alarm, change.at)
        elif change.state == "OK":
            self._ok(change.alarm, change.at)

    def _alarm(self, name: str, at: datetime) -> None:
        alarm = self.alarms[name]
        held = self.key.get(name)
        if held is not None and held.is_open:
            self._join(held, name, at)
            held.joined += 1
            return
        if held is not None and held.closed_at is not None:
            since = at - held.closed_at
            if timedelta(0) <= since <= self.rules.reopen:
                held.status, held.wait_started, held.timeouts = "waiting", at, 0
                held.reopened += 1
                held.runs += 1
                held.last_signal = max(held.last_signal, at)
                return
        if self.rules.fold_by_resource:
            for resource in sorted(alarm.resources):
                target = self.resource.get(resource)
                if (
                    target is not None
                    and target.is_open
                    and abs(at - target.last_signal) <= self.rules.correlation
                ):
                    self.key[name] = target
                    target.alarms.add(name)
                    self._join(target, name, at)
                    target.folded += 1
                    return
        incident = ModelIncident(
            opened_at=at,
            severity=severity(alarm, self.rules),
            alarms={name},
            last_signal=at,
            wait_started=at,
        )
        self.incidents.append(incident)
        self.key[name] = incident
        for resource in alarm.resources:
            self.resource[resource] = incident

    def _join(self, incident: ModelIncident, name: str, at: datetime) -> None:
        joining = severity(self.alarms[name], self.rules)
        if SEVERITIES.index(joining) < SEVERITIES.index(incident.severity):
            raise ValueError(f"{name} at {at} would upgrade an incident: keep the fixture simple")
        incident.last_signal = max(incident.last_signal, at)

    def _ok(self, name: str, at: datetime) -> None:
        incident = self.key.get(name)
        if incident is None or incident.status != "waiting":
            return
        if any(self.state.get(a) == "ALARM" for a in incident.alarms):
            return
        incident.status, incident.recovering_since = "recovering", at
        incident.check_at = at + self.rules.stabilisation

    def finish(self, at: datetime) -> None:
        self._run_timers(at)


def expected(
    history: Path,
    settings: dict[str, Any],
    alarm_pattern: str | None = None,
    to: datetime | None = None,
) -> dict[str, Any]:
    """The counts `runbook replay --json` reports, as the rules imply them."""
    changes, alarms = read_history(history)
    if alarm_pattern:
        changes = [c for c in changes if re.search(alarm_pattern, c.alarm)]
    if to is not None:
        changes = [c for c in changes if c.at <= to]
    model = Model(Rules.from_settings(settings), alarms)
    for change in changes:
        model.apply(change)
    model.finish(to or changes[-1].at + timedelta(days=1))
    incidents = model.incidents
    response: Counter[str] = Counter()
    escalations: Counter[str] = Counter()
    by_severity: Counter[str] = Counter()
    for incident in incidents:
        by_severity[incident.severity] += 1
        response[incident.severity] += incident.runs
        escalations.update(incident.escalations)
    return {
        "totals": {
            "incidents": len(incidents),
            "by_severity": {s: by_severity[s] for s in SEVERITIES},
            "reopened": sum(i.reopened for i in incidents),
            "storms": sum(1 for i in incidents if i.folded),
            "folded": sum(i.folded for i in incidents),
            "joined": sum(i.joined for i in incidents),
            "flaps": sum(i.flaps for i in incidents),
            "escalations": sum(len(i.escalations) for i in incidents),
            "unresolved": sum(1 for i in incidents if i.status == "unresolved"),
            "open_at_end": sum(1 for i in incidents if i.is_open),
            "late": 0,
        },
        "pages": {
            "response": {s: response[s] for s in SEVERITIES},
            "escalations": {s: escalations[s] for s in SEVERITIES},
            "postmortem_notices": sum(i.closed_runs for i in incidents),
        },
        "incidents": sorted(
            (
                tuple(sorted(i.alarms)),
                i.severity,
                i.reopened,
                i.flaps,
                len(i.escalations),
                i.folded,
                i.joined,
            )
            for i in incidents
        ),
    }
