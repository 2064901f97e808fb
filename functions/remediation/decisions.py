"""A person's decision on a proposal (`runbook remediate`, the Slack buttons), and the
workflow's own ones (the approval timeout, a recovery that came first): one code path, so
every way in has the same rules (proposal.py) and the same one-decision-only guarantee.

A decision is recorded first (conditionally: only if none is), then sent to the waiting
workflow with its task token. If the workflow has not stored the token yet, the decision is
still recorded and WaitForDecision finds it and goes on at once.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

import msgspec
from botocore.exceptions import ClientError

from remediation import proposal as rules
from remediation.proposal import AlreadyDecided, Decision, Via
from remediation.record import RemediationRecord, decode
from remediation.store import RemediationStore
from shared.errors import IncidentError, TransientDependencyError, error_code

Verb = Literal["approve", "reject"]
# Send-task errors that mean the workflow no longer waits on that token.
_GONE = frozenset({"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"})


class NoRemediation(IncidentError):
    """The incident has no proposal to decide on (none made, or not yet)."""


def event_for(decision: Decision) -> tuple[str, str]:
    """The timeline entry of a decision."""
    who = decision.label or decision.by or "nobody"
    detail = {
        "approved": f"approved by {who} ({decision.via})",
        "rejected": f"rejected by {who} ({decision.via}): not run",
        "auto_approved": f"approved by {decision.by} (autoApprove)",
        "expired": decision.note or "not decided in time: not run",
    }[decision.outcome]
    return "remediation_decided", detail


def resume(sfn: Any, token: str | None, decision: Decision) -> bool:
    """Send the decision to the waiting workflow; False when it no longer waits."""
    if not token:
        return False
    try:
        sfn.send_task_success(
            taskToken=token, output=json.dumps({"outcome": decision.outcome, "by": decision.by})
        )
    except ClientError as exc:
        if error_code(exc) in _GONE:
            return False
        raise
    return True


class Decisions:
    """Decides proposals stored on incidents; `sfn` resumes the waiting workflow."""

    def __init__(self, table: Any, sfn: Any) -> None:
        self._store = RemediationStore(table)
        self._sfn = sfn

    def record(self, incident_id: str) -> RemediationRecord:
        return decode(self._store.incidents.get(incident_id).remediation)

    def decide(
        self,
        incident_id: str,
        verb: Verb,
        *,
        by: str,
        via: Via,
        at: datetime,
        label: str = "",
        note: str = "",
    ) -> Decision:
        """Approve or reject as `by` (a Slack user id, an IAM principal ARN); raises
        NoRemediation, NotAnApprover, InvalidApprover, ApprovalExpired, AlreadyDecided."""
        for _ in range(3):
            incident = self._store.incidents.get(incident_id)
            record = decode(incident.remediation)
            if record.proposal is None:
                reason = record.no_proposal.reason if record.no_proposal else "none yet"
                raise NoRemediation(f"no remediation proposed for {incident_id}: {reason}")
            act = rules.approve if verb == "approve" else rules.reject
            decision = act(
                record.proposal,
                by=by,
                via=via,
                at=at,
                label=label,
                note=note,
                decided=record.decision,
            )
            if self._commit(incident_id, record, decision, incident.remediation_token):
                return decision
        raise TransientDependencyError(f"incident {incident_id} kept changing; try again")

    def settle(self, incident_id: str, decision: Decision) -> Decision:
        """Record a decision of the workflow's own (expired, auto-approved): the first one
        recorded wins and is returned (a person may have decided a moment before)."""
        for _ in range(3):
            incident = self._store.incidents.get(incident_id)
            record = decode(incident.remediation)
            if record.decision is not None:
                return record.decision
            if self._commit(incident_id, record, decision, incident.remediation_token):
                return decision
        raise TransientDependencyError(f"incident {incident_id} kept changing; try again")

    def _commit(
        self, incident_id: str, record: RemediationRecord, decision: Decision, token: str | None
    ) -> bool:
        decided = msgspec.structs.replace(record, decision=decision, stage="decided")
        event, detail = event_for(decision)
        if not self._store.record_decision(incident_id, decided, token, event, detail):
            again = decode(self._store.incidents.get(incident_id).remediation)
            if again.decision is not None and again.decision != decision:
                who = again.decision.label or again.decision.by or "the timeout"
                if decision.via in ("slack", "cli"):
                    raise AlreadyDecided(f"already {again.decision.outcome} by {who}")
            return again.decision == decision
        resume(self._sfn, token, decision)
        return True
