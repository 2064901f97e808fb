"""The EventBridge envelope every source shares, as EventBridge documents it ("Amazon
EventBridge events" structure: version, id, detail-type, source, account, time, region,
resources, detail).

AWS omits `resources` from some documented events (an AWS Health scheduled change), so it
defaults to empty here. Problems become InvalidIncidentInput naming the path of each.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import msgspec
from msgspec import field

from shared.errors import InvalidIncidentInput
from shared.records import read
from shared.timeutil import parse_time

M = TypeVar("M", bound="AwsEvent")


class AwsEvent(msgspec.Struct, kw_only=True):
    """The envelope; each source's subclass narrows `detail` to its documented shape."""

    version: str = "0"
    id: str
    detail_type: str = field(name="detail-type")
    source: str
    account: str
    time: datetime
    region: str
    resources: list[str] = field(default_factory=list)
    detail: Any
    replay_name: str | None = field(default=None, name="replay-name")


def invalid(what: str, error: Exception | str) -> InvalidIncidentInput:
    """The typed error ingest records: `<what>: <reason>`."""
    return InvalidIncidentInput(f"{what}: {error}")


def parse_event(event: Any, model: type[M], what: str) -> M:
    """Check `event` (a JSON object) against `model`: `<what>: <path>: <problem>`."""
    if not isinstance(event, dict):
        raise invalid(what, f"expected a JSON object, got {type(event).__name__}")
    return read(model, event, what)


def aws_time(value: str) -> datetime:
    """ISO-8601 (`...Z`, `+0000`) or the RFC 1123 form AWS Health uses
    (`Fri, 27 Jan 2023 06:02:51 GMT`)."""
    text = value.strip()
    try:
        return parse_time(text)
    except ValueError:
        pass
    try:
        parsed = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError) as exc:
        raise ValueError(f"not a timestamp: {value!r}") from exc
    return parse_time(parsed)


def key_hash(key: str) -> str:
    """16 hex of sha256: how long keys become short, stable table keys."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
