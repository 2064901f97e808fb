"""The EventBridge envelope every source shares, on top of Powertools' EventBridgeModel.

AWS omits `resources` from some documented events (an AWS Health scheduled change), so it
defaults to empty here. Validation errors become InvalidIncidentInput with a short summary.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import BaseModel, Field, ValidationError

from shared.errors import InvalidIncidentInput, validation_summary
from shared.timeutil import parse_time

M = TypeVar("M", bound=EventBridgeModel)


class AwsEvent(EventBridgeModel):
    """EventBridgeModel with AWS's optional fields optional."""

    version: str = "0"
    resources: list[str] = Field(default_factory=list)


def invalid(what: str, error: Exception | str) -> InvalidIncidentInput:
    """The typed error ingest records: `<what>: <reason>`."""
    if isinstance(error, ValidationError):
        error = validation_summary(error)
    return InvalidIncidentInput(f"{what}: {error}")


def parse_event(event: Any, model: type[M], what: str) -> M:
    """Validate `event` (a JSON object) as `model` with the Powertools parser."""
    if not isinstance(event, dict):
        raise invalid(what, f"expected a JSON object, got {type(event).__name__}")
    try:
        return parse(event=event, model=model)
    except (ValidationError, ValueError, TypeError) as exc:
        raise invalid(what, exc) from exc


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


class Lenient(BaseModel):
    """Detail models accept fields AWS adds later (ECS and Health both warn they will)."""

    model_config = {"extra": "ignore", "populate_by_name": True}
