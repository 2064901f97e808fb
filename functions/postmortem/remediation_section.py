"""The postmortem's Remediation section: what was proposed and why, who decided and when (or
that nobody did), how the run went step by step, and the before/after diff of the findings;
plus the remediation's moments for the timeline.

Everything that came from outside (rule descriptions, parameter values, SSM failure messages,
step outputs, cause titles) goes through postmortem/markdown.py's helpers.
"""

from __future__ import annotations

from urllib.parse import quote

from postmortem.console import console_host
from postmortem.markdown import code_span, inline, link, table
from postmortem.timeline import Moment
from remediation.diff import CauseChange, Change, FindingsDiff
from remediation.proposal import Decision, NoProposal, Proposal
from remediation.runner import ExecutionReport
from shared.timeutil import parse_time

SOURCE = "remediation"
_CHANGE_WORDS: dict[Change, str] = {
    "gone": "went away",
    "stayed": "still there",
    "new": "new",
    "unchecked": "not re-checked",
}
_OUTCOME_WORDS = {
    "success": "Success",
    "failed": "Failed",
    "timed_out": "Timed out",
    "cancelled": "Cancelled",
    "running": "Still running",
}
MAX_STEP_ROWS = 30


def execution_url(region: str, execution_id: str) -> str:
    """The execution's page in the Systems Manager console."""
    return (
        f"{console_host(region)}/systems-manager/automation/execution/"
        f"{quote(execution_id, safe='')}?region={quote(region, safe='')}"
    )


def _utc(value: str) -> str:
    return parse_time(value).strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def _who(decision: Decision) -> str:
    who = code_span(decision.by, limit=200)
    if decision.label:
        who = f"{inline(decision.label, 100)} ({who})"
    via = {"slack": "in Slack", "cli": "with `runbook remediate`"}.get(decision.via, "")
    return f"{who} {via}".strip()


def decision_line(proposal: Proposal, decision: Decision | None) -> str:
    """Who decided what, when; or that the proposal still waits."""
    if decision is None:
        until = _utc(proposal.expires_at)
        return f"**Decision:** none recorded; the proposal waits until {until} UTC."
    note = f" — {inline(decision.note, 300)}" if decision.note else ""
    at = f"{_utc(decision.at)} UTC"
    if decision.outcome == "approved":
        return f"**Decision:** approved by {_who(decision)} at {at}{note}."
    if decision.outcome == "rejected":
        return f"**Decision:** rejected by {_who(decision)} at {at}{note}: not run."
    if decision.outcome == "auto_approved":
        return (
            f"**Decision:** approved by the rule itself (`autoApprove` lists "
            f"{inline(proposal.severity)}) at {at}: no person was asked."
        )
    if parse_time(decision.at) < parse_time(proposal.expires_at):
        return (
            f"**Decision:** none: the incident recovered before anyone decided; the proposal "
            f"was withdrawn at {at}: **not run**."
        )
    minutes = proposal.approval_timeout_seconds / 60
    return (
        f"**Decision:** nobody decided within {minutes:g} min (the approval timeout): "
        f"**not run**. Expired at {at}."
    )


def _parameters(proposal: Proposal) -> str:
    rows = [
        [
            code_span(name, in_table=True, limit=60),
            ", ".join(code_span(v, in_table=True, limit=200) for v in values),
        ]
        for name, values in proposal.parameters.items()
    ]
    return table(["Parameter", "Value"], rows)


def _step_detail(step_failure: str, outputs: dict[str, list[str]]) -> str:
    if step_failure:
        return inline(step_failure, 300)
    shown = [
        f"{inline(k, 60)}: {code_span(', '.join(v), in_table=True, limit=120)}"
        for k, v in outputs.items()
    ]
    return "; ".join(shown[:3]) or "-"


def execution_lines(execution: ExecutionReport, region: str) -> list[str]:
    """Status, times, the steps and the failure, with the console link."""
    outcome = _OUTCOME_WORDS.get(execution.outcome, execution.outcome)
    facts = [f"**Run:** {inline(outcome)} (SSM status {code_span(execution.status)})"]
    if execution.started_at:
        facts.append(f"started {_utc(execution.started_at)} UTC")
    if execution.ended_at:
        facts.append(f"ended {_utc(execution.ended_at)} UTC")
    lines = [" · ".join(facts)]
    if region:
        lines[0] += (
            f" — {link('open the execution', execution_url(region, execution.execution_id))}"
        )
    if execution.outcome == "timed_out" and execution.status in ("Cancelled", "Cancelling"):
        lines += ["", "The runbook stopped it: it ran past the rule's execution timeout."]
    if execution.failure_message:
        lines += ["", f"Failure: {code_span(execution.failure_message, limit=500)}"]
    if execution.steps:
        rows = [
            [
                code_span(step.name, in_table=True, limit=100),
                inline(step.status),
                inline(_utc(step.started_at)),
                inline(_utc(step.ended_at)),
                _step_detail(step.failure_message, step.outputs),
            ]
            for step in execution.steps[:MAX_STEP_ROWS]
        ]
        lines += ["", table(["Step", "Status", "Started (UTC)", "Ended (UTC)", "Detail"], rows)]
        if execution.steps_truncated or len(execution.steps) > MAX_STEP_ROWS:
            lines += ["", "More steps ran than are shown here: see the execution in the console."]
    return lines


