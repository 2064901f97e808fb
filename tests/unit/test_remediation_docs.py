"""docs/remediation.md stays true: its YAML examples pass the section's validation (with its
team document example as the file they name), the example-rules table lists exactly the
example's rules with one per shipped document, and the catalogue table states each shipped
document's parameters and the actions its grants really give."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from remediation.documents import SHIPPED
from remediation.rules import check_section

DOC = Path(__file__).resolve().parents[2] / "docs" / "remediation.md"
TEXT = DOC.read_text(encoding="utf-8")
BLOCKS = [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", TEXT, re.DOTALL)]
SECTIONS = [b["remediation"] for b in BLOCKS if isinstance(b, dict) and "remediation" in b]
(TEAM_DOCUMENT,) = [b for b in BLOCKS if isinstance(b, dict) and b.get("schemaVersion")]


def _read(relative: str) -> Any:
    assert relative == "remediation/restart-orders.yaml"
    return TEAM_DOCUMENT


def _table(heading: str) -> list[list[str]]:
    """The rows of the first table under `heading`, cells stripped."""
    part = TEXT.split(heading, 1)[1]
    rows = []
    for line in part.splitlines():
        if line.startswith("|"):
            rows.append([c.strip() for c in line.strip("|").split("|")])
        elif rows:
            break
    return rows[2:]  # header and separator


@pytest.mark.parametrize("index", range(len(SECTIONS)))
def test_every_example_section_is_valid(index: int) -> None:
    loaded, problems = check_section(SECTIONS[index], _read)
    assert problems == []
    assert loaded is not None and loaded.config.rules


def test_the_example_rules_table_is_the_examples_rules_one_per_shipped_document() -> None:
    example = SECTIONS[-1]
    rows = _table("## The shipped example rules")
    assert [r[0].strip("`") for r in rows] == [rule["id"] for rule in example["rules"]]
    used = [rule["document"] for rule in example["rules"]]
    assert set(SHIPPED) <= set(used)
    for row, rule in zip(rows, example["rules"], strict=True):
        assert f"`{rule['document']}`" in row[2] or rule["document"] in row[2]


def test_the_catalogue_table_states_each_documents_parameters_and_grants() -> None:
    rows = {r[0].strip("`"): r for r in _table("## The shipped documents")}
    assert set(rows) == set(SHIPPED)
    for name, spec in SHIPPED.items():
        row = rows[name]
        (required,) = [p for p in spec.parameters if p.required]
        assert f"`{required.name}` {required.type}, required" in row[1]
        assert f"`{spec.resource_type}`" == row[2]
        stated = set(re.findall(r"`([a-z0-9]+:[A-Za-z]+)`", row[3]))
        granted = {action for grant in spec.permissions for action in grant.actions}
        assert stated == granted, name
        for step in spec.steps:
            assert f"`{step.name}`" in row[1]
