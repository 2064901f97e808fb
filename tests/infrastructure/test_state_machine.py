"""The ASL file, its substitutions and the definition the stack deploys."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from stacks.incident_runbook_stack import DEFINITION_FILE, STEP_SUBSTITUTIONS
from stacks.workflow import placeholders

from .conftest import Synth

ASL = json.loads(DEFINITION_FILE.read_text())
PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")

CONTRACT_SUBSTITUTIONS = {
    "ClassifyFunctionArn",
    "CollectDiagnosticsFunctionArn",
    "CreateChannelFunctionArn",
    "MonitorRecoveryFunctionArn",
    "CreatePostmortemFunctionArn",
    "PagingTopicArn",
    "NotificationTopicArn",
    "RecoveryTimeoutSeconds",
}


def _states(definition: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every state, including those inside Parallel branches and Map iterators."""
    for name, state in definition["States"].items():
        yield name, state
        for branch in state.get("Branches", []):
            yield from _states(branch)
        for key in ("Iterator", "ItemProcessor"):
            if key in state:
                yield from _states(state[key])


def _state_machine(synth: Synth) -> dict[str, Any]:
    (resource,) = synth.resources("AWS::StepFunctions::StateMachine").values()
    return dict(resource["Properties"])


def test_asl_placeholders_are_the_contract() -> None:
    assert placeholders(DEFINITION_FILE) == CONTRACT_SUBSTITUTIONS


def test_every_placeholder_has_a_substitution_and_vice_versa(synth: Synth) -> None:
    props = _state_machine(synth)
    definition = props["DefinitionString"]
    assert isinstance(definition, str)  # inline in the template, not an S3 asset
    assert "DefinitionS3Location" not in props
    assert set(PLACEHOLDER.findall(definition)) == set(props["DefinitionSubstitutions"])


def test_rendered_definition_has_no_unresolved_placeholder(synth: Synth) -> None:
    props = _state_machine(synth)
    rendered = props["DefinitionString"]
    for key, value in props["DefinitionSubstitutions"].items():
        # Deploy-time values (Fn::GetAtt/Ref) stand in as a marker of where they go.
        replacement = value if isinstance(value, str) else f"<{key}>"
        rendered = rendered.replace("${" + key + "}", replacement)
    assert "${" not in rendered
    parsed = json.loads(rendered)
    classify = parsed["States"]["ClassifyIncident"]
    assert classify["Parameters"]["FunctionName"] == "<ClassifyFunctionArn>"
    timeout = classify["ResultSelector"]["settings"]["recovery_timeout_seconds.$"]
    assert timeout == "States.StringToJson('3600')"


def test_deployed_definition_is_the_asl_file(synth: Synth) -> None:
    assert json.loads(_state_machine(synth)["DefinitionString"]) == ASL


def test_function_substitutions_point_at_their_steps(synth: Synth) -> None:
    substitutions = _state_machine(synth)["DefinitionSubstitutions"]
    for key, step in STEP_SUBSTITUTIONS.items():
        logical_id, attribute = substitutions[key]["Fn::GetAtt"]
        assert attribute == "Arn"
        function = synth.template["Resources"][logical_id]
        assert function["Properties"]["Handler"] == f"handlers.{step}.lambda_handler"


def test_topic_substitutions_point_at_the_two_topics(synth: Synth) -> None:
    substitutions = _state_machine(synth)["DefinitionSubstitutions"]
    outputs = synth.template["Outputs"]
    assert substitutions["PagingTopicArn"] == outputs["PagingTopicArn"]["Value"]
    assert substitutions["NotificationTopicArn"] == outputs["NotificationTopicArn"]["Value"]
    assert substitutions["RecoveryTimeoutSeconds"] == "3600"


def test_asl_is_jsonpath_only() -> None:
    assert ASL.get("QueryLanguage", "JSONPath") == "JSONPath"
    for name, state in _states(ASL):
        assert state.get("QueryLanguage", "JSONPath") == "JSONPath", name


TASKS = [name for name, state in _states(ASL) if state["Type"] == "Task"]


def test_the_asl_has_the_expected_tasks() -> None:
    assert len(TASKS) >= 7
    assert {"ClassifyIncident", "MonitorRecovery", "DocumentIncident"} <= set(TASKS)


@pytest.mark.parametrize("task", TASKS)
def test_every_task_has_retry_and_catch(task: str) -> None:
    state = dict(_states(ASL))[task]
    assert state.get("Retry"), f"{task} has no Retry"
    catchers = state.get("Catch")
    assert catchers, f"{task} has no Catch"
    caught = {error for catcher in catchers for error in catcher["ErrorEquals"]}
    assert "States.ALL" in caught, f"{task} lets some error stop the execution"


@pytest.mark.parametrize("task", TASKS)
def test_task_resources_are_direct_integrations(task: str) -> None:
    resource = dict(_states(ASL))[task]["Resource"]
    assert resource in {
        "arn:aws:states:::lambda:invoke",
        "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "arn:aws:states:::sns:publish",
    }
