"""One parser per EventBridge source ingest handles, each reading the source's events into
msgspec records shaped as AWS documents them. `parse_source_event` picks the parser
by source and detail-type; anything else is an InvalidIncidentInput, which ingest records,
never drops.

A source's module is imported on its first event, not with this package: one invocation
parses one source, and importing all four cost ingest, classify and recovery about 3 ms more
of each cold start than the alarm's alone, for sources they may never see (docs/performance.md).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from importlib import import_module
from typing import Any

from incidents.signal import Signal
from incidents.sources.envelope import invalid

# (source, detail-type) -> the module here whose `parse` reads it; each module spells its pair
# as SOURCE and DETAIL_TYPE (checked when it loads). Also the EventBridge rules' sources
# (stacks/triggers.py).
MODULES: dict[tuple[str, str], str] = {
    ("aws.cloudwatch", "CloudWatch Alarm State Change"): "alarm",
    ("aws.health", "AWS Health Event"): "health",
    ("aws.ecs", "ECS Task State Change"): "ecs",
    ("aws.codedeploy", "CodeDeploy Deployment State-change Notification"): "codedeploy",
    ("incident-runbook.drill", "Incident Drill"): "drill",
}


@cache
def _load(key: tuple[str, str]) -> Callable[[Any], Signal]:
    module = import_module(f"{__name__}.{MODULES[key]}")
    if key != (module.SOURCE, module.DETAIL_TYPE):
        raise RuntimeError(f"{module.__name__} parses {module.SOURCE!r}, not {key}")
    parse: Callable[[Any], Signal] = module.parse
    return parse


def _on_first_use(key: tuple[str, str]) -> Callable[[Any], Signal]:
    def parse(event: Any) -> Signal:
        return _load(key)(event)

    return parse


# (source, detail-type) -> parser.
PARSERS: dict[tuple[str, str], Callable[[Any], Signal]] = {
    key: _on_first_use(key) for key in MODULES
}


def parser_for(event: Any) -> Callable[[Any], Signal] | None:
    """The parser of a known (source, detail-type), or None."""
    if not isinstance(event, dict):
        return None
    source, detail_type = event.get("source"), event.get("detail-type")
    if not isinstance(source, str) or not isinstance(detail_type, str):
        return None
    return PARSERS.get((source, detail_type))


def parse_source_event(event: Any) -> Signal:
    """Strictly parse an event of a source ingest handles; InvalidIncidentInput otherwise."""
    parse = parser_for(event)
    if parse is None:
        what = (
            f"source={event.get('source')!r} detail-type={event.get('detail-type')!r}"
            if isinstance(event, dict)
            else f"a JSON {type(event).__name__}, not an object"
        )
        raise invalid("not an event ingest handles", what)
    return parse(event)
