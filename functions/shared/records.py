"""Reading JSON-shaped data (events, payloads, settings, DynamoDB items) into msgspec records.

The records themselves are plain `msgspec.Struct`s declared next to the code that uses them
(`kw_only=True`; `frozen=True` for values that are hashed or shared). This module only
turns msgspec's errors into the project's typed ones, in one form: `<what>: <path>: <problem>`,
e.g. `malformed CloudWatch alarm event: detail.state.value: required`. msgspec stops at the
first problem, so that is the one named.

Coercion stays msgspec's: strict by default (a string is not a number); `strict=False` where
the input is text by nature (environment variables: `"30"` reads as 30). DynamoDB numbers
arrive from boto3's resource layer as Decimal, which msgspec converts to float but never to int,
so `read_item` re-reads an item through msgspec's own JSON codec, with Decimals encoded as JSON
numbers: integral ones read as int, others as float in a `float` field and as Decimal (boto3
writes it back as is) where the type is `Any`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, TypeVar

import msgspec

from shared.errors import InvalidIncidentInput

T = TypeVar("T")
ErrorType = Callable[[str], Exception]

# The commonest constraint: a string that must not be empty (`Annotated[str, NONEMPTY]`).
NONEMPTY = msgspec.Meta(min_length=1)

# msgspec's messages: "<problem>" or "<problem> - at `$<path>`".
_LOCATED = re.compile(r"(?P<problem>.*?)(?: - at `\$(?P<path>[^`]*)`)?", re.DOTALL)
_FIELD_PROBLEMS = {
    "Object missing required field": "required",
    "Object contains unknown field": "unknown field",
}
_ITEM_ENCODER = msgspec.json.Encoder(decimal_format="number")


def problem(error: msgspec.ValidationError) -> str:
    """msgspec's message as `path: problem` (`detail.affectedEntities[0].entityValue:
    expected `str`, got `int``); a missing or unknown field is named in the path; a problem
    of the whole value (not an object, a `__post_init__` check) is the problem alone."""
    match = _LOCATED.fullmatch(str(error))
    text, path = (match.group("problem"), match.group("path") or "") if match else (str(error), "")
    path = path.removeprefix(".")
    for prefix, short in _FIELD_PROBLEMS.items():
        if text.startswith(prefix):
            name = text[len(prefix) :].strip().strip("`")
            path = f"{path}.{name}" if path else name
            text = short
            break
    else:
        if text.startswith(("Expected ", "Invalid ")):
            text = text[0].lower() + text[1:]
    return f"{path}: {text}" if path else text


def read(
    type_: type[T],
    data: Any,
    what: str,
    *,
    error: ErrorType = InvalidIncidentInput,
    strict: bool = True,
) -> T:
    """`data` (dicts, lists and scalars) as a `type_`, or `error("<what>: <path>: <problem>")`."""
    try:
        return msgspec.convert(data, type_, strict=strict)
    except msgspec.ValidationError as exc:
        raise error(f"{what}: {problem(exc)}") from exc


def read_json(
    type_: type[T],
    text: str | bytes,
    what: str,
    *,
    error: ErrorType = InvalidIncidentInput,
    strict: bool = True,
) -> T:
    """JSON text as a `type_` (invalid JSON included in the same error form)."""
    try:
        return msgspec.json.decode(text, type=type_, strict=strict)
    except msgspec.ValidationError as exc:
        raise error(f"{what}: {problem(exc)}") from exc
    except msgspec.DecodeError as exc:
        raise error(f"{what}: not JSON ({exc})") from exc


_ITEM_DECODERS: dict[Any, msgspec.json.Decoder[Any]] = {}


def _item_decoder(type_: Any) -> msgspec.json.Decoder[Any]:
    """One decoder per record type (a Decoder compiles its type once)."""
    decoder = _ITEM_DECODERS.get(type_)
    if decoder is None:
        decoder = _ITEM_DECODERS[type_] = msgspec.json.Decoder(type_, float_hook=Decimal)
    return decoder


def read_item(
    type_: type[T],
    item: Mapping[str, Any],
    what: str,
    *,
    error: ErrorType = InvalidIncidentInput,
) -> T:
    """A DynamoDB item as boto3's resource layer returns it (numbers as Decimal, string sets
    as set) as a `type_`."""
    try:
        decoded: T = _item_decoder(type_).decode(_ITEM_ENCODER.encode(item))
    except msgspec.ValidationError as exc:
        raise error(f"{what}: {problem(exc)}") from exc
    except TypeError as exc:  # a value JSON cannot hold (a Binary attribute)
        raise error(f"{what}: {exc}") from exc
    return decoded


def repr_without(record: msgspec.Struct, *hidden: str) -> str:
    """`Name(field=value, ...)` leaving out `hidden` fields: for a record that holds a
    capability (a task token, a response URL), so logged reprs never show it."""
    shown = ", ".join(
        f"{name}={getattr(record, name)!r}"
        for name in record.__struct_fields__
        if name not in hidden
    )
    return f"{type(record).__name__}({shown})"
