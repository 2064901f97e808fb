"""runbook/local/automation_documents.py: the AWS-owned runbooks' documented parameters and
steps, parameter checking as Automation does it, and ``{{ }}`` rendering."""

from __future__ import annotations

from typing import Any

import pytest

from runbook.local.automation import select
from runbook.local.automation_documents import (
    CATALOGUE,
    document_name,
    parameter_variables,
    parse_content,
    resolve_parameters,
    substitute,
)
from runbook.local.json_api import ApiError


@pytest.mark.parametrize(
    ("name", "steps", "instance_type"),
    [
        ("AWS-RestartEC2Instance", ["stopInstances", "startInstances"], "StringList"),
        ("AWS-StopEC2Instance", ["stopInstances"], "StringList"),
        ("AWS-StartEC2Instance", ["startInstances"], "StringList"),
        ("AWS-RebootRdsInstance", ["RebootInstance", "WaitForAvailableState"], "String"),
    ],
)
def test_the_catalogue_has_the_documented_parameters_and_steps(
    name: str, steps: list[str], instance_type: str
) -> None:
    document = CATALOGUE[name]
    assert [s.name for s in document.steps] == steps
    parameters = {p.name: p for p in document.parameters}
    assert set(parameters) == {"InstanceId", "AutomationAssumeRole"}
    assert parameters["InstanceId"].type == instance_type and parameters["InstanceId"].required
    assert not parameters["AutomationAssumeRole"].required
    assert document.owner == "Amazon" and document.outputs == ()


def test_parameters_get_their_defaults_and_unknown_or_missing_ones_are_refused() -> None:
    restart = CATALOGUE["AWS-RestartEC2Instance"]
    assert resolve_parameters(restart, {"InstanceId": ["i-1", "i-2"]}) == {
        "InstanceId": ["i-1", "i-2"],
        "AutomationAssumeRole": [],  # the default is the empty string: no value
    }
    with pytest.raises(ApiError) as unknown:
        resolve_parameters(restart, {"InstanceId": ["i-1"], "InstanceIds": ["i-1"]})
    assert unknown.value.code == "InvalidAutomationExecutionParametersException"
    assert "InstanceIds" in unknown.value.message
    with pytest.raises(ApiError) as missing:
        resolve_parameters(restart, {})
    assert missing.value.message == "Missing required parameter: InstanceId in user inputs."


CONTENT: dict[str, Any] = {
    "schemaVersion": "0.3",
    "parameters": {
        "Count": {"type": "Integer", "default": 2},
        "DryRun": {"type": "Boolean", "default": False},
        "Level": {"type": "String", "default": "low", "allowedValues": ["low", "high"]},
        "Targets": {"type": "StringList"},
    },
    "mainSteps": [
        {
            "name": "act",
            "action": "aws:executeAwsApi",
            "onFailure": "step:undo",
            "inputs": {"Ids": "{{ Targets }}", "Note": "level {{Level}} x{{ Count }} {{ Nope }}"},
        },
        {"name": "undo", "action": "aws:sleep", "isEnd": True},
    ],
    "outputs": ["act.Result"],
}


def test_user_documents_are_parsed_and_their_types_checked() -> None:
    document = parse_content("Team-Doc", CONTENT, "3", "123456789012")
    assert (document.version, document.outputs) == ("3", ("act.Result",))
    act, undo = document.steps
    assert (act.on_failure, undo.is_end, act.is_critical) == ("step:undo", True, True)
    resolved = resolve_parameters(document, {"Targets": ["a", "b"]})
    assert resolved == {
        "Count": ["2"],
        "DryRun": ["false"],
        "Level": ["low"],
        "Targets": ["a", "b"],
    }
    for bad in (
        {"Count": ["two"]},
        {"DryRun": ["maybe"]},
        {"Level": ["mid"]},
        {"Level": ["low", "high"]},
    ):
        with pytest.raises(ApiError):
            resolve_parameters(document, {"Targets": ["a"], **bad})
    with pytest.raises(ApiError) as not_automation:
        parse_content("Team-Command", {"schemaVersion": "2.2", "mainSteps": []}, "1", "x")
    assert not_automation.value.code == "AutomationDefinitionNotFoundException"


def test_references_render_to_values_and_lists_stay_lists() -> None:
    document = parse_content("Team-Doc", CONTENT, "1", "123456789012")
    variables = parameter_variables(document, resolve_parameters(document, {"Targets": ["a", "b"]}))
    assert variables == {"Count": 2, "DryRun": False, "Level": "low", "Targets": ["a", "b"]}
    rendered = substitute(document.steps[0].inputs, variables)
    assert rendered == {"Ids": ["a", "b"], "Note": "level low x2 {{ Nope }}"}


def test_names_arns_and_selectors() -> None:
    assert document_name("arn:aws:ssm:us-east-1::document/AWS-RestartEC2Instance") == (
        "AWS-RestartEC2Instance"
    )
    assert document_name("Team-Doc") == "Team-Doc"
    response = {"DBInstances": [{"DBInstanceStatus": "available", "Tags": []}]}
    assert select(response, "$.DBInstances[0].DBInstanceStatus") == "available"
    assert select(response, "$.DBInstances[1].DBInstanceStatus") is None
    assert select(response, "$.Missing.Deeper") is None
