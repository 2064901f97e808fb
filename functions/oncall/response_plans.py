"""Which response plan an incident follows (docs/oncall.md, `responsePlans`): the first plan
whose every given condition holds; the plan without `match` when none does."""

from __future__ import annotations

import re
from collections.abc import Sequence

from oncall.declaration import Match, ResponseConfig, ResponsePlan


def matches(
    match: Match, *, severity: str, alarm_name: str | None, resources: Sequence[tuple[str, str]]
) -> bool:
    """Severity in the list, the alarm-name pattern found in the alarm's name (an incident
    without an alarm does not match one), the resource pattern found in some "TYPE=ID"."""
    if match.severity and severity not in match.severity:
        return False
    if match.alarm_name is not None and (
        alarm_name is None or not re.search(match.alarm_name, alarm_name)
    ):
        return False
    if match.resource is not None:
        pattern = re.compile(match.resource)
        if not any(pattern.search(f"{kind}={ident}") for kind, ident in resources):
            return False
    return True


def choose(
    config: ResponseConfig,
    *,
    severity: str,
    alarm_name: str | None,
    resources: Sequence[tuple[str, str]],
) -> ResponsePlan:
    """The incident's plan: first match wins, wherever the default sits in the list."""
    for plan in config.response_plans:
        if plan.match is not None and matches(
            plan.match, severity=severity, alarm_name=alarm_name, resources=resources
        ):
            return plan
    return config.default_plan
