"""The declaration file as text: plain dicts and lists to YAML, with a commented header.

Small records (a channel, an engagement step, a target, a working-hours window) and short lists
(participants, days) are written on one line, as docs/oncall.md writes them; everything else in
block style, keys in the order the mapping built them (it sorts what has no order of its own).
The document itself stays plain dicts and lists: the styling is applied here, on a copy.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import yaml

# Local date-times and times of day are strings in the file; YAML 1.1 readers could take them
# for timestamps or base-60 numbers, so they are always quoted (as the documentation does).
_DATE_OR_TIME = re.compile(r"^(?:\d{4}-\d{2}-\d{2}[T ]|\d{1,2}:\d{2}$)")

# Items of lists under these keys are written {on: one, line: each}.
FLOW_ITEMS = frozenset({"channels", "engagement", "targets", "workingHours"})
# Lists under these keys are written [on, one, line].
FLOW_LISTS = frozenset({"participants", "days", "slackResponders", "severity"})


class _Flow(dict[str, Any]):
    pass


class _FlowList(list[Any]):
    pass


class _Dumper(yaml.SafeDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        # Indent list items under their key, as the documentation does.
        super().increase_indent(flow, False)


def _flow_mapping(dumper: yaml.SafeDumper, value: _Flow) -> yaml.Node:
    return dumper.represent_mapping("tag:yaml.org,2002:map", value, flow_style=True)


def _flow_list(dumper: yaml.SafeDumper, value: _FlowList) -> yaml.Node:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=True)


def _string(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = '"' if _DATE_OR_TIME.match(value) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _string)
_Dumper.add_representer(_Flow, _flow_mapping)
_Dumper.add_representer(_FlowList, _flow_list)


def _styled(value: Any, key: str | None = None) -> Any:
    if isinstance(value, dict):
        return {k: _styled(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        if key in FLOW_LISTS and all(not isinstance(v, dict | list) for v in value):
            return _FlowList(value)
        if key in FLOW_ITEMS:
            return [_Flow(_styled(v)) if isinstance(v, dict) else _styled(v) for v in value]
        return [_styled(v) for v in value]
    return value


def render(document: dict[str, Any], header: Iterable[str]) -> str:
    """`header` lines become `# ` comments above the document."""
    comments = "".join(f"# {line}".rstrip() + "\n" for line in header)
    body = yaml.dump(
        _styled(document),
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=100,
    )
    return comments + body
