"""The Remediate branch's steps (statemachines/incident_response.asl.json), over injected
clients so each is testable without AWS: propose, wait for the decision, expire, run, watch,
compare the diagnostics before and after, and withdraw a proposal nobody decided on when the
incident recovered first.

Every step reads and writes the incident's remediation record (record.py); the execution
state carries only what the state machine branches on (`status`, `wait_seconds`,
`execution_id`, `done`). A failed remediation is a finding on the incident's timeline and in
the channel; it never pages (the incident is already paged) and never fails the incident.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import msgspec
from botocore.exceptions import ClientError

from chat.blocks import proposal_blocks
from incidents.model import Incident
from remediation import matching, observed
from remediation import proposal as rules
from remediation.decisions import Decisions, resume
from remediation.diff import ORDER, FindingsDiff, diff
from remediation.record import RemediationRecord, decode
from remediation.rules import RemediationConfig
from remediation.runner import AutomationRunner, RemediationStartFailed
from remediation.store import RemediationStore
from shared.errors import transient_errors
from shared.s3uri import split_uri
from shared.timeutil import iso

# How long WaitForDecision waits when no proposal asks for longer (never 0: ASL refuses it).
MIN_WAIT_SECONDS = 1
# What the recovery branch records on a proposal still waiting when the incident recovered.
RECOVERED_FIRST = "the incident recovered before anyone decided: not run"

ReadEvidence = Callable[[str], Mapping[str, Any] | None]
Announce = Callable[[Incident, str, list[dict[str, Any]] | None], None]
# Pages a proposal (incident, subject, message); returns "" or why it could not.
Page = Callable[[Incident, str, str], str]
SUBJECT_LIMIT = 100


def _diagnostics(response: Mapping[str, Any]) -> Mapping[str, Any]:
    """The CollectDiagnostics result inside `$.response` ({} when the response failed)."""
    found = response.get("diagnostics") if isinstance(response, Mapping) else None
    return found if isinstance(found, Mapping) else {}


def observation_of(result: Mapping[str, Any], read_evidence: ReadEvidence) -> observed.Observation:
    """From the evidence document in S3 when it can be read (complete), else the summary."""
    uri = result.get("evidence_uri")
    evidence = read_evidence(uri) if isinstance(uri, str) and uri else None
    return observed.observe(result, evidence)


def s3_evidence_reader(s3: Any) -> ReadEvidence:
    """Read an `s3://bucket/key` evidence document; None when it cannot be (the summary in
    the state is then used: a missing object must not lose the proposal)."""

    def read(uri: str) -> Mapping[str, Any] | None:
        bucket, key = split_uri(uri)
        if not bucket or not key:
            return None
        try:
            with transient_errors("S3 GetObject (evidence)"):
                body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            loaded = json.loads(body)
        except (ClientError, ValueError, KeyError):
            return None
        return loaded if isinstance(loaded, Mapping) else None

    return read


def _quiet(_incident: Incident, _text: str, _blocks: list[dict[str, Any]] | None) -> None:
    """No channel to tell (tests, no Slack)."""


class RemediationSteps:
    """One instance per invocation: the store, the clients and the deployment's facts."""

    def __init__(
        self,
        *,
        table: Any,
        sfn: Any,
        ssm: Any,
        config: RemediationConfig,
        automation_role_arn: str,
        read_evidence: ReadEvidence,
        responders: Sequence[str] = (),
        home_account: str = "",
        home_region: str = "",
        announce: Announce | None = None,
        page: Page | None = None,
    ) -> None:
        self.store = RemediationStore(table)
        self.decisions = Decisions(table, sfn)
        self._sfn = sfn
        self._ssm = ssm
        self._config = config
        self._role = automation_role_arn
        self._read_evidence = read_evidence
        self._responders = tuple(responders)
        self._account = home_account
        self._region = home_region
        self._announce: Announce = announce or _quiet
        self._page = page

    def _say(
        self, incident: Incident, text: str, blocks: list[dict[str, Any]] | None = None
    ) -> None:
        self._announce(incident, text, blocks)

    # -- propose ------------------------------------------------------------------------

    def propose(
        self, incident_id: str, response: Mapping[str, Any], now: datetime
    ) -> dict[str, Any]:
        """Match the rules against the diagnosis; record the proposal (or why there is none)
        and, for an auto-approved one, the rule's approval. `status`: none | proposed |
        approved; `wait_seconds`: the approval timeout."""
        incident = self.store.incidents.get(incident_id)
        existing = decode(incident.remediation)
        if existing.proposal is not None or existing.no_proposal is not None:
            return self._state(existing)  # a retried step: decided once
        before = observation_of(_diagnostics(response), self._read_evidence)
        if not self._config.rules:
            found: rules.Proposal | rules.NoProposal = rules.NoProposal(
                incident_id=incident_id, reason="no remediation rules are configured"
            )
        elif not _diagnostics(response) or _diagnostics(response).get("status") == "failed":
            found = rules.NoProposal(
                incident_id=incident_id, reason="the diagnostics did not run: nothing to match"
            )
        else:
            found = matching.propose(
                self._config,
                incident,
                before,
                automation_role_arn=self._role,
                now=now,
                responders=self._responders,
                home_account=self._account,
                home_region=self._region,
            )
        if isinstance(found, rules.NoProposal):
            record = RemediationRecord(stage="none", no_proposal=found, before=before)
            self.store.save(incident_id, record, "remediation_none", found.reason)
            return self._state(record)
        record = RemediationRecord(stage="proposed", proposal=found, before=before)
        self.store.save(
            incident_id,
            record,
            "remediation_proposed",
            f"{found.document_name} on {', '.join(found.targets) or '-'} (rule {found.rule_id})",
        )
        self._say(incident, _proposal_text(found), _buttons(found))
        if not found.auto_approved and self._page is not None:
            problem = self._page(incident, proposal_subject(incident, found), _page_text(found))
            if problem:
                self.store.save(
                    incident_id, record, "finding", f"proposal not paged: {problem}"[:500]
                )
        if found.auto_approved:
            self.decisions.settle(incident_id, rules.auto_approval(found, at=now))
            record = decode(self.store.incidents.get(incident_id).remediation)
        return self._state(record)

    @staticmethod
    def _state(record: RemediationRecord) -> dict[str, Any]:
        proposal = record.proposal
        status = "none"
        if proposal is not None:
            status = "proposed"
            if record.decision is not None:
                status = "approved" if rules.may_run(proposal, record.decision) else "declined"
        wait = proposal.approval_timeout_seconds if proposal else MIN_WAIT_SECONDS
        return {"status": status, "wait_seconds": max(MIN_WAIT_SECONDS, wait)}

    # -- the decision -------------------------------------------------------------------

    def await_decision(self, incident_id: str, token: str) -> dict[str, Any]:
        """Keep the token for the deciders; a decision already recorded resumes at once."""
        if self.store.store_token(incident_id, token):
            return {"status": "waiting"}
        record = decode(self.store.incidents.get(incident_id).remediation)
        if record.decision is None:
            raise rules.AlreadyDecided("the proposal's record changed; retrying")  # not expected
        resume(self._sfn, token, record.decision)
        return {"status": "decided", "outcome": record.decision.outcome}

    def expire(self, incident_id: str, now: datetime, note: str = "") -> dict[str, Any]:
        """Nobody decided within the approval timeout (or the incident recovered first):
        not run. A decision recorded a moment earlier stands."""
        record = decode(self.store.incidents.get(incident_id).remediation)
        if record.proposal is None:
            return {"outcome": "none"}
        expired = rules.expire(record.proposal, at=now)
        if note:
            expired = msgspec.structs.replace(expired, note=note)
        decision = self.decisions.settle(incident_id, expired)
        return {"outcome": decision.outcome}

    def withdraw(self, incident_id: str, now: datetime) -> dict[str, Any]:
        """The recovery branch ended: a proposal still waiting expires unrun (so the
        Parallel ends); one decided or running is left to finish."""
        record = decode(self.store.incidents.get(incident_id).remediation)
        # A remediation that started is checked once more at recovery (docs/remediation.md).
        ran = bool(record.execution_id) and record.before is not None
        if record.proposal is None or record.decision is not None:
            return {"withdrawn": False, "ran": ran}
        self.expire(incident_id, now, RECOVERED_FIRST)
        return {"withdrawn": True, "ran": False}

    # -- run and watch ------------------------------------------------------------------

    def run(self, incident_id: str, now: datetime) -> dict[str, Any]:
        """Start the approved remediation (only if `may_run`); `status`: running | not_started."""
        incident = self.store.incidents.get(incident_id)
        record = decode(incident.remediation)
        proposal = record.proposal
        if proposal is None or not rules.may_run(proposal, record.decision):
            return {"status": "not_started", "execution_id": ""}
        if record.execution_id:
            return {"status": "running", "execution_id": record.execution_id}
        try:
            execution_id = AutomationRunner(self._ssm).start(proposal)
        except RemediationStartFailed as exc:
            failed = msgspec.structs.replace(record, stage="not_started", start_error=str(exc))
            self.store.save(incident_id, failed, "finding", f"remediation not started: {exc}")
            self._say(incident, f":warning: Remediation not started: {exc}")
            return {"status": "not_started", "execution_id": ""}
        running = msgspec.structs.replace(
            record, stage="running", execution_id=execution_id, started_at=iso(now)
        )
        self.store.save(
            incident_id, running, "remediation_started", f"{proposal.document_name} {execution_id}"
        )
        self._say(incident, f":gear: Remediation started: {proposal.document_name}")
        return {"status": "running", "execution_id": execution_id}

    def watch(self, incident_id: str) -> dict[str, Any]:
        """One look at the run (stopping it past the execution timeout); `done` when it ended."""
        incident = self.store.incidents.get(incident_id)
        record = decode(incident.remediation)
        if record.proposal is None or not record.execution_id:
            return {"done": True, "outcome": "none"}
        report = AutomationRunner(self._ssm).watch(
            record.proposal, record.execution_id, record.started_at
        )
        if not report.done:
            if report.status != (record.execution.status if record.execution else ""):
                self.store.save(
                    incident_id, msgspec.structs.replace(record, execution=report), "", ""
                )
            return {"done": False, "outcome": report.outcome}
        ended = msgspec.structs.replace(record, stage="ended", execution=report)
        if report.outcome == "success":
            self.store.save(incident_id, ended, "remediation_ended", "success")
            self._say(incident, ":white_check_mark: Remediation succeeded")
        else:
            why = report.failure_message or report.status
            detail = f"remediation {report.outcome}: {record.proposal.document_name}: {why}"
            self.store.save(incident_id, ended, "finding", detail)
            self._say(incident, f":x: Remediation {report.outcome}: {why}")
        return {"done": True, "outcome": report.outcome}

    # -- before and after ---------------------------------------------------------------

    def compare(
        self, incident_id: str, after_result: Mapping[str, Any], phase: str = "after"
    ) -> dict[str, Any]:
        """Diff the diagnostics run again (`after_result`: CollectDiagnostics' result) with
        those the proposal was made on; recorded as `after` or `at_recovery`."""
        record = decode(self.store.incidents.get(incident_id).remediation)
        if record.before is None or not after_result or after_result.get("status") == "failed":
            return {"compared": False}
        found: FindingsDiff = diff(record.before, observation_of(after_result, self._read_evidence))
        field = "at_recovery" if phase == "at_recovery" else "after"
        updated = msgspec.structs.replace(record, **{field: found})
        kinds = ORDER
        counts = ", ".join(f"{len(found.of(c))} {c}" for c in kinds)
        self.store.save(incident_id, updated, "remediation_rechecked", counts)
        return {"compared": True, "improved": found.improved}


