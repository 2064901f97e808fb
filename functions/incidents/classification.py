"""Decide an incident's severity, and say which rule decided it (shown in the page and postmortem).

Order: an operator's explicit severity; the alarm's `Severity` tag; the first alarm-name
pattern that matches; the metric namespace's default; the source's default (`source/category`
before `source`, e.g. `aws.health/issue`, then `aws.health`); the policy's default.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, get_args

import msgspec
from msgspec import field

from incidents.model import SEVERITIES, Severity

if TYPE_CHECKING:
    from incidents.signal import Signal

SEVERITY_TAG = "Severity"


class SeverityPattern(msgspec.Struct, kw_only=True, frozen=True):
    """`{"pattern": regex, "severity": s}`: the first that matches the alarm name wins."""

    pattern: str
    severity: Severity

    def __post_init__(self) -> None:
        try:
            re.compile(self.pattern)
        except re.error as exc:
            raise ValueError(f"invalid regex {self.pattern!r}: {exc}") from exc


class SeverityPolicy(msgspec.Struct, kw_only=True, frozen=True, rename="camel"):
    """The SEVERITY_POLICY env var (camelCase keys, as in cdk.json and stacks/settings.py)."""

    default_severity: Severity = "standard"
    severity_patterns: list[SeverityPattern] = field(default_factory=list)
    namespace_severity: dict[str, Severity] = field(default_factory=dict)
    source_severity: dict[str, Severity] = field(default_factory=dict)


class Classification(msgspec.Struct, kw_only=True, frozen=True):
    """The decided severity and the human-readable rule that decided it."""

    severity: Severity
    rule: str


def severity_from_tags(tags: Mapping[str, str]) -> Severity | None:
    """The `Severity` tag's value if it is one we know (keys and values case-insensitive)."""
    for key, value in tags.items():
        if key.lower() == SEVERITY_TAG.lower():
            candidate = value.strip().lower()
            if candidate in get_args(Severity):
                return candidate  # type: ignore[return-value]
    return None


def classify(
    signal: Signal, policy: SeverityPolicy, tags: Mapping[str, str] | None = None
) -> Classification:
    """Apply the rules in order; pure, so every rule is unit-testable."""
    if signal.requested_severity:
        return Classification(severity=signal.requested_severity, rule="operator: severity given")
    tagged = severity_from_tags(tags or {})
    if tagged:
        return Classification(severity=tagged, rule=f"tag: {SEVERITY_TAG}={tagged}")
    if signal.alarm_name:
        for entry in policy.severity_patterns:
            if re.search(entry.pattern, signal.alarm_name):
                return Classification(severity=entry.severity, rule=f"pattern: {entry.pattern}")
    namespace = _most_severe(signal.namespaces, policy.namespace_severity)
    if namespace:
        return Classification(
            severity=policy.namespace_severity[namespace], rule=f"namespace: {namespace}"
        )
    for key in source_keys(signal):
        if key in policy.source_severity:
            return Classification(severity=policy.source_severity[key], rule=f"source: {key}")
    return Classification(severity=policy.default_severity, rule="default")


def source_keys(signal: Signal) -> list[str]:
    """`source/category` (the more specific) then `source`."""
    keys = [f"{signal.source}/{signal.category}"] if signal.category else []
    return [*keys, signal.source]


def more_severe(a: Severity, b: Severity) -> bool:
    """True when `a` is strictly more severe than `b` (critical > high > standard)."""
    return SEVERITIES.index(a) < SEVERITIES.index(b)


def less_severe_than(severity: Severity) -> list[Severity]:
    """The severities an incident may be upgraded from to reach `severity`."""
    return [s for s in SEVERITIES if more_severe(severity, s)]


def _most_severe(namespaces: Sequence[str], known: Mapping[str, Severity]) -> str | None:
    """An alarm over several namespaces takes the most severe of their defaults."""
    matches = [ns for ns in namespaces if ns in known]
    if not matches:
        return None
    return min(matches, key=lambda ns: SEVERITIES.index(known[ns]))
