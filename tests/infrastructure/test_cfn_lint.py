"""cfn-lint on the synthesised template: no errors and no warnings beyond .cfnlintrc.yaml.

cdk-nag checks best practice while synthesising; cfn-lint checks the template against the
CloudFormation resource specification (property types, allowed values, references, IAM
policy syntax), which catches what the CDK's types let through (docs/security.md).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from cfnlint.api import ManualArgs, lint

from .conftest import REGION, Synth

CONFIG = Path(__file__).resolve().parents[2] / ".cfnlintrc.yaml"


def _config() -> dict[str, Any]:
    return yaml.safe_load(CONFIG.read_text())


def test_every_ignored_rule_has_a_reason() -> None:
    """An ignore without a comment above it is a finding swept under the rug."""
    lines = CONFIG.read_text().splitlines()
    for rule in _config()["ignore_checks"]:
        at = lines.index(f"  - {rule}")
        assert lines[at - 1].lstrip().startswith("#"), f"{rule} is ignored without a reason"


def test_template_has_no_errors_or_warnings(synth: Synth) -> None:
    config = _config()
    matches = lint(
        json.dumps(synth.template),
        config=ManualArgs(regions=[REGION], ignore_checks=config["ignore_checks"]),
    )
    found = [
        f"{m.rule.id} {'/'.join(str(p) for p in m.path)}: {m.message}"
        for m in matches
        if m.rule.id[0] in "EW"
    ]
    assert found == []
