"""The response declaration file (`incident-response.yaml`, docs/oncall.md) read at synth:
validated in one pass, every mistake named by file, line and field, then compiled into the
records the Lambda steps load (functions/oncall/declaration.py) and the `remediation`
section's LoadedSection (functions/remediation/rules.py).

The YAML is composed into nodes first, so each value keeps the line it was written on; a
problem is reported at the line of the deepest field of its path that the file has (a missing
key at its parent). Values that a YAML 1.1 reader retypes behind the writer's back
(`18:00` is the number 1080, `+447700900001` a number, `on` true) are named with the quoting
that fixes them. The file's keys are camelCase; the compiled form is snake_case.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import yaml

from oncall.declaration import (
    CHANNEL_TYPES,
    DAYS,
    DEFAULT_PLAN_ID,
    E164,
    EMAIL,
    ID,
    LOCAL_START,
    SEVERITIES,
    SHIFT,
    SLACK_USER,
    TIME_OF_DAY,
    Channel,
    Contact,
    EngagementStep,
    EscalationPlan,
    Match,
    ResponseConfig,
    ResponsePlan,
    Rotation,
    Stage,
    Target,
    WorkingWindow,
    is_zone,
)
from oncall.declaration import (
    problems as config_problems,
)
from oncall.durations import parse_duration
from remediation.documents import file_reader
from remediation.problems import Problem, under
from remediation.rules import LoadedSection, check_section

TOP = (
    "version",
    "timezone",
    "contacts",
    "rotations",
    "escalationPlans",
    "responsePlans",
    "remediation",
)
CONTACT = ("name", "channels", "engagement")
CHANNEL = ("name", "type", "address")
STEP = ("channel", "after")
ROTATION = ("name", "timezone", "participants", "start", "shift", "onCall", "workingHours")
WINDOW = ("days", "start", "end")
PLAN = ("stages",)
STAGE = ("duration", "targets")
TARGET = ("contact", "rotation")
RESPONSE = ("id", "match", "escalationPlan", "slackResponders", "severity")
MATCH = ("severity", "alarmName", "resource")
_ID_RULE = "[a-z0-9][a-z0-9_-]{0,62}"
_YAML_BOOL = "YAML reads on/off/yes/no/true/false unquoted as true/false: quote it"


class ResponseFileError(ValueError):
    """The file has mistakes; `problems` lists every one, `file:line: field: what`."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class LoadedResponse(msgspec.Struct, frozen=True, kw_only=True):
    """What synth gets: the functions' config and the remediation section."""

    config: ResponseConfig
    remediation: LoadedSection


def _join(path: str, part: str | int) -> str:
    if isinstance(part, int):
        return f"{path}[{part}]"
    return f"{path}.{part}" if path else part


class _Problems:
    """Problems by field path; `lines` maps each path the file has to its line."""

    def __init__(self) -> None:
        self.found: list[tuple[str, str, int | None]] = []
        self.lines: dict[str, int] = {}

    def add(self, path: str, message: str, line: int | None = None) -> None:
        """A problem at `path` (at `line` when the path alone does not say where)."""
        self.found.append((path, message, line))

    def line(self, path: str) -> int:
        """The line of `path`, else of its nearest ancestor the file has."""
        while path:
            if path in self.lines:
                return self.lines[path]
            cut = max(path.rfind("."), path.rfind("["))
            path = path[:cut] if cut > 0 else ""
        return self.lines.get("", 1)

    def lines_of(self, name: str) -> list[str]:
        placed = [(line or self.line(path), path, message) for path, message, line in self.found]
        placed.sort(key=lambda item: item[0])  # stable: the order found within a line
        return [
            f"{name}:{line}: {path}: {message}" if path else f"{name}:{line}: {message}"
            for line, path, message in placed
        ]


# ---- YAML with lines ----------------------------------------------------------------------


