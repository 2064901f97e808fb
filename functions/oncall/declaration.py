"""The compiled response declaration: what `stacks/response_file.py` makes of
`incident-response.yaml` at synth and what the Lambda steps load (docs/oncall.md).

snake_case, frozen msgspec records, every default already applied (a contact's engagement, a
rotation's time zone): the steps never re-read the file's rules. `decode_config` still checks
that every reference resolves, so a hand-edited or truncated config fails at cold start with
the field named, not at 3 a.m. in the middle of an escalation.
"""

from __future__ import annotations

import re
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from shared.records import problem

ChannelType = Literal["sms", "email", "slack"]
CHANNEL_TYPES: tuple[str, ...] = ("sms", "email", "slack")
SEVERITIES: tuple[str, ...] = ("critical", "high", "standard")
DAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_PLAN_ID = "default"

# The value rules of docs/oncall.md, shared by the file loader and `problems`.
ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
E164 = re.compile(r"\+\d{7,15}")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
SLACK_USER = re.compile(r"[UW][A-Z0-9]{2,}")
TIME_OF_DAY = re.compile(r"(?:[01]\d|2[0-3]):[0-5]\d|24:00")
LOCAL_START = re.compile(r"\d{4}-\d{2}-\d{2}T(?:[01]\d|2[0-3]):[0-5]\d")
SHIFT = re.compile(r"daily|weekly|[1-9]\d*[hdw]")


class DeclarationError(ValueError):
    """The compiled declaration is not usable; `problems` names every field at fault."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        listed = "; ".join(problems[:10])
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        super().__init__(f"response declaration: {listed}{more}")


class UnknownName(LookupError):
    """A lookup by id or name found nothing; the message says what was asked of whom."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class _Record(msgspec.Struct, frozen=True, kw_only=True):
    pass


class Channel(_Record, frozen=True):
    """One way to reach a person: `address` is E.164, an email address or a Slack user id."""

    name: str
    type: ChannelType
    address: str


class EngagementStep(_Record, frozen=True):
    """Page `channel` this long after the contact is engaged."""

    channel: str
    after_seconds: int


class Contact(_Record, frozen=True):
    """A person. Without an engagement plan every channel is paged at once, in listed order."""

    id: str
    name: str
    channels: tuple[Channel, ...]
    engagement: tuple[EngagementStep, ...] = ()

    def __post_init__(self) -> None:
        if not self.engagement:
            default = tuple(EngagementStep(channel=c.name, after_seconds=0) for c in self.channels)
            msgspec.structs.force_setattr(self, "engagement", default)

    def channel(self, name: str) -> Channel:
        for channel in self.channels:
            if channel.name == name:
                return channel
        known = ", ".join(c.name for c in self.channels)
        raise UnknownName(f"contact {self.id} has no channel {name!r} (known: {known})")


class WorkingWindow(_Record, frozen=True):
    """Local `start`-`end` ("HH:MM", end may be "24:00") on each of `days` (mon..sun)."""

    days: tuple[str, ...]
    start: str
    end: str


class Rotation(_Record, frozen=True):
    """Participants taking shifts in turn from `start` (local wall-clock "YYYY-MM-DDTHH:MM")."""

    id: str
    name: str
    timezone: str
    participants: tuple[str, ...]
    start: str
    shift: str  # daily | weekly | <N>h | <N>d | <N>w
    on_call: int = 1
    working_hours: tuple[WorkingWindow, ...] = ()


class Target(_Record, frozen=True):
    """Exactly one of a contact or a rotation (whoever is on call when the stage begins)."""

    contact: str | None = None
    rotation: str | None = None


class Stage(_Record, frozen=True):
    duration_seconds: int
    targets: tuple[Target, ...]


class EscalationPlan(_Record, frozen=True):
    id: str
    stages: tuple[Stage, ...]


