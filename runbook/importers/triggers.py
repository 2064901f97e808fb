"""What starts a response plan in Incident Manager, as the file's `match: {alarmName: ...}`.

Incident Manager opens an incident with a plan when a CloudWatch alarm's action names the plan
(`arn:aws:ssm-incidents::ACCOUNT:responseplan/NAME`, as CloudWatch documents it, or
`.../response-plan/NAME`, as the console and CDK write it) or when an EventBridge rule targets
the plan's ARN. Alarm names and alarm-state rules on alarm names (exact or prefix) become one
regular expression; any other rule pattern needs a person.
"""

from __future__ import annotations

import json
import re
from typing import Any

_PLAN_ACTION = re.compile(r"^arn:[^:]+:ssm-incidents::(\d*):(?:response-plan|responseplan)/(.+)$")
_REGEX_SPECIAL = re.compile(r"([.^$*+?{}\[\]\\|()])")
ALARM_EVENT = "CloudWatch Alarm State Change"


def _literal(text: str) -> str:
    return _REGEX_SPECIAL.sub(r"\\\1", text)


def alarm_name_regex(exact: list[str], prefixes: list[str]) -> str:
    """`^(a|b)$` for alarm names; `^(a$|b$|prefix)` once prefixes join them."""
    exact, prefixes = sorted(set(exact)), sorted(set(prefixes))
    if not prefixes:
        alts = [_literal(n) for n in exact]
        return f"^{alts[0]}$" if len(alts) == 1 else f"^({'|'.join(alts)})$"
    alts = [_literal(n) + "$" for n in exact] + [_literal(p) for p in prefixes]
    return f"^{alts[0]}" if len(alts) == 1 else f"^({'|'.join(alts)})"


def alarms_naming(alarms: list[dict[str, Any]], plan_arn: str, plan_name: str) -> list[str]:
    """Names of the alarms whose ALARM actions start the plan."""
    account = plan_arn.split(":")[4]
    found = []
    for alarm in alarms:
        for action in alarm.get("AlarmActions") or []:
            m = _PLAN_ACTION.match(str(action))
            if m and m.group(2) == plan_name and m.group(1) in ("", account):
                found.append(str(alarm["AlarmName"]))
                break
    return found


def alarm_names_in(pattern_text: Any) -> tuple[list[str], list[str]] | None:
    """The alarm names (exact, prefixes) an EventBridge pattern on alarm state changes
    selects, or None when it selects on anything else."""
    try:
        pattern = json.loads(pattern_text) if isinstance(pattern_text, str) else None
    except json.JSONDecodeError:
        return None
    if not isinstance(pattern, dict) or set(pattern) - {"source", "detail-type", "detail"}:
        return None
    if pattern.get("source") != ["aws.cloudwatch"]:
        return None
    if pattern.get("detail-type", [ALARM_EVENT]) != [ALARM_EVENT]:
        return None
    detail = pattern.get("detail")
    if not isinstance(detail, dict) or set(detail) - {"alarmName", "state"}:
        return None
    if "state" in detail and detail["state"] != {"value": ["ALARM"]}:
        return None
    exact: list[str] = []
    prefixes: list[str] = []
    for item in detail.get("alarmName") or []:
        if isinstance(item, str):
            exact.append(item)
        elif isinstance(item, dict) and set(item) == {"prefix"} and isinstance(item["prefix"], str):
            prefixes.append(item["prefix"])
        else:
            return None
    return (exact, prefixes) if exact or prefixes else None
