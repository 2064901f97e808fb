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

TOPIC_SUBSTITUTIONS = {
    "CriticalTopicArn",
    "HighTopicArn",
    "NotificationTopicArn",
    "EscalationTopicArn",
}
CONTRACT_SUBSTITUTIONS = {
    "ClassifyFunctionArn",
    "CollectDiagnosticsFunctionArn",
    "CreateChannelFunctionArn",
    "MonitorRecoveryFunctionArn",
    "CheckStabilityFunctionArn",
    "EscalateFunctionArn",
    "EngageFunctionArn",
    "CreatePostmortemFunctionArn",
    "RemediateFunctionArn",
    *TOPIC_SUBSTITUTIONS,
    "RecoveryTimeoutSeconds",
    "HeartbeatSeconds",
    "StabilisationSeconds",
    "RemediationPollSeconds",
    "DrillTopicArn",
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


# Recovery monitoring and the remediation run side by side in one Parallel (the recovery
# branch ends at WithdrawProposal, then the workflow writes the postmortem).
AWAIT = ASL["States"]["AwaitRecovery"]
RECOVERY = AWAIT["Branches"][0]
REMEDIATION = AWAIT["Branches"][1]
BRANCH_END = "WithdrawProposal"
ALL_STATES = dict(_states(ASL))


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


def test_topic_substitutions_point_at_the_topic_outputs(synth: Synth) -> None:
    substitutions = _state_machine(synth)["DefinitionSubstitutions"]
    outputs = synth.template["Outputs"]
    for key in TOPIC_SUBSTITUTIONS:
        assert substitutions[key] == outputs[key]["Value"], key
    topics = {substitutions[key]["Ref"] for key in TOPIC_SUBSTITUTIONS}
    drill = substitutions["DrillTopicArn"]
    assert drill == outputs["DrillTopicArn"]["Value"]
    # four distinct topics, and the drill topic
    assert topics | {drill["Ref"]} == set(synth.resources("AWS::SNS::Topic"))
    assert substitutions["RecoveryTimeoutSeconds"] == "3600"
    assert substitutions["HeartbeatSeconds"] == "300"
    assert substitutions["StabilisationSeconds"] == "300"
    # ASL: a task's heartbeat must be shorter than its timeout (else it could never lapse).
    assert int(substitutions["HeartbeatSeconds"]) < int(substitutions["RecoveryTimeoutSeconds"])
    assert set(STEP_SUBSTITUTIONS) | TOPIC_SUBSTITUTIONS <= CONTRACT_SUBSTITUTIONS


def test_each_page_goes_to_its_severitys_topic() -> None:
    states = dict(_states(ASL))
    publishers = {
        name: state["Parameters"]["TopicArn"]
        for name, state in states.items()
        if state.get("Resource") == "arn:aws:states:::sns:publish"
    }
    assert publishers == {
        "PageOnCall": "${CriticalTopicArn}",
        "PageOnCallHigh": "${HighTopicArn}",
        "NotifyTeam": "${NotificationTopicArn}",
        "EscalateDirectly": "${EscalationTopicArn}",
        "PageOnCallDrill": "${DrillTopicArn}",
    }
    branches = {
        name: {branch["StartAt"] for branch in ASL["States"][name]["Branches"]}
        for name in ("CriticalResponse", "HighResponse", "StandardResponse")
    }
    assert "PageOnCall" in branches["CriticalResponse"]
    assert "PageOnCallHigh" in branches["HighResponse"]
    assert "NotifyTeam" in branches["StandardResponse"]
    assert not {"PageOnCall", "PageOnCallHigh"} & branches["StandardResponse"]
    drill = {branch["StartAt"] for branch in ASL["States"]["DrillResponse"]["Branches"]}
    assert "PageOnCallDrill" in drill and not {"PageOnCall", "EngageResponders"} & drill


def test_only_a_drill_to_the_drill_topic_takes_the_drill_response() -> None:
    """The first choice: `drill_target` present and "topic"; a rotation drill (and every real
    incident) goes on to the severity branches."""
    first = ASL["States"]["DetermineResponse"]["Choices"][0]
    assert first["Next"] == "DrillResponse"
    assert first["And"] == [
        {"Variable": "$.incident.drill_target", "IsPresent": True},
        {"Variable": "$.incident.drill_target", "StringEquals": "topic"},
    ]
    assert ASL["States"]["DrillResponse"]["Next"] == "StartWaiting"


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


# --- The graph: every state reachable, every transition to a state that exists ------------

END_TYPES = {"Succeed", "Fail"}


def _scopes(definition: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The top level and every Parallel branch / Map processor: each its own namespace."""
    yield definition
    for state in definition["States"].values():
        for branch in state.get("Branches", []):
            yield from _scopes(branch)
        for key in ("Iterator", "ItemProcessor"):
            if key in state:
                yield from _scopes(state[key])


def _targets(state: dict[str, Any]) -> list[str]:
    targets = [state["Next"]] if "Next" in state else []
    targets += [choice["Next"] for choice in state.get("Choices", [])]
    targets += [state["Default"]] if "Default" in state else []
    targets += [catcher["Next"] for catcher in state.get("Catch", [])]
    return targets


def _edges(definition: dict[str, Any] = RECOVERY) -> dict[str, set[str]]:
    return {name: set(_targets(state)) for name, state in definition["States"].items()}


def _reachable(edges: dict[str, set[str]], start: str, without: str | None = None) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        name = todo.pop()
        if name in seen or name == without:
            continue
        seen.add(name)
        todo.extend(edges[name])
    return seen


def _has_cycle(edges: dict[str, set[str]]) -> bool:
    state: dict[str, int] = {}  # 1 on the stack, 2 done

    def visit(name: str) -> bool:
        state[name] = 1
        for target in edges[name]:
            if state.get(target) == 1 or (target not in state and visit(target)):
                return True
        state[name] = 2
        return False

    return any(visit(name) for name in edges if name not in state)


@pytest.mark.parametrize("scope", list(_scopes(ASL)), ids=lambda scope: scope["StartAt"])
def test_every_transition_targets_a_state_of_its_scope(scope: dict[str, Any]) -> None:
    names = set(scope["States"])
    assert scope["StartAt"] in names
    for name, state in scope["States"].items():
        for target in _targets(state):
            assert target in names, f"{name} -> {target}"
        ends = state.get("End") is True or state["Type"] in END_TYPES | {"Choice"}
        assert ends != ("Next" in state), f"{name}: exactly one of Next/End"
        if state["Type"] == "Choice":
            assert state["Choices"], name
            assert "Default" in state, f"{name} has no Default (an unmatched input fails)"


@pytest.mark.parametrize("scope", list(_scopes(ASL)), ids=lambda scope: scope["StartAt"])
def test_every_state_is_reachable(scope: dict[str, Any]) -> None:
    edges = _edges(scope)
    assert _reachable(edges, scope["StartAt"]) == set(scope["States"])


def test_every_state_can_reach_the_postmortem_or_a_visible_failure() -> None:
    edges = _edges(ASL)
    for name in ASL["States"]:
        reachable = _reachable(edges, name)
        assert {"DocumentIncident", "DocumentationFailed"} & reachable, name
    # Inside the Parallel, every recovery path ends through WithdrawProposal.
    edges = _edges(RECOVERY)
    for name in RECOVERY["States"]:
        assert {BRANCH_END, "RecoveryBranchDone"} & _reachable(edges, name), name
    assert AWAIT["Next"] == "DocumentIncident" and AWAIT["OutputPath"] == "$[0]"


def test_every_loop_waits_in_monitor_recovery() -> None:
    """The escalation loop and the flap loop both pass MonitorRecovery (which waits up to the
    recovery timeout); with it removed, the graph has no cycle: nothing spins."""
    edges = _edges()
    assert _has_cycle(edges)
    without = {
        name: targets - {"MonitorRecovery"}
        for name, targets in edges.items()
        if name != "MonitorRecovery"
    }
    assert not _has_cycle(without)


def _catchers(state: str) -> dict[str, dict[str, Any]]:
    return {
        error: catcher for catcher in ALL_STATES[state]["Catch"] for error in catcher["ErrorEquals"]
    }


def test_monitor_recovery_waits_with_a_timeout_and_a_heartbeat() -> None:
    monitor = ALL_STATES["MonitorRecovery"]
    assert monitor["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken"
    # The wait is the escalation plan's next event while one runs, else the recovery timeout.
    assert monitor["TimeoutSecondsPath"] == "$.engagement.wait_seconds"
    assert monitor["HeartbeatSecondsPath"] == "$.engagement.heartbeat_seconds"
    assert "TimeoutSeconds" not in monitor and "HeartbeatSeconds" not in monitor
    assert monitor["Next"] == "RecoveryOutcome"
    # Both the classified and the fallback path set every setting the waits read.
    for name in ("ClassifyIncident", "ClassificationFailed"):
        state = ASL["States"][name]
        settings = (state.get("ResultSelector") or state["Parameters"])["settings"]
        assert settings == {
            "recovery_timeout_seconds.$": "States.StringToJson('${RecoveryTimeoutSeconds}')",
            "heartbeat_seconds.$": "States.StringToJson('${HeartbeatSeconds}')",
            "stabilisation_seconds.$": "States.StringToJson('${StabilisationSeconds}')",
        }, name
        # ... and the first wait: the recovery timeout, until EngageResponders says otherwise.
        assert (state.get("ResultSelector") or state["Parameters"])["engagement"] == {
            "active": False,
            "wait_seconds.$": "States.StringToJson('${RecoveryTimeoutSeconds}')",
            "heartbeat_seconds.$": "States.StringToJson('${HeartbeatSeconds}')",
        }, name
    # Every response goes through StartWaiting, which takes the engage branch's wait.
    for name in ("CriticalResponse", "HighResponse", "StandardResponse"):
        assert ASL["States"][name]["Next"] == "StartWaiting", name
    start = ASL["States"]["StartWaiting"]
    assert start["ResultPath"] == "$.engagement" and start["Next"] == "AwaitRecovery"
    assert RECOVERY["StartAt"] == "MonitorRecovery"
    wait = ALL_STATES["StabilisationWait"]
    assert wait["Type"] == "Wait"
    assert wait["SecondsPath"] == "$.settings.stabilisation_seconds"


@pytest.mark.parametrize(
    ("error", "reason"), [("States.Timeout", "timeout"), ("States.HeartbeatTimeout", "heartbeat")]
)
def test_monitor_recovery_escalates_on_timeout_and_lapsed_heartbeat(
    error: str, reason: str
) -> None:
    catchers = ALL_STATES["MonitorRecovery"]["Catch"]
    caught = [e for catcher in catchers for e in catcher["ErrorEquals"]]
    # Catchers are tried in order: the specific ones must come before States.ALL (last, alone).
    assert catchers[-1]["ErrorEquals"] == ["States.ALL"]
    assert caught.index(error) < caught.index("States.ALL")
    catcher = _catchers("MonitorRecovery")[error]
    assert catcher["ResultPath"] == "$.error"  # the incident and settings are kept
    request = ALL_STATES[catcher["Next"]]
    assert request["Type"] == "Pass"
    assert request["Parameters"]["reason"] == reason
    assert request["ResultPath"] == "$.escalation_request"
    assert request["Next"] == "Escalate"
    # Any other failure of the wait does not escalate: it goes (recorded) to the postmortem.
    other = ALL_STATES[_catchers("MonitorRecovery")["States.ALL"]["Next"]]
    assert other["Next"] == BRANCH_END
    assert other["ResultPath"] == "$.recovery"


def test_recovery_outcome_routes_each_status() -> None:
    outcome = ALL_STATES["RecoveryOutcome"]
    assert outcome["Type"] == "Choice"
    routes = {
        choice["StringEquals"]: choice["Next"]
        for choice in outcome["Choices"]
        if choice["Variable"] == "$.recovery.status"
    }
    assert len(routes) == len(outcome["Choices"])
    assert routes == {"recovered": "StabilisationWait", "escalate": "OperatorEscalation"}
    assert outcome["Default"] == BRANCH_END  # resolved (and anything else) closes
    operator = ALL_STATES["OperatorEscalation"]
    assert operator["Parameters"]["reason"] == "operator"
    assert operator["ResultPath"] == "$.escalation_request"
    assert operator["Next"] == "Escalate"


def test_stabilisation_rechecks_then_closes_or_waits_again() -> None:
    assert ALL_STATES["StabilisationWait"]["Next"] == "CheckStability"
    check = ALL_STATES["CheckStability"]
    assert check["Parameters"]["FunctionName"] == "${CheckStabilityFunctionArn}"
    assert check["ResultPath"] == "$.stability"
    assert check["Next"] == "StabilityOutcome"
    outcome = ALL_STATES["StabilityOutcome"]
    (flapped,) = outcome["Choices"]
    assert flapped == {
        "Variable": "$.stability.stable",
        "BooleanEquals": False,
        "Next": "MonitorRecovery",
    }
    assert outcome["Default"] == BRANCH_END
    # A failed re-check closes (the alarm did report OK) instead of looping or failing.
    assert ALL_STATES[_catchers("CheckStability")["States.ALL"]["Next"]]["Next"] == (BRANCH_END)


def test_the_escalation_loop_returns_to_the_wait_and_can_close_unresolved() -> None:
    escalate = ALL_STATES["Escalate"]
    assert escalate["Parameters"]["FunctionName"] == "${EscalateFunctionArn}"
    assert escalate["Parameters"]["Payload"]["request.$"] == "$.escalation_request"
    assert escalate["ResultPath"] == "$.escalation"
    assert escalate["Next"] == "EscalationOutcome"
    outcome = ALL_STATES["EscalationOutcome"]
    (close,) = outcome["Choices"]
    assert close == {
        "Variable": "$.escalation.close",
        "BooleanEquals": True,
        "Next": "RecoveryUnresolved",
    }
    assert outcome["Default"] == "NextWait"  # wait again, as long as Escalate says
    again = ALL_STATES["NextWait"]
    assert again["Parameters"]["wait_seconds.$"] == "$.escalation.engagement.wait_seconds"
    assert again["ResultPath"] == "$.engagement" and again["Next"] == "MonitorRecovery"
    unresolved = ALL_STATES["RecoveryUnresolved"]
    assert unresolved["ResultPath"] == "$.recovery"
    assert unresolved["Parameters"]["status"] == "timed_out"
    assert unresolved["Next"] == BRANCH_END


def test_a_failed_escalate_step_pages_directly_and_closes_without_looping() -> None:
    fallback_name = _catchers("Escalate")["States.ALL"]["Next"]
    assert fallback_name == "EscalateDirectly"
    fallback = ALL_STATES[fallback_name]
    assert fallback["Parameters"]["TopicArn"] == "${EscalationTopicArn}"
    assert fallback["ResultPath"] is None  # keeps $.escalation_request for RecoveryUnresolved
    assert fallback["Next"] == "RecoveryUnresolved"
    assert {c["Next"] for c in fallback["Catch"]} == {"RecoveryUnresolved"}
    assert "MonitorRecovery" not in _reachable(_edges(), fallback_name)


def test_every_path_to_escalate_sets_the_request() -> None:
    edges = _edges()
    into = {name for name, targets in edges.items() if "Escalate" in targets}
    assert into == {"RecoveryTimedOut", "HeartbeatLapsed", "OperatorEscalation"}
    for name in into:
        state = ALL_STATES[name]
        assert state["ResultPath"] == "$.escalation_request", name
        assert state["Parameters"]["reason"] in {"timeout", "heartbeat", "operator"}, name


# --- The remediation branch ----------------------------------------------------------


def test_the_remediation_branch_proposes_waits_runs_watches_and_compares() -> None:
    states = REMEDIATION["States"]
    assert REMEDIATION["StartAt"] == "RemediationSettings"
    assert states["ProposeRemediation"]["Parameters"]["FunctionName"] == "${RemediateFunctionArn}"
    wait = states["WaitForDecision"]
    assert wait["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken"
    assert wait["TimeoutSecondsPath"] == "$.remediation.wait_seconds"
    assert wait["Parameters"]["Payload"]["task_token.$"] == "$$.Task.Token"
    catchers = {e: c["Next"] for c in wait["Catch"] for e in c["ErrorEquals"]}
    assert catchers == {"States.Timeout": "ExpireProposal", "States.ALL": "RemediationFailed"}
    # Only an approval (a person's or the rule's own) leads to the run; anything else ends.
    (approved,) = states["DecisionOutcome"]["Choices"]
    assert approved["Next"] == "RunRemediation"
    assert {c["StringEquals"] for c in approved["Or"]} == {"approved", "auto_approved"}
    assert states["DecisionOutcome"]["Default"] == "RemediationDone"
    proposed = {c["StringEquals"]: c["Next"] for c in states["RemediationProposed"]["Choices"]}
    assert proposed == {"proposed": "WaitForDecision", "approved": "RunRemediation"}
    # The watch loop waits every time round; it ends in the re-run diagnostics and the diff.
    assert states["RunEnded"]["Default"] == "WaitForRun"
    assert states["WaitForRun"]["Next"] == "WatchRemediation"
    recheck = states["RecheckDiagnostics"]
    assert recheck["Parameters"]["FunctionName"] == "${CollectDiagnosticsFunctionArn}"
    assert recheck["Parameters"]["Payload"]["phase"] == "after_remediation"
    assert set(recheck["ResultSelector"]) == {"status.$", "evidence_uri.$"}  # state stays small
    assert states["CompareFindings"]["Next"] == "RemediationDone"
    edges = _edges(REMEDIATION)
    without = {n: t - {"WaitForRun"} for n, t in edges.items() if n != "WaitForRun"}
    assert _has_cycle(edges) and not _has_cycle(without)
    for name in states:  # every failure ends the branch, never the incident
        assert "RemediationDone" in _reachable(edges, name), name
