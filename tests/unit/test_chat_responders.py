"""SLACK_RESPONDERS: a JSON list of Slack user ids, absent or empty meaning nobody."""

from __future__ import annotations

import pytest

from chat.responders import configured_responders, parse_responders
from shared.errors import ConfigurationError


@pytest.mark.parametrize("raw", [None, "", "  ", "[]"])
def test_nobody(raw) -> None:
    assert parse_responders(raw) == ()


def test_ids_in_order_without_duplicates() -> None:
    assert parse_responders('["U012AB3CD", "W0XYZ9", "U012AB3CD"]') == ("U012AB3CD", "W0XYZ9")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("U012AB3CD", "JSON list"),
        ('{"ids": ["U012AB3CD"]}', "JSON list"),
        ('["u012ab3cd"]', "u012ab3cd"),
        ('["C0CHANNEL"]', "C0CHANNEL"),
        ('["U1"]', "U1"),
        ('["@alice"]', "@alice"),
        ("[12345]", "12345"),
        ('["U012AB3CD "]', "U012AB3CD "),
    ],
)
def test_anything_else_is_a_configuration_error(raw, message) -> None:
    with pytest.raises(ConfigurationError, match="SLACK_RESPONDERS") as caught:
        parse_responders(raw)
    assert message in str(caught.value)


def test_too_many() -> None:
    users = [f"U{n:06d}" for n in range(1001)]
    with pytest.raises(ConfigurationError, match="at most 1000"):
        parse_responders(str(users).replace("'", '"'))


def test_read_from_the_environment(monkeypatch) -> None:
    monkeypatch.delenv("SLACK_RESPONDERS", raising=False)
    assert configured_responders() == ()
    monkeypatch.setenv("SLACK_RESPONDERS", '["U0ALICE01"]')
    assert configured_responders() == ("U0ALICE01",)
