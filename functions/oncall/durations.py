"""Durations as the response declaration writes them (docs/oncall.md, "Values"): whole units
`s`, `m`, `h` ("90s", "5m", "1h30m") or an integer number of minutes."""

from __future__ import annotations

import re

_DURATION = re.compile(r"(?=\d)(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


def parse_duration(value: object) -> int:
    """Seconds (0 allowed: an engagement offset may be "0m"); ValueError naming the value.

    A bare number is minutes only as a YAML integer: the string "5" is refused, so a unit
    cannot be forgotten silently."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"{value!r} is not a duration: negative")
        return value * 60
    if isinstance(value, str) and (found := _DURATION.fullmatch(value.strip())):
        hours, minutes, seconds = (int(part or 0) for part in found.groups())
        return hours * 3600 + minutes * 60 + seconds
    raise ValueError(f'{value!r} is not a duration: whole s, m, h ("90s", "1h30m") or minutes')


def duration_text(seconds: int) -> str:
    """The file's notation for a number of seconds: 0m, 90s, 5m, 1h30m, 2h."""
    if seconds < 0:
        raise ValueError(f"{seconds!r} is not a duration: negative")
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "")
    text += f"{secs}s" if secs else ""
    return text or "0m"