def _cause_cell(change: CauseChange) -> str:
    title = inline(change.title, 200) if change.title else ""
    code = code_span(change.code, in_table=True, limit=100)
    return f"{title} ({code})" if title else code


def _resource_cell(change: CauseChange) -> str:
    if change.resource is None:
        return "(not recorded)"
    return code_span(change.resource, in_table=True, limit=120) if change.resource else "-"


def before_after_lines(found: FindingsDiff, after_what: str = "after the remediation") -> list[str]:
    """The diff as a table: every cause, where it went, and the changed source statuses."""
    lines = [
        f"Before: **{inline(found.before.headline or 'no verdict')}** "
        f"({code_span(found.before.domain)}"
        + (f", {_utc(found.before.collected_at)} UTC" if found.before.collected_at else "")
        + f"). {inline(after_what[:1].upper() + after_what[1:])}: "
        f"**{inline(found.after.headline or 'no verdict')}** ({code_span(found.after.domain)}"
        + (f", {_utc(found.after.collected_at)} UTC" if found.after.collected_at else "")
        + ")."
    ]
    if not found.causes:
        lines += ["", "No known cause was seen either time."]
    else:
        counts = ", ".join(
            f"{len(found.of(change))} {word}"
            for change, word in _CHANGE_WORDS.items()
            if found.of(change)
        )
        rows = [
            [
                _cause_cell(change),
                _resource_cell(change),
                inline(_CHANGE_WORDS[change.change])
                + (f" ({inline(change.why, 200)})" if change.why else ""),
            ]
            for change in found.causes
        ]
        lines += ["", f"Causes: {counts}.", "", table(["Cause", "Resource", "Change"], rows)]
    if found.sources:
        rows = [
            [
                inline(s.source),
                code_span(s.target, in_table=True, limit=120),
                inline(s.before or "did not run"),
                inline(s.after or "did not run"),
            ]
            for s in found.sources
        ]
        lines += [
            "",
            "Sources whose answer changed:",
            "",
            table(["Source", "Target", "Before", "After"], rows),
        ]
    return lines


def remediation_lines(
    proposal: Proposal | None,
    decision: Decision | None = None,
    execution: ExecutionReport | None = None,
    before_after: FindingsDiff | None = None,
    *,
    no_proposal: NoProposal | None = None,
    start_error: str = "",
    region: str = "",
    at_recovery: FindingsDiff | None = None,
) -> list[str]:
    """The whole section. `at_recovery`: the diff of the diagnostics run again at recovery,
    when it was (shown after the one that followed the remediation)."""
    lines = ["## Remediation", ""]
    if proposal is None:
        reason = (
            no_proposal.reason if no_proposal else "remediation is not configured for this incident"
        )
        return [*lines, f"No remediation was proposed: {inline(reason, 500)}."]
    targets = ", ".join(code_span(t, limit=120) for t in proposal.targets)
    lines.append(
        f"**Proposed:** {inline(proposal.description, 300)} — rule {code_span(proposal.rule_id)}, "
        f"runbook {code_span(proposal.document_name)}"
        + (f" on {targets}" if targets else "")
        + f", at {_utc(proposal.proposed_at)} UTC."
    )
    if proposal.reason:
        lines += ["", f"Why: {inline(proposal.reason, 500)}."]
    lines += ["", _parameters(proposal), "", decision_line(proposal, decision)]
    if start_error:
        lines += ["", f"**Not started:** SSM refused it: {code_span(start_error, limit=500)}."]
    elif execution is not None:
        lines += ["", *execution_lines(execution, region)]
    elif decision is not None and decision.runs:
        lines += ["", "**Run:** no execution was recorded."]
    if before_after is not None:
        lines += ["", "### Before and after", "", *before_after_lines(before_after)]
    if at_recovery is not None:
        lines += [
            "",
            "### Before and at recovery",
            "",
            *before_after_lines(at_recovery, "at recovery"),
        ]
    return lines


def remediation_moments(
    proposal: Proposal | None,
    decision: Decision | None = None,
    execution: ExecutionReport | None = None,
) -> list[Moment]:
    """Proposed, decided, started, ended: for the postmortem's timeline."""
    if proposal is None:
        return []
    moments = [
        Moment(
            parse_time(proposal.proposed_at),
            "remediation proposed",
            f"{proposal.document_name} ({proposal.rule_id})",
            SOURCE,
            "remediation",
        )
    ]
    if decision is not None:
        who = decision.label or decision.by or "nobody"
        label = {
            "approved": f"remediation approved by {who}",
            "rejected": f"remediation rejected by {who}",
            "auto_approved": "remediation approved by its rule",
            "expired": "remediation not decided in time: not run",
        }[decision.outcome]
        moments.append(Moment(parse_time(decision.at), label, decision.note, SOURCE, "remediation"))
    if execution is not None and execution.started_at:
        moments.append(
            Moment(
                parse_time(execution.started_at),
                "remediation started",
                execution.execution_id,
                SOURCE,
                "remediation",
            )
        )
    if execution is not None and execution.ended_at:
        outcome = _OUTCOME_WORDS.get(execution.outcome, execution.outcome).lower()
        moments.append(
            Moment(
                parse_time(execution.ended_at),
                f"remediation ended: {outcome}",
                execution.failure_message[:200],
                SOURCE,
                "remediation",
            )
        )
    return moments
