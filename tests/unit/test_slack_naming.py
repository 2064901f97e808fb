"""Slack channel names: inc-<yyyymmdd>-<slug>, lowercase, at most 80 characters."""

from __future__ import annotations

import re

import pytest

from chat.slack import channel_name, escape, slug
from incidents.model import Incident

VALID = re.compile(r"^[a-z0-9_-]{1,80}$")


def _incident(**overrides) -> Incident:
    base = {
        "incident_id": "inc-20240501-140307-0badcafe",
        "title": "Checkout is slow",
        "opened_at": "2024-05-01T14:03:07Z",
    }
    return Incident(**{**base, **overrides})


def test_name_from_alarm_name() -> None:
    assert (
        channel_name(_incident(alarm_name="Orders-API Errors!")) == "inc-20240501-orders-api-errors"
    )


def test_name_from_title_without_alarm() -> None:
    assert channel_name(_incident()) == "inc-20240501-checkout-is-slow"


@pytest.mark.parametrize("attempt", [1, 2, 5])
def test_long_names_are_cut_to_80_with_the_suffix_kept(attempt: int) -> None:
    name = channel_name(_incident(alarm_name="x" * 200), attempt)
    assert VALID.fullmatch(name)
    assert len(name) == 80
    assert name.endswith(f"-{attempt}") == (attempt > 1)


def test_unusable_titles_fall_back_to_the_id_hash() -> None:
    assert channel_name(_incident(title="🔥🔥")) == "inc-20240501-0badcafe"


def test_slug_and_escape() -> None:
    assert slug("  A__b  --  C ") == "a__b-c"
    assert escape("<@U123> & <!channel>") == "&lt;@U123&gt; &amp; &lt;!channel&gt;"
