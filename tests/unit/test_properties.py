"""Properties that must hold for any alarm name or title, however hostile."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from chat.slack import MAX_CHANNEL_NAME, channel_name
from incidents.model import Incident
from incidents.notification import subject
from postmortem.render import inline

SLACK_NAME = re.compile(r"^[a-z0-9_-]+$")
TEXT = st.text(min_size=1, max_size=400)


def _incident(name: str) -> Incident:
    return Incident(
        incident_id="inc-20240501-140307-0badcafe",
        title=name,
        alarm_name=name,
        severity="high",
        opened_at="2024-05-01T14:03:07Z",
    )


@settings(max_examples=200, deadline=None)
@given(TEXT, st.integers(min_value=1, max_value=5))
def test_channel_names_are_always_valid_for_slack(name: str, attempt: int) -> None:
    value = channel_name(_incident(name), attempt)
    assert SLACK_NAME.fullmatch(value)
    assert len(value) <= MAX_CHANNEL_NAME
    assert value.startswith("inc-20240501-")


@settings(max_examples=200, deadline=None)
@given(TEXT)
def test_subjects_always_fit_sns(name: str) -> None:
    value = subject(_incident(name))
    assert len(value) < 100
    assert value.isascii() and value.isprintable()
    assert value.startswith("[HIGH] ")


@settings(max_examples=200, deadline=None)
@given(TEXT)
def test_inline_text_never_opens_html_links_or_table_cells(text: str) -> None:
    value = inline(text)
    assert "<" not in value and ">" not in value
    assert "\n" not in value
    assert re.search(r"(?<!\\)[|\[\]`*_]", value) is None
