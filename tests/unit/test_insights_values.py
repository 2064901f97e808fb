"""How values print in results, compare in filters and sort."""

from __future__ import annotations

import math
import random
from functools import cmp_to_key

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runbook.insights.values import (
    Timestamp,
    compare,
    compare_for_sort,
    format_float,
    format_time,
    format_value,
    to_number,
)


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (128_000_000.0, "1.28e+08"),
        (74_000_000.0, "7.4e+07"),
        (1_000_000.0, "1e+06"),
        (999_999.0, "999999"),
        (128.0, "128"),
        (93.75, "93.75"),
        (29000.5, "29000.5"),
        (0.1 + 0.2, "0.30000000000000004"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (-2.5, "-2.5"),
        (0.0, "0"),
        (1.5e300, "1.5e+300"),
        (math.inf, "+Inf"),
        (-math.inf, "-Inf"),
        (math.nan, "NaN"),
    ],
)
def test_floats_print_like_go_shortest_g(number: float, text: str) -> None:
    assert format_float(number) == text


@settings(max_examples=300)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_printed_floats_read_back_exactly(number: float) -> None:
    assert float(format_float(number)) == number


def test_format_value() -> None:
    assert format_value(None) is None
    assert format_value(True) == "true"
    assert format_value(42) == "42"
    assert format_value(Timestamp(1_714_564_800_123)) == "2024-05-01 12:00:00.123"
    assert format_value("as is") == "as is"


def test_format_time_pads_milliseconds() -> None:
    assert format_time(1_714_564_805_007) == "2024-05-01 12:00:05.007"
    assert format_time(0) == "1970-01-01 00:00:00.000"


def test_to_number() -> None:
    assert to_number("502") == 502
    assert to_number(" -1.5 ") == -1.5
    assert to_number("1e3") == 1000.0
    assert to_number("0x10") is None
    assert to_number("12ms") is None
    assert to_number("-") is None
    assert to_number(True) is None
    assert to_number(None) is None
    assert to_number("9" * 5000) == float("inf")


def test_compare() -> None:
    assert compare("=", "502", 502)
    assert compare(">=", "502", 400)
    assert not compare(">", "abc", 1)
    assert not compare("<", "abc", 1)
    assert not compare("=", "n/a", 0)
    assert compare("!=", "n/a", 0)
    assert compare("<", "abc", "abd")
    assert compare("!=", "a", "b")
    assert not compare("=", None, None)
    assert not compare("!=", None, "x")
    assert compare("=", True, "true")


def test_sort_order_of_the_documentation_example() -> None:
    # The ascending order CloudWatch's sort documentation shows: non-numbers first in
    # "natural" order (digit runs by length, then value; the rest by code point), then numbers.
    documented = [
        "!:",
        "#",
        "*%04",
        "0#",
        "5A",
        "111A",
        "2345_",
        "@",
        "@_",
        "A",
        "A9876fghj",
        "a12345hfh",
        "0",
    ]
    shuffled = documented[:]
    random.Random(7).shuffle(shuffled)
    assert sorted(shuffled, key=cmp_to_key(compare_for_sort)) == documented


def test_numbers_sort_numerically_and_after_text() -> None:
    values: list[object] = ["10", 9, "b", 1.5, "a2", "a10"]
    assert sorted(values, key=cmp_to_key(compare_for_sort)) == ["a2", "a10", "b", 1.5, 9, "10"]