def _construct(node: yaml.Node, path: str, loader: yaml.SafeLoader, out: _Problems) -> Any:
    out.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        mapping: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                out.add(path, "a key must be text", line)
                continue
            key = loader.construct_object(key_node)
            where = _join(path, str(key))
            if key in mapping:
                out.add(where, "given twice (YAML would keep only the last)", line)
            out.lines[where] = line
            mapping[key] = _construct(value_node, where, loader, out)
        return mapping
    if isinstance(node, yaml.SequenceNode):
        return [_construct(item, _join(path, n), loader, out) for n, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def _parse(text: str, out: _Problems) -> Any:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            out.add("", "the file is empty (see docs/oncall.md for its form)")
            return None
        return _construct(node, "", loader, out)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        out.add("", f"not valid YAML: {exc.problem or exc}", mark.line + 1 if mark else 1)
        return None
    finally:
        loader.dispose()


# ---- values -------------------------------------------------------------------------------
# Each check takes (problems, value, path) and returns the value, or None having said why.

T = TypeVar("T")


def _shown(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def _text(out: _Problems, value: Any, path: str, what: str = "text") -> str | None:
    if isinstance(value, str) and value.strip():
        return value
    hint = f": {_YAML_BOOL}" if isinstance(value, bool) else ""
    out.add(path, f"expected {what}, got {_shown(value)}{hint}")
    return None


def _an_id(out: _Problems, value: Any, path: str, what: str) -> str | None:
    if isinstance(value, str) and ID.fullmatch(value):
        return value
    hint = _YAML_BOOL if isinstance(value, bool) else _ID_RULE
    out.add(path, f"{_shown(value)} is not {what} ({hint})")
    return None


def _reference(
    out: _Problems, value: Any, path: str, known: Mapping[Any, Any], what: str
) -> str | None:
    if isinstance(value, str) and value in known:
        return value
    if isinstance(value, bool):
        out.add(path, f"{value!r} is not a {what} id: {_YAML_BOOL}")
    else:
        listed = ", ".join(sorted(str(k) for k in known)) or "none declared"
        out.add(path, f"unknown {what} {_shown(value)} (known: {listed})")
    return None


def _duration(out: _Problems, value: Any, path: str, minimum: int) -> int | None:
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        out.add(path, str(exc))
        return None
    if seconds < minimum:
        out.add(path, f"{value!r}: at least {minimum} second")
        return None
    return seconds


def _time_of_day(out: _Problems, value: Any, path: str) -> str | None:
    if isinstance(value, str) and TIME_OF_DAY.fullmatch(value):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 24 * 60:
        hours, minutes = divmod(value, 60)  # YAML 1.1 reads 18:00 as 1080 (base 60)
        out.add(path, f'{value} is not a time of day: quote it ("{hours:02d}:{minutes:02d}")')
    else:
        out.add(path, f'{_shown(value)} is not a time of day "HH:MM" (24 h, end may be "24:00")')
    return None


def _zone(out: _Problems, value: Any, path: str) -> str | None:
    if is_zone(value):
        return str(value)
    out.add(path, f"{_shown(value)} is not an IANA time zone (Europe/London, UTC)")
    return None


def _local_start(out: _Problems, value: Any, path: str) -> str | None:
    if isinstance(value, str) and LOCAL_START.fullmatch(value):
        try:
            datetime.strptime(value, "%Y-%m-%dT%H:%M")
        except ValueError:
            out.add(path, f"{value!r} is not a date")
            return None
        return value
    if isinstance(value, datetime | date):  # YAML read a timestamp (seconds, a zone)
        out.add(path, f'{value}: give local wall-clock time, quoted: "YYYY-MM-DDTHH:MM"')
    else:
        out.add(path, f'{_shown(value)} is not local wall-clock time "YYYY-MM-DDTHH:MM"')
    return None


def _shift(out: _Problems, value: Any, path: str) -> str | None:
    if isinstance(value, str) and SHIFT.fullmatch(value):
        return value
    out.add(path, f"{_shown(value)} (known: daily, weekly, <N>h, <N>d, <N>w, e.g. 12h)")
    return None


def _one_of(out: _Problems, value: Any, path: str, known: tuple[str, ...]) -> str | None:
    if isinstance(value, str) and value in known:
        return value
    out.add(path, f"{_shown(value)} (known: {', '.join(known)})")
    return None


def _pattern(out: _Problems, value: Any, path: str) -> str | None:
    text = _text(out, value, path, "a regular expression")
    if text is None:
        return None
    try:
        re.compile(text)
    except re.error as exc:
        out.add(path, f"not a regular expression: {exc}")
        return None
    return text


def _slack_user(out: _Problems, value: Any, path: str) -> str | None:
    if isinstance(value, str) and SLACK_USER.fullmatch(value):
        return value
    out.add(path, f"{_shown(value)}: not a Slack user id (U... or W...)")
    return None


def _address(out: _Problems, value: Any, path: str, kind: str) -> str | None:
    if kind == "sms":
        if isinstance(value, str) and E164.fullmatch(value):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            out.add(path, f'{value} is a number to YAML: quote it ("+{value}")')
        else:
            out.add(path, f"{_shown(value)}: not E.164 (+ and 7 to 15 digits)")
    elif kind == "email":
        if isinstance(value, str) and EMAIL.fullmatch(value):
            return value
        out.add(path, f"{_shown(value)}: not an email address")
    else:
        return _slack_user(out, value, path)
    return None


class _Entry:
    """One mapping of the file at `path`: unknown and missing keys are reported when it is
    made; `read` checks one value if it is there."""

    def __init__(
        self,
        out: _Problems,
        value: Any,
        path: str,
        allowed: tuple[str, ...],
        required: tuple[str, ...] = (),
        what: str = "a mapping",
    ) -> None:
        self.out, self.path = out, path
        self.data: dict[Any, Any] = value if isinstance(value, dict) else {}
        if not isinstance(value, dict):
            out.add(path, f"expected {what}, got {_shown(value)}")
            return
        for key in value:
            if key not in allowed:
                out.add(self.at(str(key)), f"unknown key (known: {', '.join(allowed)})")
        for key in required:
            if key not in value:
                out.add(self.at(key), "required")

    def __contains__(self, key: str) -> bool:
        return key in self.data

    def at(self, key: str) -> str:
        return _join(self.path, key)

    def read(
        self, key: str, check: Callable[..., T | None], *args: Any, default: T | None = None
    ) -> T | None:
        if key not in self.data:
            return default
        return check(self.out, self.data[key], self.at(key), *args)

    def items(self, key: str, what: str, empty: str) -> list[tuple[str, Any]]:
        """(path, item) of the list under `key`; an empty list is the problem `empty`."""
        if key not in self.data:
            return []
        value = self.data[key]
        if not isinstance(value, list):
            self.out.add(self.at(key), f"expected {what}, got {_shown(value)}")
            return []
        if not value:
            self.out.add(self.at(key), empty)
        return [(_join(self.at(key), n), item) for n, item in enumerate(value)]


def _section(out: _Problems, document: dict[Any, Any], key: str) -> dict[Any, Any]:
    value = document.get(key, {})
    if isinstance(value, dict):
        return value
    out.add(key, f"expected a mapping of id to entry, got {_shown(value)}")
    return {}


# ---- sections -----------------------------------------------------------------------------


def _channel(out: _Problems, raw: Any, path: str) -> Channel | None:
    entry = _Entry(out, raw, path, CHANNEL, ("type", "address"), "a channel {name, type, address}")
    kind = entry.read("type", _one_of, CHANNEL_TYPES)
    name = entry.read("name", _text, default=kind)
    address = entry.read("address", _address, kind) if kind else None
    if kind is None or name is None or address is None:
        return None
    return Channel(name=name, type=kind, address=address)  # type: ignore[arg-type]


def _engagement(
    out: _Problems, entry: _Entry, names: list[str]
) -> tuple[EngagementStep, ...] | None:
    before = len(out.found)
    steps: list[EngagementStep] = []
    last = 0
    items = entry.items(
        "engagement", "a list of {channel, after}", "empty: leave it out to page every channel"
    )
    for path, item in items:
        step = _Entry(out, item, path, STEP, STEP, "{channel, after}")
        channel = step.read("channel", _reference, dict.fromkeys(names), "channel")
        after = step.read("after", _duration, 0)
        if channel is not None and any(s.channel == channel for s in steps):
            out.add(step.at("channel"), f"{channel} is engaged twice")
        elif after is not None and after < last:
            out.add(step.at("after"), f"{step.data['after']!r}: offsets must not decrease")
        elif channel is not None and after is not None:
            steps.append(EngagementStep(channel=channel, after_seconds=after))
            last = after
    return tuple(steps) if len(out.found) == before else None


def _contacts(out: _Problems, raw: dict[Any, Any]) -> dict[str, Contact]:
    contacts: dict[str, Contact] = {}
    for key, value in raw.items():
        before = len(out.found)
        where = _join("contacts", str(key))
        cid = _an_id(out, key, where, "a contact id")
        entry = _Entry(out, value, where, CONTACT, ("channels",), "a contact {name, channels}")
        name = entry.read("name", _text, default=cid)
        items = entry.items("channels", "a list of channels", "no channel: nobody to page")
        channels = [_channel(out, item, path) for path, item in items]
        written: list[str] = []  # as written, so a faulty channel still has its name
        for path, item in items:
            if not isinstance(item, dict):
                continue
            channel_name = str(item.get("name", item.get("type")))
            if channel_name in written:
                where_name = _join(path, "name") if "name" in item else path
                out.add(where_name, f"{channel_name} is the name of another channel")
            written.append(channel_name)
        engagement = _engagement(out, entry, written) if "engagement" in entry else ()
        if len(out.found) > before or cid is None or name is None or engagement is None:
            continue
        contacts[cid] = Contact(
            id=cid,
            name=name,
            channels=tuple(c for c in channels if c is not None),
            engagement=engagement,
        )
    return contacts


def _window(out: _Problems, raw: Any, path: str) -> WorkingWindow | None:
    before = len(out.found)
    entry = _Entry(out, raw, path, WINDOW, WINDOW, "a window {days, start, end}")
    days: list[str] = []
    for at, day in entry.items("days", "a list of days (mon ... sun)", "no day"):
        found = _one_of(out, day, at, DAYS)
        if found in days:
            out.add(at, f"{found} given twice")
        elif found is not None:
            days.append(found)
    start = entry.read("start", _time_of_day)
    end = entry.read("end", _time_of_day)
    if start == "24:00":
        out.add(entry.at("start"), '"24:00" ends a day: a window starts before it')
    elif start is not None and end is not None and end <= start:
        out.add(entry.at("end"), f"{end} is not after {start} (across midnight: two windows)")
    if len(out.found) > before or start is None or end is None:
        return None
    return WorkingWindow(days=tuple(d for d in DAYS if d in days), start=start, end=end)


def _rotations(
    out: _Problems, raw: dict[Any, Any], contacts: dict[Any, Any], zone: str
) -> dict[str, Rotation]:
    rotations: dict[str, Rotation] = {}
    required = ("participants", "start", "shift")
    for key, value in raw.items():
        before = len(out.found)
        where = _join("rotations", str(key))
        rid = _an_id(out, key, where, "a rotation id")
        entry = _Entry(out, value, where, ROTATION, required, "a rotation {participants, ...}")
        name = entry.read("name", _text, default=rid)
        own_zone = entry.read("timezone", _zone, default=zone)
        people = entry.items("participants", "a list of contact ids", "nobody: name a contact")
        participants = [_reference(out, person, at, contacts, "contact") for at, person in people]
        start = entry.read("start", _local_start)
        shift = entry.read("shift", _shift)
        on_call = entry.data.get("onCall", 1)
        if not isinstance(on_call, int) or isinstance(on_call, bool) or on_call < 1:
            out.add(entry.at("onCall"), f"{_shown(on_call)}: a whole number, at least 1")
        elif people and on_call > len(people):
            out.add(entry.at("onCall"), f"{on_call} on call at once of {len(people)} participants")
        windows = [
            _window(out, item, at)
            for at, item in entry.items(
                "workingHours", "a list of windows", "no window: leave it out to be always on call"
            )
        ]
        if len(out.found) > before or None in (rid, name, own_zone, start, shift):
            continue
        rotations[str(rid)] = Rotation(
            id=str(rid),
            name=str(name),
            timezone=str(own_zone),
            participants=tuple(str(p) for p in participants),
            start=str(start),
            shift=str(shift),
            on_call=on_call,
            working_hours=tuple(w for w in windows if w is not None),
        )
    return rotations


def _target(
    out: _Problems, raw: Any, path: str, contacts: dict[Any, Any], rotations: dict[Any, Any]
) -> Target | None:
    entry = _Entry(out, raw, path, TARGET, (), "a target {contact: ID} or {rotation: ID}")
    if entry.data and sum(k in entry for k in TARGET) != 1:
        out.add(path, "a target is one of contact, rotation")
        return None
    contact = entry.read("contact", _reference, contacts, "contact")
    rotation = entry.read("rotation", _reference, rotations, "rotation")
    if contact is None and rotation is None:
        return None
    return Target(contact=contact, rotation=rotation)


def _escalation_plans(
    out: _Problems, raw: dict[Any, Any], contacts: dict[Any, Any], rotations: dict[Any, Any]
) -> dict[str, EscalationPlan]:
    plans: dict[str, EscalationPlan] = {}
    for key, value in raw.items():
        before = len(out.found)
        where = _join("escalationPlans", str(key))
        pid = _an_id(out, key, where, "an escalation plan id")
        entry = _Entry(out, value, where, PLAN, PLAN, "an escalation plan {stages}")
        stages = []
        for at, item in entry.items("stages", "a list of stages", "no stage"):
            stage = _Entry(out, item, at, STAGE, STAGE, "a stage {duration, targets}")
            duration = stage.read("duration", _duration, 1)
            targets = [
                _target(out, target, target_at, contacts, rotations)
                for target_at, target in stage.items("targets", "a list of targets", "no target")
            ]
            if duration is not None:
                found = tuple(t for t in targets if t is not None)
                stages.append(Stage(duration_seconds=duration, targets=found))
        if len(out.found) == before and pid is not None:
            plans[pid] = EscalationPlan(id=pid, stages=tuple(stages))
    return plans


def _severities(out: _Problems, value: Any, path: str) -> tuple[str, ...] | None:
    listed = [value] if isinstance(value, str) else value
    if not isinstance(listed, list) or not listed:
        out.add(path, f"{_shown(value)}: a severity or a list of them (leave it out for any)")
        return None
    found = [_one_of(out, s, _join(path, n), SEVERITIES) for n, s in enumerate(listed)]
    return tuple(dict.fromkeys(s for s in found if s)) if None not in found else None


def _match(out: _Problems, raw: Any, path: str) -> Match | None:
    before = len(out.found)
    entry = _Entry(out, raw, path, MATCH, (), "a match {severity, alarmName, resource}")
    if isinstance(raw, dict) and not any(k in entry for k in MATCH):
        out.add(path, "give at least one condition (leave match out for the default plan)")
    severity = entry.read("severity", _severities)
    alarm = entry.read("alarmName", _pattern)
    resource = entry.read("resource", _pattern)
    if len(out.found) > before:
        return None
    return Match(severity=severity or (), alarm_name=alarm, resource=resource)


def _response_plans(
    out: _Problems, document: dict[Any, Any], plans: dict[Any, Any]
) -> tuple[ResponsePlan, ...]:
    if "responsePlans" not in document:
        return (ResponsePlan(id=DEFAULT_PLAN_ID),)
    raw = document["responsePlans"]
    if not isinstance(raw, list):
        out.add("responsePlans", f"expected a list of plans, got {_shown(raw)}")
        return ()
    found: list[ResponsePlan] = []
    ids: dict[str, str] = {}
    defaults: list[str] = []
    for n, item in enumerate(raw):
        before = len(out.found)
        where = _join("responsePlans", n)
        entry = _Entry(out, item, where, RESPONSE, ("id",), "a plan {id, match, ...}")
        pid = entry.read("id", _an_id, "a plan id")
        if pid is not None and pid in ids:
            out.add(entry.at("id"), f"{pid} is the id of {ids[pid]} too")
        elif pid is not None:
            ids[pid] = where
        match = entry.read("match", _match)
        if entry.data and "match" not in entry:
            defaults.append(where)
        escalation = entry.read("escalationPlan", _reference, plans, "escalation plan")
        responders = [
            _slack_user(out, user, at)
            for at, user in entry.items("slackResponders", "a list of Slack user ids", "empty")
        ]
        severity = entry.read("severity", _one_of, SEVERITIES)
        if len(out.found) > before or pid is None:
            continue
        found.append(
            ResponsePlan(
                id=pid,
                match=match,
                escalation_plan=escalation,
                slack_responders=tuple(dict.fromkeys(r for r in responders if r)),
                severity=severity,
            )
        )
    if not defaults:
        out.add("responsePlans", "no default: add a plan without match, for every other incident")
    for where in defaults[1:]:
        out.add(where, f"a second plan without match (the default is {defaults[0]})")
    return tuple(found)


# ---- the file -----------------------------------------------------------------------------
RemediationCheck = Callable[[Any], tuple[LoadedSection | None, list[Problem]]]


def _check(
    out: _Problems, data: Any, default_timezone: str, remediation: RemediationCheck
) -> LoadedResponse | None:
    top = _Entry(out, data, "", TOP, ("version",), "a mapping (version, contacts, ...)")
    if not top.data:
        return None
    document = top.data
    if "version" in document and document["version"] != 1:
        out.add("version", f"{_shown(document['version'])}: this runbook reads version 1")
    zone = top.read("timezone", _zone, default=default_timezone) or default_timezone
    contacts_raw = _section(out, document, "contacts")
    rotations_raw = _section(out, document, "rotations")
    plans_raw = _section(out, document, "escalationPlans")
    contacts = _contacts(out, contacts_raw)
    rotations = _rotations(out, rotations_raw, contacts_raw, zone)
    plans = _escalation_plans(out, plans_raw, contacts_raw, rotations_raw)
    responses = _response_plans(out, document, plans_raw)
    section, found = remediation(document.get("remediation"))
    for problem in under("remediation", found):
        out.add(problem.path, problem.message)
    if out.found or section is None:
        return None
    config = ResponseConfig(
        version=1,
        timezone=zone,
        contacts=contacts,
        rotations=rotations,
        escalation_plans=plans,
        response_plans=responses,
    )
    for mistake in config_problems(config):  # a loader bug if any: still never shipped
        out.add("", f"compiled declaration: {mistake}")
    return None if out.found else LoadedResponse(config=config, remediation=section)


def check_response_file(
    path: Path, *, prefix: str = "IncidentRunbook", default_timezone: str = "UTC"
) -> tuple[LoadedResponse | None, list[str]]:
    """The file compiled, or None with every problem (`name:line: field: what`)."""
    out = _Problems()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [f"{path.name}: cannot be read: {exc}"]
    data = _parse(text, out)
    loaded = None
    if not out.found:
        reader = file_reader(path.parent)
        loaded = _check(
            out, data, default_timezone, lambda section: check_section(section, reader, prefix)
        )
    return (loaded, []) if loaded is not None else (None, out.lines_of(path.name))


def load_response_file(
    path: Path, *, prefix: str = "IncidentRunbook", default_timezone: str = "UTC"
) -> LoadedResponse:
    """The file compiled; ResponseFileError listing every problem. `prefix` (the stack's
    name) names the team's SSM documents; `default_timezone` (the `timezone` setting) is the
    file's zone when it gives none."""
    loaded, problems = check_response_file(path, prefix=prefix, default_timezone=default_timezone)
    if loaded is None:
        raise ResponseFileError(problems)
    return loaded
