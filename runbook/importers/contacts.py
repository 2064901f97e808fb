"""One PERSONAL contact -> a `contacts` entry: its channels and its engagement plan.

Incident Manager pages a contact's engagement plan stage by stage: a stage's channels are paged
once the stages before it have run their DurationInMinutes. Here each channel has one offset
(`after`) from the moment the contact is engaged, so the stages become cumulative offsets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from runbook.importers.ids import IdSpace
from runbook.importers.notes import Notes
from runbook.importers.values import minutes_text

E164 = re.compile(r"^\+[0-9]{7,15}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class MappedContact:
    entry: dict[str, Any] | None  # None: nothing could be carried over
    retries: bool  # its plan retries failed pages (RetryIntervalInMinutes), said once for all


def _channel(subject: str, channel: dict[str, Any], notes: Notes) -> tuple[str, str] | None:
    label, kind = str(channel["Name"]), channel.get("Type")
    address = str((channel.get("DeliveryAddress") or {}).get("SimpleAddress", ""))
    if kind == "VOICE":
        notes.not_carried(
            subject,
            f"VOICE channel {label!r}: no voice calls here (add the number as an sms "
            "channel if it takes text messages)",
        )
        return None
    if kind == "SMS":
        if not E164.match(address):
            notes.not_carried(subject, f"SMS channel {label!r}: not an E.164 number")
            return None
        typ = "sms"
    elif kind == "EMAIL":
        if not EMAIL.match(address):
            notes.not_carried(subject, f"EMAIL channel {label!r}: not an address")
            return None
        typ = "email"
    else:
        notes.not_carried(subject, f"channel {label!r} of unknown type {kind!r}")
        return None
    if channel.get("ActivationStatus") == "NOT_ACTIVATED":
        notes.review(
            subject,
            f"channel {label!r} was never activated in Incident Manager, which did not page "
            "it: here it is paged",
        )
    return typ, address


def _engagement(
    subject: str,
    stages: list[dict[str, Any]],
    carried: dict[str, dict[str, str]],
    known: set[str],
    notes: Notes,
) -> tuple[list[dict[str, str]], bool]:
    offset, out, seen, retries = 0, [], set(), False
    for number, stage in enumerate(stages, start=1):
        for target in stage.get("Targets") or []:
            info = target.get("ChannelTargetInfo")
            if info is None:
                notes.not_carried(
                    subject,
                    f"engagement stage {number} engages another contact: a contact's "
                    "engagement pages only its own channels here",
                )
                continue
            retries = retries or bool(info.get("RetryIntervalInMinutes"))
            channel = carried.get(str(info["ContactChannelId"]))
            if channel is None:
                if str(info["ContactChannelId"]) not in known:
                    notes.not_carried(
                        subject, f"engagement stage {number} names a channel it does not have"
                    )
                continue  # otherwise a channel left out, already said
            if channel["name"] in seen:
                notes.not_carried(
                    subject,
                    f"channel {channel['name']} is paged again at {minutes_text(offset)}: "
                    "here each channel is paged once, at its first offset",
                )
                continue
            seen.add(channel["name"])
            out.append({"channel": channel["name"], "after": minutes_text(offset)})
        offset += int(stage.get("DurationInMinutes") or 0)
    if not out:
        why = (
            "no channel of its engagement plan could be carried over"
            if stages
            else "it has no engagement plan in Incident Manager (it was never paged)"
        )
        notes.review(subject, f"{why}: here all its channels are paged at once")
    return out, retries


def map_contact(
    contact: dict[str, Any], channels: list[dict[str, Any]], notes: Notes
) -> MappedContact:
    """GetContact + ListContactChannels of one PERSONAL contact -> its entry."""
    alias = str(contact["Alias"])
    subject = f"contact {alias}"
    names = IdSpace("channel")
    carried: dict[str, dict[str, str]] = {}
    for channel in sorted(channels, key=lambda ch: (str(ch["Name"]), ch["ContactChannelArn"])):
        kept = _channel(subject, channel, notes)
        if kept is not None:
            carried[str(channel["ContactChannelArn"])] = {
                "name": names.assign(str(channel["Name"])),
                "type": kept[0],
                "address": kept[1],
            }
    if not carried:
        notes.not_carried(
            subject,
            "no channel can be carried over: the contact is left out, and so are its places "
            "in rotations and plans",
        )
        return MappedContact(None, False)
    stages = (contact.get("Plan") or {}).get("Stages") or []
    known = {str(ch["ContactChannelArn"]) for ch in channels}
    engagement, retries = _engagement(subject, stages, carried, known, notes)
    engaged = [e["channel"] for e in engagement]
    ordered = sorted(
        carried.values(),
        key=lambda ch: (
            engaged.index(ch["name"]) if ch["name"] in engaged else len(engaged),
            ch["name"],
        ),
    )
    entry: dict[str, Any] = {
        "name": str(contact.get("DisplayName") or alias),
        "channels": ordered,
    }
    if engagement:
        entry["engagement"] = engagement
    return MappedContact(entry, retries)
