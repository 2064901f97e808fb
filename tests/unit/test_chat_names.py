"""Channel names: valid for Slack whatever the alarm is called, and distinct per attempt."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from chat.names import candidate_names, channel_name, slug, unique_channel_name
from incidents.model import Incident

VALID = re.compile(r"^[a-z0-9_-]{1,80}$")


def _incident(**overrides) -> Incident:
    base = {
        "incident_id": "inc-20240501-140307-0badcafe",
        "title": "Checkout is slow",
        "opened_at": "2024-05-01T23:59:59+00:00",
    }
    return Incident(**{**base, **overrides})


def test_accents_are_kept_as_letters() -> None:
    assert slug("Café Crème — Zürich") == "cafe-creme-zurich"


def test_the_date_is_the_utc_day_opened() -> None:
    incident = _incident(opened_at="2024-05-01T23:30:00-02:00")  # 01:30 UTC on the 2nd
    assert channel_name(incident).startswith("inc-20240502-")


def test_candidates_end_with_the_incident_hash() -> None:
    names = candidate_names(_incident(alarm_name="orders-api-errors"))
    assert names == [
        "inc-20240501-orders-api-errors",
        "inc-20240501-orders-api-errors-2",
        "inc-20240501-orders-api-errors-3",
        "inc-20240501-orders-api-errors-4",
        "inc-20240501-orders-api-errors-0badcafe",
    ]


def test_the_unique_name_keeps_its_hash_when_cut() -> None:
    name = unique_channel_name(_incident(alarm_name="a" * 200))
    assert len(name) == 80 and name.endswith("-0badcafe")


@given(
    text=st.text(min_size=0, max_size=300),
    incident_hash=st.from_regex(r"[0-9a-f]{8}", fullmatch=True),
)
def test_every_candidate_is_a_valid_distinct_name(text: str, incident_hash: str) -> None:
    incident = _incident(
        incident_id=f"inc-20240501-140307-{incident_hash}",
        alarm_name=text or None,
        title=text or "x",
    )
    names = candidate_names(incident)
    assert all(VALID.fullmatch(n) for n in names), names
    assert all(n.startswith("inc-20240501-") for n in names)
    assert len(set(names)) == len(names)
