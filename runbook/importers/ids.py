"""Ids valid in the declaration file (`[a-z0-9][a-z0-9_-]{0,62}`), unique per section.

Incident Manager aliases are `[a-z0-9_-]{1,255}` and rotation and response plan names allow
capitals, spaces and dots, so some need normalising; two that normalise alike get `-2`, `-3`...
Callers assign in a sorted order so the same account always gives the same ids.
"""

from __future__ import annotations

import re

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
MAX_LENGTH = 63
_INVALID = re.compile(r"[^a-z0-9_-]+")


def normalise(name: str, fallback: str) -> str:
    """Lower-case, other characters to `-`, no leading `_`/`-`, at most 63 characters."""
    candidate = _INVALID.sub("-", name.strip().lower())
    candidate = re.sub(r"-{2,}", "-", candidate).lstrip("_-")[:MAX_LENGTH].rstrip("-")
    return candidate or fallback


class IdSpace:
    """The ids of one section of the file (contacts, rotations, plans...)."""

    def __init__(self, fallback: str, reserved: tuple[str, ...] = ()) -> None:
        self._fallback = fallback
        self._taken: set[str] = set(reserved)

    def assign(self, name: str) -> str:
        base = normalise(name, self._fallback)
        candidate, n = base, 1
        while candidate in self._taken:
            n += 1
            suffix = f"-{n}"
            candidate = base[: MAX_LENGTH - len(suffix)] + suffix
        self._taken.add(candidate)
        return candidate
