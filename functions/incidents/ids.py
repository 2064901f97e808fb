"""Deterministic incident ids: `inc-YYYYMMDD-HHMMSS-<8 hex>`.

The same triggering signal always gives the same id, and the id is the Step Functions
execution name, so a redelivered event can never start a second run.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any

INCIDENT_ID_PATTERN = re.compile(r"^inc-\d{8}-\d{6}-[0-9a-f]{8}$")


def incident_id(occurred_at: datetime, signal_key: str) -> str:
    """Id for a signal that happened at `occurred_at` and is identified by `signal_key`."""
    if occurred_at.tzinfo is None:
        occurred_at = occurred_at.replace(tzinfo=UTC)
    stamp = occurred_at.astimezone(UTC).strftime("%Y%m%d-%H%M%S")
    digest = hashlib.sha256(signal_key.encode("utf-8")).hexdigest()[:8]
    return f"inc-{stamp}-{digest}"


def is_incident_id(value: str) -> bool:
    """True for ids made by `incident_id` (used to validate CLI and API input)."""
    return bool(INCIDENT_ID_PATTERN.fullmatch(value))


def incident_id_for_input(data: dict[str, Any], now: datetime) -> str:
    """Id for an execution input the operator CLI starts: an EventBridge event keeps its own
    deterministic id; an operator request is keyed by its content and the moment it was made."""
    from incidents.events import parse_eventbridge_event  # events imports this module

    if "detail-type" in data:
        return parse_eventbridge_event(data).incident_id()
    return incident_id(now, "operator|" + json.dumps(data, sort_keys=True, default=str))
