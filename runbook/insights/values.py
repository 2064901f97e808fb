"""Values flowing through a query, how they compare and sort, and how results print them.

Logs Insights is loosely typed: a JSON number, a parsed string "502" and a literal 400 all
compare as numbers. Results are strings (GetQueryResults has no other type): times print as
`YYYY-MM-DD HH:MM:SS.mmm` (UTC), floats in Go's shortest `%g` form (Lambda's discovered
@memorySize of 128 MB prints as `1.28e+08`, an average of 93.75 as `93.75`).
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

_NUMERIC = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?")
_CHUNK = re.compile(r"\d+|[^\W\d_]+|.", re.DOTALL)


class Timestamp(int):
    """Milliseconds since the epoch, printed as a Logs Insights time.

    An int, so times compare, sort and bin as numbers; arithmetic yields plain ints."""

    def __repr__(self) -> str:
        return f"Timestamp({int(self)})"


Value = str | int | float | bool | None


def to_number(value: Value) -> int | float | None:
    """The number a value stands for, or None (missing, or not a number)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    text = value.strip()
    if not _NUMERIC.fullmatch(text):
        return None
    if "." in text or "e" in text or "E" in text:
        return float(text)
    try:
        return int(text)
    except ValueError:  # more digits than int() converts (Python's 4300-digit limit)
        return float(text)


def format_time(millis: int) -> str:
    """`2024-05-01 12:05:00.000` from epoch milliseconds (UTC)."""
    seconds, rest = divmod(int(millis), 1000)
    moment = datetime.fromtimestamp(seconds, UTC)
    return f"{moment:%Y-%m-%d %H:%M:%S}.{rest:03d}"


def format_float(number: float) -> str:
    """Go's strconv.FormatFloat(x, 'g', -1, 64): shortest digits, exponent from 1e+06 up."""
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "+Inf" if number > 0 else "-Inf"
    if number == 0:
        return "-0" if math.copysign(1.0, number) < 0 else "0"
    sign, digit_tuple, exponent = Decimal(repr(number)).normalize().as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple))
    point = len(digits) + exponent  # digits before the decimal point
    minus = "-" if sign else ""
    exp10 = point - 1
    if exp10 < -4 or exp10 >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{minus}{mantissa}e{'-' if exp10 < 0 else '+'}{abs(exp10):02d}"
    if point <= 0:
        return f"{minus}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return f"{minus}{digits}{'0' * (point - len(digits))}"
    return f"{minus}{digits[:point]}.{digits[point:]}"


def format_value(value: Value) -> str | None:
    """How GetQueryResults prints a value; None for a missing one (the cell is left out)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Timestamp):
        return format_time(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_float(value)
    return value


def truthy(value: Value) -> bool:
    """Whether a filter keeps a record for this value (missing is false)."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    return value != ""


def compare(op: str, left: Value, right: Value) -> bool:
    """A comparison as `filter` evaluates it: false whenever a side is missing; numbers when
    both sides read as numbers; a number and a text that is not one are only unequal;
    otherwise strings."""
    if left is None or right is None:
        return False
    a, b = to_number(left), to_number(right)
    if a is not None and b is not None:
        return _apply(op, a, b)
    if _is_number(left) or _is_number(right):
        # "n/a" > 1000 is not a question with a true answer: only "different" holds.
        return op == "!="
    x, y = format_value(left), format_value(right)
    assert x is not None and y is not None
    return _apply(op, x, y)


def _is_number(value: Value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _apply(op: str, a: Any, b: Any) -> bool:
    if op == "=":
        return bool(a == b)
    if op == "!=":
        return bool(a != b)
    if op == "<":
        return bool(a < b)
    if op == "<=":
        return bool(a <= b)
    if op == ">":
        return bool(a > b)
    if op == ">=":
        return bool(a >= b)
    raise ValueError(f"not a comparison: {op}")


def group_key(value: Value) -> Value:
    """A hashable key that puts 502, 502.0 and "502" in one stats group (the group shows the
    first value seen)."""
    number = to_number(value)
    if number is not None and not isinstance(value, Timestamp):
        return float(number)
    return value


def _compare_text(a: str, b: str) -> int:
    """The documented 'natural' order of non-number values: digit runs compare by length,
    then value, with each other; everything else by Unicode code point."""
    ca, cb = _CHUNK.findall(a), _CHUNK.findall(b)
    for x, y in zip(ca, cb, strict=False):
        if x == y:
            continue
        if x.isdigit() and y.isdigit():
            return -1 if (len(x), int(x)) < (len(y), int(y)) else 1
        return -1 if x < y else 1
    return (len(ca) > len(cb)) - (len(ca) < len(cb))


def compare_for_sort(a: Value, b: Value) -> int:
    """Ascending sort order: non-number values (naturally ordered) before numbers; a missing
    value is handled by the caller."""
    na, nb = to_number(a), to_number(b)
    if na is not None and nb is not None:
        return (na > nb) - (na < nb)
    if na is not None:
        return 1
    if nb is not None:
        return -1
    x, y = format_value(a), format_value(b)
    assert x is not None and y is not None
    return _compare_text(x, y)
