"""The declaration file's text (runbook.importers.yaml_writer): it reads back as the document,
keeps the documentation's look, and never lets a YAML reader retype a value."""

from __future__ import annotations

import copy

import yaml

from runbook.importers.yaml_writer import render

DOCUMENT = {
    "version": 1,
    "timezone": "Europe/London",
    "contacts": {
        "alice": {
            "name": "Alice Moreau",
            "channels": [{"name": "phone", "type": "sms", "address": "+447700900001"}],
            "engagement": [{"channel": "phone", "after": "0m"}],
        }
    },
    "rotations": {
        "primary": {
            "participants": ["alice", "on", "yes"],
            "start": "2026-01-05T09:00",
            "shift": "weekly",
            "workingHours": [{"days": ["mon", "tue"], "start": "09:00", "end": "24:00"}],
        }
    },
    "escalationPlans": {
        "p": {"stages": [{"duration": "5m", "targets": [{"rotation": "primary"}]}]}
    },
    "responsePlans": [{"id": "x", "match": {"alarmName": "^(a|b \\(c\\))$"}}, {"id": "default"}],
}


def test_it_reads_back_as_the_document_and_leaves_it_alone() -> None:
    before = copy.deepcopy(DOCUMENT)
    text = render(DOCUMENT, ["first line", "", "  indented"])
    assert before == DOCUMENT
    assert yaml.safe_load(text) == DOCUMENT
    assert text.splitlines()[:3] == ["# first line", "#", "#   indented"]


def test_small_records_are_on_one_line_and_times_are_quoted() -> None:
    text = render(DOCUMENT, [])
    assert "      - {name: phone, type: sms, address: '+447700900001'}" in text  # not a number
    assert "    participants: [alice, 'on', 'yes']" in text
    assert '      - {days: [mon, tue], start: "09:00", end: "24:00"}' in text
    assert '    start: "2026-01-05T09:00"' in text
    assert "          - {rotation: primary}" in text
    assert "  - id: default" in text
