"""Structural checks of a response declaration file, written from docs/oncall.md (the contract)
independently of the loader (stacks/response_file.py, developed elsewhere): the importer's tests
run every file they produce through `problems()` and expect none.
"""

from __future__ import annotations

import re
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
DURATION = re.compile(r"^(?=\d)(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
SHIFT = re.compile(r"^(?:daily|weekly|[1-9]\d*[hdw])$")
START = re.compile(r"^\d{4}-\d{2}-\d{2}T(?:[01]\d|2[0-3]):[0-5]\d$")
TIME = re.compile(r"^(?:(?:[01]\d|2[0-3]):[0-5]\d|24:00)$")
E164 = re.compile(r"^\+\d{7,15}$")
SLACK_USER = re.compile(r"^[UW][A-Z0-9]+$")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SEVERITIES = {"critical", "high", "standard"}
TOP = {"version", "timezone", "contacts", "rotations", "escalationPlans", "responsePlans"}
CONTACT = {"name", "channels", "engagement"}
CHANNEL = {"name", "type", "address"}
ENGAGEMENT = {"channel", "after"}
ROTATION = {"name", "timezone", "participants", "start", "shift", "onCall", "workingHours"}
WINDOW = {"days", "start", "end"}
PLAN = {"stages"}
STAGE = {"duration", "targets"}
RESPONSE = {"id", "match", "escalationPlan", "slackResponders", "severity"}
MATCH = {"severity", "alarmName", "resource"}


def seconds(value: Any) -> int | None:
    """A duration in seconds, or None when it is not one the file accepts."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value * 60 if value >= 0 else None
    m = DURATION.match(str(value)) if isinstance(value, str) else None
    if not m or not any(m.groups()):
        return None
    h, mi, s = (int(g) if g else 0 for g in m.groups())
    return h * 3600 + mi * 60 + s


def _zone(name: Any) -> bool:
    try:
        ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _keys(where: str, value: Any, allowed: set[str], out: list[str]) -> bool:
    if not isinstance(value, dict):
        out.append(f"{where}: expected a mapping")
        return False
    out.extend(f"{where}: unknown key {k}" for k in sorted(set(value) - allowed))
    return True


def _contacts(doc: dict[str, Any], out: list[str]) -> None:
    for cid, contact in (doc.get("contacts") or {}).items():
        where = f"contacts.{cid}"
        if not ID.match(str(cid)):
            out.append(f"{where}: bad id")
        if not _keys(where, contact, CONTACT, out):
            continue
        names = []
        for i, ch in enumerate(contact.get("channels") or []):
            at = f"{where}.channels[{i}]"
            if not _keys(at, ch, CHANNEL, out):
                continue
            typ, address = ch.get("type"), str(ch.get("address", ""))
            names.append(ch.get("name", typ))
            if typ == "sms" and not E164.match(address):
                out.append(f"{at}: sms address not E.164")
            elif typ == "email" and "@" not in address:
                out.append(f"{at}: email address")
            elif typ == "slack" and not SLACK_USER.match(address):
                out.append(f"{at}: slack user id")
            elif typ not in ("sms", "email", "slack"):
                out.append(f"{at}: type {typ!r}")
        if not names:
            out.append(f"{where}: no channel")
        if len(names) != len(set(names)):
            out.append(f"{where}: channel names not unique")
        last, seen = -1, set()
        for i, step in enumerate(contact.get("engagement") or []):
            at = f"{where}.engagement[{i}]"
            if not _keys(at, step, ENGAGEMENT, out):
                continue
            if step.get("channel") not in names:
                out.append(f"{at}: unknown channel {step.get('channel')!r}")
            if step.get("channel") in seen:
                out.append(f"{at}: channel engaged twice")
            seen.add(step.get("channel"))
            after = seconds(step.get("after"))
            if after is None:
                out.append(f"{at}: bad offset {step.get('after')!r}")
            elif after < last:
                out.append(f"{at}: offsets decrease")
            else:
                last = after


def _rotations(doc: dict[str, Any], out: list[str]) -> None:
    contacts = set(doc.get("contacts") or {})
    for rid, rotation in (doc.get("rotations") or {}).items():
        where = f"rotations.{rid}"
        if not ID.match(str(rid)):
            out.append(f"{where}: bad id")
        if not _keys(where, rotation, ROTATION, out):
            continue
        participants = rotation.get("participants") or []
        if not participants:
            out.append(f"{where}: no participants")
        out.extend(f"{where}: unknown participant {p}" for p in participants if p not in contacts)
        if not START.match(str(rotation.get("start", ""))):
            out.append(f"{where}: start {rotation.get('start')!r}")
        if not SHIFT.match(str(rotation.get("shift", ""))):
            out.append(f"{where}: shift {rotation.get('shift')!r}")
        if "timezone" in rotation and not _zone(rotation["timezone"]):
            out.append(f"{where}: timezone")
        on_call = rotation.get("onCall", 1)
        if not isinstance(on_call, int) or on_call < 1:
            out.append(f"{where}: onCall")
        for i, window in enumerate(rotation.get("workingHours") or []):
            at = f"{where}.workingHours[{i}]"
            if not _keys(at, window, WINDOW, out):
                continue
            days = window.get("days") or []
            if not days or any(d not in DAYS for d in days):
                out.append(f"{at}: days {days!r}")
            start, end = str(window.get("start", "")), str(window.get("end", ""))
            if not TIME.match(start) or not TIME.match(end) or start == "24:00":
                out.append(f"{at}: times")
            elif end <= start:
                out.append(f"{at}: end not after start")


def _escalation(doc: dict[str, Any], out: list[str]) -> None:
    contacts, rotations = set(doc.get("contacts") or {}), set(doc.get("rotations") or {})
    for pid, plan in (doc.get("escalationPlans") or {}).items():
        where = f"escalationPlans.{pid}"
        if not ID.match(str(pid)):
            out.append(f"{where}: bad id")
        if not _keys(where, plan, PLAN, out):
            continue
        if not plan.get("stages"):
            out.append(f"{where}: no stages")
        for i, stage in enumerate(plan.get("stages") or []):
            at = f"{where}.stages[{i}]"
            if not _keys(at, stage, STAGE, out):
                continue
            duration = seconds(stage.get("duration"))
            if duration is None or duration < 1:
                out.append(f"{at}: duration {stage.get('duration')!r}")
            if not stage.get("targets"):
                out.append(f"{at}: no targets")
            for target in stage.get("targets") or []:
                if not isinstance(target, dict) or len(target) != 1:
                    out.append(f"{at}: a target is one of contact/rotation")
                elif "contact" in target and target["contact"] not in contacts:
                    out.append(f"{at}: unknown contact {target['contact']}")
                elif "rotation" in target and target["rotation"] not in rotations:
                    out.append(f"{at}: unknown rotation {target['rotation']}")
                elif not {"contact", "rotation"} & set(target):
                    out.append(f"{at}: target {target!r}")


def _responses(doc: dict[str, Any], out: list[str]) -> None:
    plans = set(doc.get("escalationPlans") or {})
    ids, defaults = [], 0
    for i, plan in enumerate(doc.get("responsePlans") or []):
        where = f"responsePlans[{i}]"
        if not _keys(where, plan, RESPONSE, out):
            continue
        ids.append(plan.get("id"))
        if not ID.match(str(plan.get("id", ""))):
            out.append(f"{where}: bad id")
        if "match" not in plan:
            defaults += 1
        elif _keys(f"{where}.match", plan["match"], MATCH, out):
            for key in ("alarmName", "resource"):
                if key in plan["match"]:
                    try:
                        re.compile(str(plan["match"][key]))
                    except re.error:
                        out.append(f"{where}.match.{key}: not a regular expression")
            for severity in plan["match"].get("severity") or []:
                if severity not in SEVERITIES:
                    out.append(f"{where}.match.severity: {severity}")
        if "escalationPlan" in plan and plan["escalationPlan"] not in plans:
            out.append(f"{where}: unknown escalation plan {plan['escalationPlan']}")
        if "severity" in plan and plan["severity"] not in SEVERITIES:
            out.append(f"{where}: severity {plan['severity']!r}")
        for user in plan.get("slackResponders") or []:
            if not SLACK_USER.match(str(user)):
                out.append(f"{where}: slack responder {user!r}")
    if len(ids) != len(set(ids)):
        out.append("responsePlans: ids not unique")
    if defaults != 1:
        out.append(f"responsePlans: {defaults} entries without match (one default expected)")


def problems(doc: Any) -> list[str]:
    """Every way `doc` (the loaded YAML) breaks docs/oncall.md; empty when it is valid."""
    out: list[str] = []
    if not _keys("file", doc, TOP, out):
        return out
    if doc.get("version") != 1:
        out.append("version: expected 1")
    if "timezone" in doc and not _zone(doc["timezone"]):
        out.append("timezone")
    _contacts(doc, out)
    _rotations(doc, out)
    _escalation(doc, out)
    _responses(doc, out)
    return out
