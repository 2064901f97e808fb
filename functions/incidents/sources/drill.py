"""Drill events: a synthetic incident put on the default bus by `runbook drill` or the drill
schedule (docs/drills.md). Ingested like any other source, so a drill exercises the real entry
path, but keyed on its own drill id: no fold keys and no service keys, so a drill never joins,
folds into or marks a real incident, and a real signal never joins a drill.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from incidents.model import Severity
from incidents.signal import Signal
from incidents.sources.envelope import AwsEvent, invalid, parse_event

SOURCE = "incident-runbook.drill"
DETAIL_TYPE = "Incident Drill"
DrillTarget = Literal["topic", "rotation"]
# Scheduler execution ids are hex; `runbook drill` uses `drill-<hex>`: letters, digits, `-`.
_DRILL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


class DrillDetail(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """`{"drill_id", "target"?, "severity"?, "requested_by"?}` (a mistyped key is refused)."""

    drill_id: Annotated[str, Meta(min_length=1, max_length=64)]
    target: DrillTarget = "topic"
    severity: Severity = "critical"
    requested_by: Annotated[str, Meta(max_length=200)] = "runbook drill"


class DrillEvent(AwsEvent):
    detail: DrillDetail


def correlation_key(drill_id: str) -> str:
    """A key no real source produces (theirs carry an account, region and ARN or name)."""
    return f"drill:{drill_id}"


def parse(event: Any) -> Signal:
    """A drill request; a bad drill id names the field."""
    parsed = parse_event(event, DrillEvent, "malformed drill event")
    detail = parsed.detail
    if not _DRILL_ID.match(detail.drill_id):
        raise invalid(
            "malformed drill event",
            f"detail.drill_id {detail.drill_id[:80]!r}: letters, digits, '-' and '_' only",
        )
    return Signal(
        kind="drill",
        title=f"DRILL: synthetic incident {detail.drill_id}",
        description=(
            f"A drill requested by {detail.requested_by}: not a real incident. It pages the "
            f"drill target ({detail.target}), then resolves itself."
        ),
        source=SOURCE,
        category=detail.target,
        occurred_at=parsed.time,
        signal_key=f"drill|{detail.drill_id}",
        requested_severity=detail.severity,
        account=parsed.account or None,
        region=parsed.region or None,
        correlation_key=correlation_key(detail.drill_id),
        drill_id=detail.drill_id,
        drill_target=detail.target,
    )


def detail(drill_id: str, target: DrillTarget, requested_by: str) -> dict[str, Any]:
    """The `Detail` of a drill event (what `runbook drill` puts on the bus)."""
    return {"drill_id": drill_id, "target": target, "requested_by": requested_by}
