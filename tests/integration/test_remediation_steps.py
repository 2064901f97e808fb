"""The remediation branch's steps (functions/remediation/workflow.py) and the decisions
(functions/remediation/decisions.py) over moto's DynamoDB, with in-memory Step Functions and
SSM fakes (moto 5.2.5 runs no automation executions): one decision per proposal, nothing runs
unapproved, a decision before the token still resumes, the timeout and a recovery that came
first expire it unrun, a failed run is a finding."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from incidents.model import Incident, Resource
from incidents.repository import IncidentRepository
from remediation.decisions import Decisions, NoRemediation
from remediation.proposal import AlreadyDecided, ApprovalExpired, NotAnApprover
from remediation.record import decode
from remediation.rules import RemediationConfig, load_section
from remediation.workflow import RECOVERED_FIRST, RemediationSteps

ROLE = "arn:aws:iam::123456789012:role/IncidentRunbook-RemediationRole"
PRINCIPAL = "arn:aws:sts::123456789012:assumed-role/oncall/alice"
INSTANCE = "i-0aaaaaaaaaaaaaaa1"
NOW = datetime.now(UTC)
RULE: dict[str, Any] = {
    "id": "ec2-system-status",
    "match": {"domain": "aws", "cause": "ec2.system_status_impaired"},
    "document": "AWS-RestartEC2Instance",
    "parameters": {"InstanceId": ["{resource.id}"]},
    "approvers": ["U0ALICE001"],
}


class FakeSfn:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def send_task_success(self, taskToken: str, output: str) -> None:
        self.sent.append((taskToken, json.loads(output)))


class FakeSsm:
    def __init__(self, status: str = "Success") -> None:
        self.started: list[dict[str, Any]] = []
        self.status = status

    def start_automation_execution(self, **kwargs: Any) -> dict[str, Any]:
        self.started.append(kwargs)
        return {"AutomationExecutionId": "exec-1"}

    def get_automation_execution(self, AutomationExecutionId: str) -> dict[str, Any]:
        ended = {"ExecutionEndTime": NOW} if self.status != "InProgress" else {}
        return {
            "AutomationExecution": {
                "AutomationExecutionId": AutomationExecutionId,
                "DocumentName": "AWS-RestartEC2Instance",
                "AutomationExecutionStatus": self.status,
                "ExecutionStartTime": NOW,
                **ended,
                "FailureMessage": "Step stopInstances failed" if self.status == "Failed" else "",
                "StepExecutions": [{"StepName": "stopInstances", "StepStatus": self.status}],
            }
        }


def _diagnostics(impaired: bool = True) -> dict[str, Any]:
    causes = (
        [{"code": "ec2.system_status_impaired", "domain": "aws", "resources": [INSTANCE]}]
        if impaired
        else []
    )
    return {
        "status": "completed",
        "summary": {
            "verdict": {"domain": "aws" if impaired else "undetermined", "causes": causes},
            "sources": [{"source": "ec2", "target": INSTANCE, "status": "ok"}],
        },
        "evidence_uri": "",
    }


@pytest.fixture
def incident(incident_table: Any) -> Incident:
    found = Incident(
        incident_id="inc-20260302-web",
        title="web down",
        severity="high",
        alarm_name="web-system-status",
        resources=[Resource(type="AWS::EC2::Instance", id=INSTANCE)],
        opened_at="2026-03-02T09:55:00Z",
    )
    IncidentRepository(incident_table).create_if_absent(found)
    return found


def _steps(table: Any, sfn: FakeSfn, ssm: FakeSsm, *rules: dict[str, Any]) -> RemediationSteps:
    config = load_section({"rules": list(rules)}).config if rules else RemediationConfig()
    return RemediationSteps(
        table=table,
        sfn=sfn,
        ssm=ssm,
        config=config,
        automation_role_arn=ROLE,
        read_evidence=lambda uri: None,
        responders=("U0BOB00002",),
    )


def _record(table: Any, incident_id: str) -> Any:
    return decode(IncidentRepository(table).get(incident_id).remediation)


def test_propose_records_the_proposal_and_waits_for_a_person(
    incident_table: Any, incident: Incident
) -> None:
    steps = _steps(incident_table, FakeSfn(), FakeSsm(), RULE)
    state = steps.propose(incident.incident_id, {"diagnostics": _diagnostics()}, NOW)
    assert state == {"status": "proposed", "wait_seconds": 900}
    record = _record(incident_table, incident.incident_id)
    assert record.stage == "proposed" and record.proposal.parameters["InstanceId"] == [INSTANCE]
    assert record.proposal.parameters["AutomationAssumeRole"] == [ROLE]
    assert record.before.codes == {"ec2.system_status_impaired"}
    # A retried step decides nothing new.
    assert steps.propose(incident.incident_id, {"diagnostics": _diagnostics()}, NOW) == state


def test_no_rules_or_no_diagnostics_is_no_proposal_with_the_reason(
    incident_table: Any, incident: Incident
) -> None:
    steps = _steps(incident_table, FakeSfn(), FakeSsm())
    assert steps.propose(incident.incident_id, {}, NOW)["status"] == "none"
    reason = _record(incident_table, incident.incident_id).no_proposal.reason
    assert reason == "no remediation rules are configured"


def test_an_auto_approved_severity_runs_without_a_person(
    incident_table: Any, incident: Incident
) -> None:
    steps = _steps(incident_table, FakeSfn(), FakeSsm(), {**RULE, "autoApprove": ["high"]})
    state = steps.propose(incident.incident_id, {"diagnostics": _diagnostics()}, NOW)
    assert state["status"] == "approved"
    decision = _record(incident_table, incident.incident_id).decision
    assert decision.outcome == "auto_approved" and decision.by == "rule:ec2-system-status"


def test_a_cli_approval_resumes_the_workflow_once(incident_table: Any, incident: Incident) -> None:
    sfn, ssm = FakeSfn(), FakeSsm()
    steps = _steps(incident_table, sfn, ssm, RULE)
    steps.propose(incident.incident_id, {"diagnostics": _diagnostics()}, NOW)
    assert steps.run(incident.incident_id, NOW)["status"] == "not_started"  # not approved
    assert ssm.started == []
    assert steps.await_decision(incident.incident_id, "token-1") == {"status": "waiting"}
    decisions = Decisions(incident_table, sfn)
    decision = decisions.decide(
        incident.incident_id, "approve", by=PRINCIPAL, via="cli", at=NOW, label="Alice"
    )
    assert decision.outcome == "approved"
    assert sfn.sent == [("token-1", {"outcome": "approved", "by": PRINCIPAL})]
    item = IncidentRepository(incident_table).get(incident.incident_id)
    assert item.remediation_token is None  # a token is used once
    assert item.timeline[-1].event == "remediation_decided"
    with pytest.raises(AlreadyDecided, match="already approved by Alice"):
        decisions.decide(incident.incident_id, "reject", by=PRINCIPAL, via="cli", at=NOW)
    assert len(sfn.sent) == 1
    # Approved: the run starts with the proposal's client token, and is followed.
    assert steps.run(incident.incident_id, NOW) == {"status": "running", "execution_id": "exec-1"}
    (started,) = ssm.started
    assert (
        started["ClientToken"]
        == _record(incident_table, incident.incident_id).proposal.client_token
    )
    assert steps.watch(incident.incident_id) == {"done": True, "outcome": "success"}
    # The diagnostics again: the impairment went away.
    compared = steps.compare(incident.incident_id, _diagnostics(impaired=False))
    assert compared == {"compared": True, "improved": True}
    after = _record(incident_table, incident.incident_id).after
    assert [(c.change, c.code) for c in after.causes] == [("gone", "ec2.system_status_impaired")]


def test_slack_decisions_only_from_the_approvers(incident_table: Any, incident: Incident) -> None:
    sfn = FakeSfn()
    steps = _steps(incident_table, sfn, FakeSsm(), RULE)
    steps.propose(incident.incident_id, {"diagnostics": _diagnostics()}, NOW)
    steps.await_decision(incident.incident_id, "token-1")
    decisions = Decisions(incident_table, sfn)
    with pytest.raises(NotAnApprover, match="U0BOB00002 may not decide"):
        decisions.decide(incident.incident_id, "reject", by="U0BOB00002", via="slack", at=NOW)
    assert _record(incident_table, incident.incident_id).decision is None and sfn.sent == []
    with pytest.raises(ApprovalExpired):
        decisions.decide(
            incident.incident_id,
            "approve",
            by="U0ALICE001",
            via="slack",
            at=NOW + timedelta(minutes=16),
        )
    decisions.decide(incident.incident_id, "reject", by="U0ALICE001", via="slack", at=NOW)
    assert sfn.sent[0][1]["outcome"] == "rejected"


def test_a_decision_before_the_token_resumes_as_soon_as_the_workflow_waits(
    incident_table: Any, incident: Incident
) -> None:
    sfn = FakeSfn()
    steps = _steps(incident_table, sfn, FakeSsm(), RULE)
    steps.propose(incident.incident_id, {"diagnostics": _diagnostics()}, NOW)
    Decisions(incident_table, sfn).decide(
        incident.incident_id, "approve", by=PRINCIPAL, via="cli", at=NOW
    )
    assert sfn.sent == []  # nobody waits yet
    assert steps.await_decision(incident.incident_id, "token-2") == {
        "status": "decided",
        "outcome": "approved",
    }
    assert sfn.sent == [("token-2", {"outcome": "approved", "by": PRINCIPAL})]


def test_the_timeout_expires_it_unrun_but_a_decision_just_before_stands(
    incident_table: Any, incident: Incident
) -> None:
    sfn, ssm = FakeSfn(), FakeSsm()
    steps = _steps(incident_table, sfn, ssm, RULE)
    steps.propose(incident.incident_id, {"diagnostics": _diagnostics()}, NOW)
    assert steps.expire(incident.incident_id, NOW + timedelta(minutes=15)) == {"outcome": "expired"}
    assert steps.run(incident.incident_id, NOW)["status"] == "not_started" and not ssm.started
    with pytest.raises(AlreadyDecided):
        Decisions(incident_table, sfn).decide(
            incident.incident_id, "approve", by=PRINCIPAL, via="cli", at=NOW
        )


def test_a_recovery_first_withdraws_a_waiting_proposal(
    incident_table: Any, incident: Incident
) -> None:
    sfn = FakeSfn()
    steps = _steps(incident_table, sfn, FakeSsm(), RULE)
    steps.propose(incident.incident_id, {"diagnostics": _diagnostics()}, NOW)
    steps.await_decision(incident.incident_id, "token-1")
    assert steps.withdraw(incident.incident_id, NOW) == {"withdrawn": True, "ran": False}
    decision = _record(incident_table, incident.incident_id).decision
    assert decision.outcome == "expired" and decision.note == RECOVERED_FIRST
    assert sfn.sent == [("token-1", {"outcome": "expired", "by": ""})]
    assert steps.withdraw(incident.incident_id, NOW) == {"withdrawn": False, "ran": False}


def test_a_failed_run_is_a_finding(incident_table: Any, incident: Incident) -> None:
    sfn, ssm = FakeSfn(), FakeSsm(status="Failed")
    steps = _steps(incident_table, sfn, ssm, {**RULE, "autoApprove": ["high"]})
    steps.propose(incident.incident_id, {"diagnostics": _diagnostics()}, NOW)
    steps.run(incident.incident_id, NOW)
    assert steps.watch(incident.incident_id) == {"done": True, "outcome": "failed"}
    timeline = IncidentRepository(incident_table).get(incident.incident_id).timeline
    assert timeline[-1].event == "finding" and "stopInstances failed" in timeline[-1].detail


def test_deciding_without_a_proposal_says_why(incident_table: Any, incident: Incident) -> None:
    with pytest.raises(NoRemediation, match="none yet"):
        Decisions(incident_table, FakeSfn()).decide(
            incident.incident_id, "approve", by=PRINCIPAL, via="cli", at=NOW
        )


def test_the_proposal_buttons_parse_as_decisions() -> None:
    from urllib.parse import urlencode

    from callbacks.interactions import APPROVE_ACTION, REJECT_ACTION, parse_interaction
    from chat.blocks import proposal_blocks

    blocks = proposal_blocks(
        "inc-20260302-101500-0a1b2c3d", "restart", may_decide="<@U0ALICE001>", expires_at="x"
    )
    ids = [e["action_id"] for e in blocks[-1]["elements"]]
    assert ids == [APPROVE_ACTION, REJECT_ACTION]
    for action_id, kind in ((APPROVE_ACTION, "approve"), (REJECT_ACTION, "reject")):
        payload = {
            "type": "block_actions",
            "user": {"id": "U0ALICE001", "username": "alice"},
            "actions": [{"action_id": action_id, "value": "inc-20260302-101500-0a1b2c3d"}],
        }
        body = urlencode({"payload": json.dumps(payload)}).encode()
        interaction = parse_interaction(body)
        assert getattr(interaction, "action", None) == kind
