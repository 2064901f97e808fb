"""The proposal (what would run, on what, why, who may approve it, until when) and the
decision on it (approved, rejected, expired, or approved by the rule itself), with the rules
that keep a remediation from running unapproved:

- nothing runs without an approval, unless the rule lists the incident's severity in
  `autoApprove` (the proposal says so when it is made, and the decision records the rule);
- a Slack approval or rejection counts only from the proposal's approvers (the rule's
  `approvers`, else the configured responders): anyone else in the channel is refused;
- a CLI decision records the caller's IAM principal ARN (from STS, not typed in): who may
  decide there is who IAM lets resume the workflow;
- a decision after the approval timeout is refused: the proposal has expired, nothing runs.

Records are msgspec Structs with snake_case keys, small enough for the execution state.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from typing import Literal

import msgspec

from shared.errors import IncidentError
from shared.timeutil import iso, parse_time

# The namespace of the runbook's StartAutomationExecution client tokens (uuid5).
TOKEN_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "incident-runbook:remediation")
SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")
# An IAM principal as STS GetCallerIdentity reports it (user, role session, root, federated).
IAM_PRINCIPAL = re.compile(
    r"^arn:aws[a-z-]*:(iam|sts)::\d{12}:(root|user/.+|assumed-role/.+/.+|federated-user/.+|role/.+)$"
)
Outcome = Literal["approved", "rejected", "expired", "auto_approved"]
Via = Literal["slack", "cli", "rule", "timeout"]


class NotAnApprover(IncidentError):
    """A Slack user who is not among the proposal's approvers tried to decide."""


class InvalidApprover(IncidentError):
    """The identity is not a Slack user id (Slack) or an IAM principal ARN (CLI)."""


class ApprovalExpired(IncidentError):
    """The decision came after the proposal's approval timeout: nothing may run now."""


class AlreadyDecided(IncidentError):
    """The proposal has a decision already; a second one must not change it."""


class Proposal(msgspec.Struct, frozen=True, kw_only=True):
    """A remediation the runbook proposes for an incident."""

    incident_id: str
    rule_id: str
    description: str
    document: str  # the rule's name for it: an AWS document's name or the team document's key
    document_name: str  # what StartAutomationExecution runs
    parameters: dict[str, list[str]]
    resource_type: str = ""
    targets: list[str] = msgspec.field(default_factory=list)
    causes: list[str] = msgspec.field(default_factory=list)
    reason: str = ""
    severity: str = "standard"
    approvers: list[str] = msgspec.field(default_factory=list)
    auto_approved: bool = False
    approval_timeout_seconds: int = 900
    execution_timeout_seconds: int = 1800
    proposed_at: str
    expires_at: str
    attempt: int = 1
    client_token: str

    @property
    def needs_approval(self) -> bool:
        return not self.auto_approved


class NoProposal(msgspec.Struct, frozen=True, kw_only=True):
    """Why nothing is proposed (no rule matched, or the matching rule cannot be filled)."""

    incident_id: str
    reason: str
    rule_id: str = ""


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    """What was decided, by whom (Slack user id, IAM principal ARN, `rule:<id>`), when."""

    outcome: Outcome
    by: str
    via: Via
    at: str
    label: str = ""  # a display name given with the decision (`runbook remediate --by`)
    note: str = ""

    @property
    def runs(self) -> bool:
        return self.outcome in ("approved", "auto_approved")


def client_token(incident_id: str, rule_id: str, attempt: int = 1) -> str:
    """The StartAutomationExecution ClientToken (a UUID, as SSM requires) for this incident,
    rule and attempt: a retried start sends the same token and gets the same execution."""
    return str(uuid.uuid5(TOKEN_NAMESPACE, f"{incident_id}\n{rule_id}\n{attempt}"))


