"""The decision rules (functions/remediation/proposal.py): never run unapproved unless the rule
auto-approves that severity, Slack decisions only from the approvers, CLI decisions record an
IAM principal, nothing after the approval timeout, and a decision is never replaced."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from remediation.proposal import (
    AlreadyDecided,
    ApprovalExpired,
    Decision,
    InvalidApprover,
    NotAnApprover,
    Proposal,
    approve,
    auto_approval,
    client_token,
    expire,
    may_run,
    new_proposal,
    reject,
)

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
PRINCIPAL = "arn:aws:sts::123456789012:assumed-role/OnCall/alice@example.com"


def _proposal(
    auto: bool = False, approvers: tuple[str, ...] = ("U0ALICE01", "W0BOB0002")
) -> Proposal:
    return new_proposal(
        incident_id="inc-1",
        rule_id="ec2-system-status",
        description="Stop and start EC2 instances",
        document="AWS-RestartEC2Instance",
        document_name="AWS-RestartEC2Instance",
        parameters={"InstanceId": ["i-1"], "AutomationAssumeRole": ["arn:aws:iam::1:role/r"]},
        severity="standard",
        approvers=list(approvers),
        auto_approved=auto,
        approval_timeout_seconds=600,
        execution_timeout_seconds=1800,
        now=NOW,
    )


def test_an_approver_approves_in_slack() -> None:
    decision = approve(_proposal(), by="U0ALICE01", via="slack", at=NOW + timedelta(minutes=3))
    assert decision == Decision(
        outcome="approved", by="U0ALICE01", via="slack", at="2026-03-02T10:03:00Z"
    )
    assert may_run(_proposal(), decision)


def test_someone_else_in_the_channel_may_neither_approve_nor_reject() -> None:
    for decide in (approve, reject):
        with pytest.raises(NotAnApprover, match="only its approvers \\(U0ALICE01, W0BOB0002\\)"):
            decide(_proposal(), by="U0MALLORY", via="slack", at=NOW)


def test_with_no_approvers_slack_cannot_decide() -> None:
    with pytest.raises(NotAnApprover, match="none configured"):
        approve(_proposal(approvers=()), by="U0ALICE01", via="slack", at=NOW)


def test_a_slack_decision_needs_a_slack_user_id() -> None:
    with pytest.raises(InvalidApprover):
        approve(_proposal(), by="alice", via="slack", at=NOW)


def test_the_cli_records_the_iam_principal_and_a_label() -> None:
    decision = approve(
        _proposal(), by=PRINCIPAL, via="cli", at=NOW, label="Alice", note="host is degraded"
    )
    assert (decision.by, decision.via, decision.label, decision.note) == (
        PRINCIPAL,
        "cli",
        "Alice",
        "host is degraded",
    )
    assert may_run(_proposal(), decision)
    for principal in (
        "arn:aws:iam::123456789012:user/alice",
        "arn:aws:iam::123456789012:root",
        "arn:aws-us-gov:sts::123456789012:assumed-role/Ops/bob",
    ):
        assert approve(_proposal(), by=principal, via="cli", at=NOW).by == principal


@pytest.mark.parametrize("by", ["alice", "U0ALICE01", "arn:aws:iam::12345:user/x", ""])
def test_the_cli_refuses_what_is_not_an_iam_principal(by: str) -> None:
    with pytest.raises(InvalidApprover):
        approve(_proposal(), by=by, via="cli", at=NOW)


def test_a_rejection_never_runs() -> None:
    decision = reject(_proposal(), by=PRINCIPAL, via="cli", at=NOW)
    assert decision.outcome == "rejected"
    assert not decision.runs
    assert not may_run(_proposal(), decision)


def test_after_the_approval_timeout_nothing_may_be_decided() -> None:
    late = NOW + timedelta(minutes=10, seconds=1)
    with pytest.raises(ApprovalExpired, match="expired at 2026-03-02T10:10:00Z"):
        approve(_proposal(), by="U0ALICE01", via="slack", at=late)
    # At the very deadline it still counts.
    assert approve(_proposal(), by="U0ALICE01", via="slack", at=NOW + timedelta(minutes=10)).runs


def test_an_expired_proposal_is_not_run_and_says_so() -> None:
    decision = expire(_proposal(), at=NOW + timedelta(minutes=10))
    assert decision.outcome == "expired"
    assert decision.via == "timeout"
    assert decision.note == "no decision within 10 min: not run"
    assert not may_run(_proposal(), decision)


def test_no_decision_never_runs() -> None:
    assert not may_run(_proposal(), None)
    assert not may_run(_proposal(auto=True), None)


def test_auto_approval_only_for_an_auto_approved_proposal() -> None:
    auto = _proposal(auto=True)
    decision = auto_approval(auto, at=NOW)
    assert (decision.outcome, decision.by, decision.via) == (
        "auto_approved",
        "rule:ec2-system-status",
        "rule",
    )
    assert may_run(auto, decision)
    with pytest.raises(InvalidApprover, match="does not auto-approve standard"):
        auto_approval(_proposal(), at=NOW)
    # A forged auto-approval on a proposal that needs a person does not run.
    assert not may_run(_proposal(), decision)


def test_a_person_cannot_pose_as_the_rule() -> None:
    with pytest.raises(InvalidApprover):
        approve(_proposal(auto=True), by="rule:x", via="rule", at=NOW)
    forged = Decision(outcome="approved", by="x", via="rule", at="2026-03-02T10:00:00Z")
    assert not may_run(_proposal(), forged)


def test_a_decision_is_never_replaced() -> None:
    first = reject(_proposal(), by="U0ALICE01", via="slack", at=NOW)
    with pytest.raises(AlreadyDecided, match="already rejected by U0ALICE01"):
        approve(_proposal(), by="W0BOB0002", via="slack", at=NOW, decided=first)


def test_client_tokens_are_uuids_stable_per_incident_rule_and_attempt() -> None:
    token = client_token("inc-1", "ec2-system-status")
    assert len(token) == 36 and token.count("-") == 4
    assert token == client_token("inc-1", "ec2-system-status", 1)
    assert token != client_token("inc-2", "ec2-system-status")
    assert token != client_token("inc-1", "other")
    assert token != client_token("inc-1", "ec2-system-status", 2)


def test_records_round_trip_through_the_state() -> None:
    proposal = _proposal()
    decision = approve(proposal, by="U0ALICE01", via="slack", at=NOW)
    assert msgspec.json.decode(msgspec.json.encode(proposal), type=Proposal) == proposal
    assert msgspec.json.decode(msgspec.json.encode(decision), type=Decision) == decision
    assert b'"incident_id":"inc-1"' in msgspec.json.encode(proposal)
