"""The declaration file as text: plain dicts and lists to YAML, with a commented header.

Small records (a channel, an engagement step, a target, a working-hours window, a participant
list) are written on one line as in docs/oncall.md; everything else in block style, keys in the
order the mapping built them (it sorts what has no order of its own).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml


class Flow(dict[str, Any]):
    """A mapping written on one line: `{name: phone, type: sms, address: "+15005550100"}`."""


class FlowList(list[Any]):
    """A list written on one line: `[akuam, alejr]`."""


class _Dumper(yaml.SafeDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        # Indent list items under their key, as the documentation does.
        super().increase_indent(flow, False)


def _flow_mapping(dumper: yaml.SafeDumper, value: Flow) -> yaml.Node:
    return dumper.represent_mapping("tag:yaml.org,2002:map", value, flow_style=True)


def _flow_list(dumper: yaml.SafeDumper, value: FlowList) -> yaml.Node:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=True)


_Dumper.add_representer(Flow, _flow_mapping)
_Dumper.add_representer(FlowList, _flow_list)


def render(document: dict[str, Any], header: Iterable[str]) -> str:
    """`header` lines become `# ` comments above the document."""
    comments = "".join(f"# {line}".rstrip() + "\n" for line in header)
    body = yaml.dump(
        document,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=100,
    )
    return comments + body