def new_proposal(
    *,
    incident_id: str,
    rule_id: str,
    description: str,
    document: str,
    document_name: str,
    parameters: dict[str, list[str]],
    severity: str,
    approvers: list[str],
    auto_approved: bool,
    approval_timeout_seconds: int,
    execution_timeout_seconds: int,
    now: datetime,
    resource_type: str = "",
    targets: list[str] | None = None,
    causes: list[str] | None = None,
    reason: str = "",
    attempt: int = 1,
) -> Proposal:
    """A proposal made now; it expires `approval_timeout_seconds` later."""
    return Proposal(
        incident_id=incident_id,
        rule_id=rule_id,
        description=description,
        document=document,
        document_name=document_name,
        parameters=parameters,
        resource_type=resource_type,
        targets=list(targets or []),
        causes=list(causes or []),
        reason=reason,
        severity=severity,
        approvers=list(approvers),
        auto_approved=auto_approved,
        approval_timeout_seconds=approval_timeout_seconds,
        execution_timeout_seconds=execution_timeout_seconds,
        proposed_at=iso(now),
        expires_at=iso(now + timedelta(seconds=approval_timeout_seconds)),
        attempt=attempt,
        client_token=client_token(incident_id, rule_id, attempt),
    )


def _check(proposal: Proposal, by: str, via: Via, at: datetime, decided: Decision | None) -> None:
    if decided is not None:
        who = decided.label or decided.by
        raise AlreadyDecided(f"already {decided.outcome} by {who} at {decided.at}")
    if at > parse_time(proposal.expires_at):
        raise ApprovalExpired(
            f"the proposal expired at {proposal.expires_at}: nothing runs; propose again"
        )
    if via == "slack":
        if not SLACK_USER.fullmatch(by):
            raise InvalidApprover(f"{by!r} is not a Slack user id")
        if by not in proposal.approvers:
            raise NotAnApprover(
                f"{by} may not decide this remediation: only its approvers "
                f"({', '.join(proposal.approvers) or 'none configured'}) may, in Slack"
            )
    elif via == "cli":
        if not IAM_PRINCIPAL.fullmatch(by):
            raise InvalidApprover(f"{by!r} is not an IAM principal ARN (STS GetCallerIdentity)")
    else:
        raise InvalidApprover(f"a person decides through slack or cli, not {via}")


def approve(
    proposal: Proposal,
    *,
    by: str,
    via: Via,
    at: datetime,
    label: str = "",
    note: str = "",
    decided: Decision | None = None,
) -> Decision:
    """An approval by a person; raises NotAnApprover, InvalidApprover, ApprovalExpired or
    AlreadyDecided (pass the existing decision as `decided`)."""
    _check(proposal, by, via, at, decided)
    return Decision(outcome="approved", by=by, via=via, at=iso(at), label=label, note=note)


def reject(
    proposal: Proposal,
    *,
    by: str,
    via: Via,
    at: datetime,
    label: str = "",
    note: str = "",
    decided: Decision | None = None,
) -> Decision:
    """A rejection by a person: the same checks as an approval (an outsider may not block a
    fix either)."""
    _check(proposal, by, via, at, decided)
    return Decision(outcome="rejected", by=by, via=via, at=iso(at), label=label, note=note)


def expire(proposal: Proposal, *, at: datetime) -> Decision:
    """Nobody decided within the approval timeout: not run (the postmortem says so)."""
    minutes = proposal.approval_timeout_seconds / 60
    return Decision(
        outcome="expired",
        by="",
        via="timeout",
        at=iso(at),
        note=f"no decision within {minutes:g} min: not run",
    )


def auto_approval(proposal: Proposal, *, at: datetime) -> Decision:
    """The rule approves for this severity (`autoApprove`); raises if it does not."""
    if not proposal.auto_approved:
        raise InvalidApprover(
            f"rule {proposal.rule_id} does not auto-approve {proposal.severity} incidents"
        )
    return Decision(
        outcome="auto_approved",
        by=f"rule:{proposal.rule_id}",
        via="rule",
        at=iso(at),
        note=f"autoApprove lists {proposal.severity}",
    )


def may_run(proposal: Proposal, decision: Decision | None) -> bool:
    """Whether the remediation may start: an approval, or the rule's own approval for a
    proposal made auto-approved. Nothing else, and never without a decision."""
    if decision is None:
        return False
    if decision.outcome == "approved":
        return decision.via in ("slack", "cli")
    return decision.outcome == "auto_approved" and proposal.auto_approved and decision.via == "rule"
