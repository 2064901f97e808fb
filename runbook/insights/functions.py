"""Scalar and aggregation functions of the supported subset.

Scalar functions follow the documented signatures; a missing argument yields a missing
result (except coalesce/ispresent/isempty/isblank, whose point is missing values).
Aggregations skip missing values, and numeric ones skip values that are not numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from runbook.insights.values import Value, format_value, to_number

ScalarImpl = Callable[[Sequence[Value]], Value]


@dataclass(frozen=True)
class Signature:
    """How many arguments a function takes (`most` None: any number)."""

    least: int
    most: int | None


def _text(value: Value) -> str | None:
    return format_value(value)


def _string_fn(fn: Callable[[str], Value]) -> ScalarImpl:
    def apply(args: Sequence[Value]) -> Value:
        text = _text(args[0])
        return None if text is None else fn(text)

    return apply


def _number_fn(fn: Callable[[float], int | float]) -> ScalarImpl:
    def apply(args: Sequence[Value]) -> Value:
        number = to_number(args[0])
        if number is None:
            return None
        try:
            return fn(number)
        except (ValueError, OverflowError):
            return None

    return apply


def _trim(strip: Callable[[str, str | None], str]) -> ScalarImpl:
    def apply(args: Sequence[Value]) -> Value:
        text = _text(args[0])
        if text is None:
            return None
        chars = _text(args[1]) if len(args) > 1 else None
        return strip(text, chars)

    return apply


def _strcontains(args: Sequence[Value]) -> Value:
    text, part = _text(args[0]), _text(args[1])
    if text is None or part is None:
        return None
    return 1 if part in text else 0


def _substr(args: Sequence[Value]) -> Value:
    text, start = _text(args[0]), to_number(args[1])
    if text is None or start is None:
        return None
    begin = max(int(start), 0)
    if len(args) == 2:
        return text[begin:]
    length = to_number(args[2])
    return None if length is None else text[begin : begin + max(int(length), 0)]


def _replace(args: Sequence[Value]) -> Value:
    text, old, new = (_text(a) for a in args)
    if text is None or old is None or new is None:
        return None
    return text.replace(old, new) if old else text


def _concat(args: Sequence[Value]) -> Value:
    return "".join(t for t in (_text(a) for a in args) if t is not None)


def _coalesce(args: Sequence[Value]) -> Value:
    return next((a for a in args if a is not None), None)


def _extreme(pick: Callable[[list[int | float]], int | float]) -> ScalarImpl:
    def apply(args: Sequence[Value]) -> Value:
        numbers = [n for n in (to_number(a) for a in args) if n is not None]
        return pick(numbers) if numbers else None

    return apply


SCALARS: dict[str, tuple[Signature, ScalarImpl]] = {
    "tolower": (Signature(1, 1), _string_fn(str.lower)),
    "toupper": (Signature(1, 1), _string_fn(str.upper)),
    "strlen": (Signature(1, 1), _string_fn(len)),
    "strcontains": (Signature(2, 2), _strcontains),
    "substr": (Signature(2, 3), _substr),
    "replace": (Signature(3, 3), _replace),
    "concat": (Signature(1, None), _concat),
    "trim": (Signature(1, 2), _trim(str.strip)),
    "ltrim": (Signature(1, 2), _trim(str.lstrip)),
    "rtrim": (Signature(1, 2), _trim(str.rstrip)),
    "coalesce": (Signature(1, None), _coalesce),
    "ispresent": (Signature(1, 1), lambda args: args[0] is not None),
    "isempty": (Signature(1, 1), lambda args: args[0] is None or _text(args[0]) == ""),
    "isblank": (
        Signature(1, 1),
        lambda args: args[0] is None or (_text(args[0]) or "").strip() == "",
    ),
    "abs": (Signature(1, 1), _number_fn(abs)),
    "ceil": (Signature(1, 1), _number_fn(math.ceil)),
    "floor": (Signature(1, 1), _number_fn(math.floor)),
    "sqrt": (Signature(1, 1), _number_fn(math.sqrt)),
    "log": (Signature(1, 1), _number_fn(math.log)),
    "greatest": (Signature(1, None), _extreme(max)),
    "least": (Signature(1, None), _extreme(min)),
}
"""Scalar functions evaluated per record. bin/datefloor/dateceil are in the evaluator: they
read @timestamp or take a period."""

TIME_FUNCTIONS: dict[str, Signature] = {
    "bin": Signature(1, 1),
    "datefloor": Signature(2, 2),
    "dateceil": Signature(2, 2),
}

AGGREGATES: dict[str, Signature] = {
    "count": Signature(0, 1),
    "count_distinct": Signature(1, 1),
    "sum": Signature(1, 1),
    "avg": Signature(1, 1),
    "min": Signature(1, 1),
    "max": Signature(1, 1),
    "pct": Signature(2, 2),
    "percentile": Signature(2, 2),
}


def aggregate(name: str, values: Sequence[Value], percent: float = 0.0) -> Value:
    """One aggregation over the values of a group (missing values already included: they are
    skipped here, so count(field) counts the records that have the field)."""
    present = [v for v in values if v is not None]
    if name == "count":
        return len(present)
    if name == "count_distinct":
        return len({format_value(v) for v in present})
    numbers = [n for n in (to_number(v) for v in present) if n is not None]
    if name in ("min", "max"):
        pick = max if name == "max" else min
        if numbers:
            return pick(numbers)  # a time stays a time: to_number keeps Timestamp
        texts = [t for t in (format_value(v) for v in present) if t is not None]
        return pick(texts) if texts else None
    if not numbers:
        return None
    if name == "sum":
        return sum(numbers)
    if name == "avg":
        return sum(numbers) / len(numbers)
    if name in ("pct", "percentile"):
        # Nearest rank: the smallest value with at least `percent` % of values at or below it.
        ordered = sorted(numbers)
        rank = math.ceil(percent / 100 * len(ordered))
        return ordered[min(max(rank - 1, 0), len(ordered) - 1)]
    raise ValueError(f"unknown aggregation {name}")
