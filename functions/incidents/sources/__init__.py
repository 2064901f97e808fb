"""One parser per EventBridge source ingest handles, each a Powertools parser model shaped as
AWS documents the source's events. `parse_source_event` picks the parser by source and
detail-type; anything else is an InvalidIncidentInput, which ingest records, never drops.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from incidents.signal import Signal
from incidents.sources import alarm, codedeploy, ecs, health
from incidents.sources.envelope import invalid

# (source, detail-type) -> parser; also the EventBridge rules' sources (stacks/triggers.py).
PARSERS: dict[tuple[str, str], Callable[[Any], Signal]] = {
    (alarm.SOURCE, alarm.DETAIL_TYPE): alarm.parse,
    (health.SOURCE, health.DETAIL_TYPE): health.parse,
    (ecs.SOURCE, ecs.DETAIL_TYPE): ecs.parse,
    (codedeploy.SOURCE, codedeploy.DETAIL_TYPE): codedeploy.parse,
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
