"""Placeholders in rule parameters: `{resource.id}` and friends, filled from the incident.

One small grammar, shared by the synth-time validation (an unknown placeholder is an error that
names it) and by the filling at run time, so the two can never disagree. `{{` and `}}` stand
for literal braces, as in Python's str.format.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

RESOURCE_ID = "resource.id"
RESOURCE_TYPE = "resource.type"
INCIDENT_ID = "incident.id"
INCIDENT_REGION = "incident.region"
INCIDENT_ACCOUNT = "incident.account"
ALARM_NAME = "alarm.name"
# What each placeholder stands for (docs/remediation.md, "Parameters").
PLACEHOLDERS: dict[str, str] = {
    RESOURCE_ID: "the id of one resource the rule acts on (one value per resource in a list)",
    RESOURCE_TYPE: "the CloudFormation type of the resources the rule acts on",
    INCIDENT_ID: "the incident's id",
    INCIDENT_REGION: "the incident's region",
    INCIDENT_ACCOUNT: "the incident's account",
    ALARM_NAME: "the name of the alarm that opened the incident",
}
# Placeholders whose value differs per resource: an item holding one expands per resource.
PER_RESOURCE = frozenset({RESOURCE_ID})
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


class PlaceholderError(ValueError):
    """A value whose braces do not parse, or that names an unknown placeholder."""


def names_in(value: str) -> list[str]:
    """The placeholders a value uses, in order (duplicates kept); raises PlaceholderError."""
    found = []
    for match in _TOKEN.finditer(value):
        token = match.group(0)
        if token in ("{{", "}}"):
            continue
        name = match.group(1)
        if name is None:
            raise PlaceholderError(
                f"unmatched {token!r} in {value!r} (write {token * 2} for a brace)"
            )
        if name not in PLACEHOLDERS:
            known = ", ".join("{" + n + "}" for n in PLACEHOLDERS)
            raise PlaceholderError(f"unknown placeholder {{{name}}} (known: {known})")
        found.append(name)
    return found


def fill(value: str, values: Mapping[str, str]) -> str:
    """The value with every placeholder replaced; `values` must hold each one it uses."""

    def replace(match: re.Match[str]) -> str:
        piece = match.group(0)
        if piece in ("{{", "}}"):
            return piece[0]
        name = match.group(1)
        if name is None or name not in values:
            raise PlaceholderError(f"no value for {piece} in {value!r}")
        return values[name]

    return _TOKEN.sub(replace, value)