def _buttons(proposal: rules.Proposal) -> list[dict[str, Any]] | None:
    """Approve / Reject in the channel, for a proposal that waits for a person."""
    if proposal.auto_approved:
        return None
    return proposal_blocks(
        proposal.incident_id,
        _proposal_text(proposal),
        may_decide=", ".join(f"<@{a}>" for a in proposal.approvers) or "nobody configured",
        expires_at=f"{proposal.expires_at} UTC",
    )


def proposal_subject(incident: Incident, proposal: rules.Proposal) -> str:
    """`[CRITICAL] Fix proposed: AWS-RestartEC2Instance on i-0abc (inc-...)`, < 100 chars."""
    on = ", ".join(proposal.targets) or "-"
    text = f"[{incident.severity.upper()}] Fix proposed: {proposal.document_name} on {on}"
    text = f"{text} ({incident.incident_id})"
    text = text.encode("ascii", "replace").decode()
    return text if len(text) <= SUBJECT_LIMIT else text[: SUBJECT_LIMIT - 3] + "..."


def _page_text(proposal: rules.Proposal) -> str:
    """The proposal for a phone or an inbox: what, why, on what, how to decide, by when."""
    lines = [
        f"Proposed fix for incident {proposal.incident_id}: {proposal.document_name} "
        f"(rule {proposal.rule_id}) on {', '.join(proposal.targets) or '-'}.",
        f"Why: {', '.join(proposal.causes) or 'the rule matched the diagnosis'}.",
        f"Approve: runbook remediate {proposal.incident_id} --approve",
        f"Reject: runbook remediate {proposal.incident_id} --reject",
        f"Nothing runs unless somebody approves before {proposal.expires_at} UTC.",
    ]
    return "\n".join(lines)


def _proposal_text(proposal: rules.Proposal) -> str:
    who = (
        "runs now (autoApprove)"
        if proposal.auto_approved
        else (
            f"approve or reject within {proposal.approval_timeout_seconds // 60 or 1} min: "
            f"`runbook remediate {proposal.incident_id} --approve|--reject`"
        )
    )
    on = ", ".join(proposal.targets) or "-"
    return (
        f":wrench: Proposed remediation: {proposal.document_name} on {on} "
        f"({proposal.reason}); {who}"
    )