class Match(_Record, frozen=True):
    """Every condition given must hold; empty/None means any."""

    severity: tuple[str, ...] = ()
    alarm_name: str | None = None  # regular expression, searched
    resource: str | None = None  # regular expression, searched in "TYPE=ID"


class ResponsePlan(_Record, frozen=True):
    """`match` None: the default plan. `escalation_plan` None: page nobody in person."""

    id: str
    match: Match | None = None
    escalation_plan: str | None = None
    slack_responders: tuple[str, ...] = ()
    severity: str | None = None


class ResponseConfig(_Record, frozen=True):
    version: int = 1
    timezone: str = "UTC"
    contacts: dict[str, Contact] = msgspec.field(default_factory=dict)
    rotations: dict[str, Rotation] = msgspec.field(default_factory=dict)
    escalation_plans: dict[str, EscalationPlan] = msgspec.field(default_factory=dict)
    response_plans: tuple[ResponsePlan, ...] = ()

    @property
    def default_plan(self) -> ResponsePlan:
        """The plan without `match` (a config without one behaves as `default_config`'s)."""
        for plan in self.response_plans:
            if plan.match is None:
                return plan
        return ResponsePlan(id=DEFAULT_PLAN_ID)

    def contact(self, contact_id: str) -> Contact:
        try:
            return self.contacts[contact_id]
        except KeyError:
            raise UnknownName(f"no contact {contact_id!r} in the declaration") from None

    def rotation(self, rotation_id: str) -> Rotation:
        try:
            return self.rotations[rotation_id]
        except KeyError:
            raise UnknownName(f"no rotation {rotation_id!r} in the declaration") from None

    def escalation_plan(self, plan_id: str) -> EscalationPlan:
        try:
            return self.escalation_plans[plan_id]
        except KeyError:
            raise UnknownName(f"no escalation plan {plan_id!r} in the declaration") from None

    def response_plan(self, plan_id: str) -> ResponsePlan:
        for plan in self.response_plans:
            if plan.id == plan_id:
                return plan
        raise UnknownName(f"no response plan {plan_id!r} in the declaration")


def default_config(timezone: str = "UTC") -> ResponseConfig:
    """No people, one default plan without escalation: incidents page the severity topics
    only, as before on-call was declared."""
    return ResponseConfig(timezone=timezone, response_plans=(ResponsePlan(id=DEFAULT_PLAN_ID),))


def is_zone(name: object) -> bool:
    """An IANA time zone name this runtime knows (tzdata ships in the asset)."""
    if not isinstance(name, str) or not name:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _contact_problems(key: str, contact: Contact) -> list[str]:
    where = f"contacts.{key}"
    out = [] if contact.id == key else [f"{where}.id: {contact.id!r} is not its key"]
    names = [c.name for c in contact.channels]
    if not names:
        out.append(f"{where}.channels: no channel")
    if len(set(names)) != len(names):
        out.append(f"{where}.channels: channel names not unique")
    last = 0
    for n, step in enumerate(contact.engagement):
        if step.channel not in names:
            out.append(f"{where}.engagement[{n}].channel: unknown channel {step.channel!r}")
        if step.after_seconds < last:
            out.append(f"{where}.engagement[{n}].after_seconds: offsets decrease")
        last = max(last, step.after_seconds)
    return out


def _rotation_problems(key: str, rotation: Rotation, contacts: dict[str, Contact]) -> list[str]:
    where = f"rotations.{key}"
    out = [] if rotation.id == key else [f"{where}.id: {rotation.id!r} is not its key"]
    if not rotation.participants:
        out.append(f"{where}.participants: none")
    out += [
        f"{where}.participants[{n}]: unknown contact {p!r}"
        for n, p in enumerate(rotation.participants)
        if p not in contacts
    ]
    if not is_zone(rotation.timezone):
        out.append(f"{where}.timezone: unknown time zone {rotation.timezone!r}")
    if not LOCAL_START.fullmatch(rotation.start):
        out.append(f"{where}.start: {rotation.start!r} is not YYYY-MM-DDTHH:MM")
    if not SHIFT.fullmatch(rotation.shift):
        out.append(f"{where}.shift: {rotation.shift!r} is not daily, weekly, <N>h, <N>d or <N>w")
    if rotation.on_call < 1:
        out.append(f"{where}.on_call: at least 1")
    for n, window in enumerate(rotation.working_hours):
        at = f"{where}.working_hours[{n}]"
        if not window.days or any(d not in DAYS for d in window.days):
            out.append(f"{at}.days: {list(window.days)!r}")
        ok = all(TIME_OF_DAY.fullmatch(t) for t in (window.start, window.end))
        if not ok or window.start == "24:00" or window.end <= window.start:
            out.append(f"{at}: {window.start}-{window.end} is not a window within a day")
    return out


