"""Incident channel names: `inc-YYYYMMDD-<slug>`, valid for Slack (lowercase letters, digits,
`-` and `_`, at most 80 characters) and recognisable in the channel list."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC

from incidents.model import Incident
from shared.timeutil import parse_time

MAX_CHANNEL_NAME = 80
_NOT_ALLOWED = re.compile(r"[^a-z0-9_-]+")
_DASHES = re.compile(r"-{2,}")


def slug(text: str) -> str:
    """Lowercase ASCII letters, digits, `_` and single dashes (accents dropped, not the letter)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return _DASHES.sub("-", _NOT_ALLOWED.sub("-", ascii_text.lower())).strip("-_")


def _id_tag(incident: Incident) -> str:
    """The incident id's last part (its random hash), unique per incident."""
    return slug(incident.incident_id.rsplit("-", 1)[-1]) or "incident"


def _name(incident: Incident, suffix: str) -> str:
    day = parse_time(incident.opened_at).astimezone(UTC).strftime("%Y%m%d")
    prefix = f"inc-{day}-"
    base = slug(incident.alarm_name or incident.title) or _id_tag(incident)
    base = base[: MAX_CHANNEL_NAME - len(prefix) - len(suffix)].rstrip("-_")
    return f"{prefix}{base}{suffix}"


def channel_name(incident: Incident, attempt: int = 1) -> str:
    """`inc-<yyyymmdd>-<slug>`, with `-<attempt>` from the second attempt on."""
    return _name(incident, f"-{attempt}" if attempt > 1 else "")


def unique_channel_name(incident: Incident) -> str:
    """The last resort when the numbered names are taken: suffixed with the incident's hash."""
    return _name(incident, f"-{_id_tag(incident)}")


def candidate_names(incident: Incident, numbered: int = 4) -> list[str]:
    """The names to try in order: plain, `-2`..`-<numbered>`, then the id-suffixed one."""
    names = [channel_name(incident, attempt) for attempt in range(1, numbered + 1)]
    unique = unique_channel_name(incident)
    return names if unique in names else [*names, unique]
