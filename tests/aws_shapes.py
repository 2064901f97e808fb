"""Responses checked against botocore's service model, member by member.

botocore parses what it knows and silently drops the rest, so a test that only reads parsed
responses cannot tell an AWS-shaped answer from one with a misspelt member or a value outside
its enum. ``checked(client)`` makes every response of a JSON-protocol client fail the call
unless its raw body fits the operation's output shape (or, for an error, one of the
operation's modelled errors): no member the shape lacks, required members present, types,
enums, lengths and ranges as modelled, and patterns where Python's ``re`` can read them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from botocore.model import Shape


def shape_errors(value: Any, shape: Shape, path: str = "$") -> list[str]:
    """Where ``value`` (JSON-protocol data) departs from ``shape``; empty when it fits."""
    kind = shape.type_name
    meta = shape.metadata
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{path}: {type(value).__name__}, not a structure"]
        errors = [
            f"{path}.{key}: not a member of {shape.name}"
            for key in value
            if key not in shape.members and key != "__type"
        ]
        errors += [
            f"{path}.{name}: required by {shape.name}"
            for name in shape.required_members
            if name not in value
        ]
        for key, item in value.items():
            if key in shape.members:
                errors += shape_errors(item, shape.members[key], f"{path}.{key}")
        return errors
    if kind == "list":
        if not isinstance(value, list):
            return [f"{path}: {type(value).__name__}, not a list"]
        errors = _bounds(len(value), meta, path, "items")
        for index, item in enumerate(value):
            errors += shape_errors(item, shape.member, f"{path}[{index}]")
        return errors
    if kind == "map":
        if not isinstance(value, dict):
            return [f"{path}: {type(value).__name__}, not a map"]
        errors = _bounds(len(value), meta, path, "entries")
        for key, item in value.items():
            errors += shape_errors(key, shape.key, f"{path}<key {key!r}>")
            errors += shape_errors(item, shape.value, f"{path}[{key!r}]")
        return errors
    if kind == "string":
        if not isinstance(value, str):
            return [f"{path}: {type(value).__name__}, not a string"]
        errors = _bounds(len(value), meta, path, "characters")
        if shape.enum and value not in shape.enum:
            errors.append(f"{path}: {value!r} not in {shape.name}'s enum")
        pattern = meta.get("pattern")
        if pattern and "\\p" not in pattern and not re.search(pattern, value):
            errors.append(f"{path}: {value!r} does not match {pattern}")
        return errors
    if kind in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            return [f"{path}: {value!r}, not an integer"]
        return _bounds(value, meta, path, "")
    if kind in ("double", "float"):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return [] if ok else [f"{path}: {value!r}, not a number"]
    if kind == "boolean":
        return [] if isinstance(value, bool) else [f"{path}: {value!r}, not a boolean"]
    if kind == "timestamp":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return [] if ok else [f"{path}: {value!r}, not epoch seconds"]
    return []


def _bounds(size: int, meta: dict[str, Any], path: str, unit: str) -> list[str]:
    errors = []
    if "min" in meta and size < meta["min"]:
        errors.append(f"{path}: {size} {unit} < min {meta['min']}".replace("  ", " "))
    if "max" in meta and size > meta["max"]:
        errors.append(f"{path}: {size} {unit} > max {meta['max']}".replace("  ", " "))
    return errors


def response_errors(model: Any, status: int, body: dict[str, Any]) -> list[str]:
    """Departures of one response body from operation ``model`` (output or error shape)."""
    if status < 300:
        return shape_errors(body, model.output_shape) if model.output_shape else []
    code = str(body.get("__type", "")).rsplit("#", 1)[-1]
    errors = {shape.name: shape for shape in model.error_shapes}
    generic = ("ValidationException", "InternalServerError", "ThrottlingException")
    if code not in errors:
        return [] if code in generic else [f"error {code} is not one {model.name} models"]
    return shape_errors(body, errors[code])


def checked(client: Any, operations: Iterable[str] | None = None) -> Any:
    """``client`` with every response of ``operations`` (default: all) checked against its
    operation's shape (moto's own answers are not always AWS-shaped: check what you own)."""
    only = None if operations is None else set(operations)

    def check(http_response: Any, model: Any, **_: Any) -> None:
        if only is not None and model.name not in only:
            return
        raw = http_response.content or b"{}"
        body = json.loads(raw)
        problems = response_errors(model, http_response.status_code, body)
        assert not problems, f"{model.name} answered outside its shape: {problems}"

    client.meta.events.register(
        f"after-call.{client.meta.service_model.service_id.hyphenize()}", check
    )
    return client