def problems(config: ResponseConfig) -> list[str]:
    """Every reference that does not resolve and every value the arithmetic cannot use."""
    out: list[str] = []
    if not is_zone(config.timezone):
        out.append(f"timezone: unknown time zone {config.timezone!r}")
    for key, contact in config.contacts.items():
        out += _contact_problems(key, contact)
    for key, rotation in config.rotations.items():
        out += _rotation_problems(key, rotation, config.contacts)
    for key, escalation in config.escalation_plans.items():
        where = f"escalation_plans.{key}"
        if escalation.id != key:
            out.append(f"{where}.id: {escalation.id!r} is not its key")
        if not escalation.stages:
            out.append(f"{where}.stages: none")
        for n, stage in enumerate(escalation.stages):
            at = f"{where}.stages[{n}]"
            if stage.duration_seconds < 1:
                out.append(f"{at}.duration_seconds: at least 1")
            if not stage.targets:
                out.append(f"{at}.targets: none")
            for t, target in enumerate(stage.targets):
                if (target.contact is None) == (target.rotation is None):
                    out.append(f"{at}.targets[{t}]: exactly one of contact, rotation")
                elif target.contact is not None and target.contact not in config.contacts:
                    out.append(f"{at}.targets[{t}].contact: unknown contact {target.contact!r}")
                elif target.rotation is not None and target.rotation not in config.rotations:
                    out.append(f"{at}.targets[{t}].rotation: unknown rotation {target.rotation!r}")
    ids = [plan.id for plan in config.response_plans]
    if len(set(ids)) != len(ids):
        out.append("response_plans: ids not unique")
    for n, plan in enumerate(config.response_plans):
        if plan.escalation_plan is not None and plan.escalation_plan not in config.escalation_plans:
            out.append(
                f"response_plans[{n}].escalation_plan: unknown escalation plan "
                f"{plan.escalation_plan!r}"
            )
        if plan.severity is not None and plan.severity not in SEVERITIES:
            out.append(f"response_plans[{n}].severity: {plan.severity!r}")
        if plan.match is not None:
            for field in ("alarm_name", "resource"):
                pattern = getattr(plan.match, field)
                if pattern is None:
                    continue
                try:
                    re.compile(pattern)
                except re.error as exc:
                    out.append(
                        f"response_plans[{n}].match.{field}: not a regular expression: {exc}"
                    )
    defaults = sum(1 for plan in config.response_plans if plan.match is None)
    if defaults > 1:
        out.append(f"response_plans: {defaults} plans without match (one default)")
    return out


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(ResponseConfig)


def encode_config(config: ResponseConfig) -> bytes:
    """JSON for the functions (a file in the asset or an environment variable)."""
    return _ENCODER.encode(config)


def decode_config(raw: bytes | str) -> ResponseConfig:
    """The functions' side of `encode_config`; DeclarationError naming the field at fault."""
    try:
        config = _DECODER.decode(raw)
    except msgspec.ValidationError as exc:
        raise DeclarationError([problem(exc)]) from None
    except msgspec.DecodeError as exc:
        raise DeclarationError([f"not JSON: {exc}"]) from None
    found = problems(config)
    if found:
        raise DeclarationError(found)
    return config
