"""The postmortem's Remediation section (functions/postmortem/remediation_section.py): the
proposal, who decided (or that nobody did and it did not run), the run's steps, the
before/after table, and the timeline moments; outside text stays inert."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from postmortem.remediation_section import (
    before_after_lines,
    execution_url,
    remediation_lines,
    remediation_moments,
)
from remediation.diff import CauseChange, FindingsDiff, SourceChange, VerdictBrief
from remediation.proposal import NoProposal, approve, auto_approval, expire, new_proposal, reject
from remediation.runner import ExecutionReport, StepReport

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
PRINCIPAL = "arn:aws:sts::123456789012:assumed-role/OnCall/alice"
FAILURE = "Step fails | see https://evil.example/x"


def _proposal(auto: bool = False, description: str = "Stop and start the impaired instance"):
    return new_proposal(
        incident_id="inc-1",
        rule_id="ec2-system-status",
        description=description,
        document="AWS-RestartEC2Instance",
        document_name="AWS-RestartEC2Instance",
        parameters={"InstanceId": ["i-0b2"], "AutomationAssumeRole": ["arn:aws:iam::1:role/r"]},
        severity="high",
        approvers=["U0ALICE01"],
        auto_approved=auto,
        approval_timeout_seconds=900,
        execution_timeout_seconds=1800,
        now=NOW,
        resource_type="AWS::EC2::Instance",
        targets=["i-0b2"],
        causes=["ec2.system_status_impaired"],
        reason="rule ec2-system-status; verdict aws; cause ec2.system_status_impaired",
    )


def _execution(outcome: str = "success", status: str = "Success") -> ExecutionReport:
    return ExecutionReport(
        execution_id="4105a4fc-f944-11e6-9d32-0a1b2EXAMPLE",
        document_name="AWS-RestartEC2Instance",
        status=status,
        outcome=outcome,  # type: ignore[arg-type]
        started_at="2026-03-02T10:04:00Z",
        ended_at="2026-03-02T10:09:30Z",
        checked_at="2026-03-02T10:10:00Z",
        steps=[
            StepReport(name="stopInstances", action="aws:changeInstanceState", status="Success",
                       started_at="2026-03-02T10:04:01Z", ended_at="2026-03-02T10:06:00Z"),
            StepReport(name="startInstances", action="aws:changeInstanceState", status=status,
                       started_at="2026-03-02T10:06:01Z", ended_at="2026-03-02T10:09:30Z",
                       failure_message=FAILURE if outcome == "failed" else ""),
        ],
    )  # fmt: skip


def _diff() -> FindingsDiff:
    return FindingsDiff(
        before=VerdictBrief(domain="aws", headline="AWS side: System status check failed",
                            collected_at="2026-03-02T10:00:00Z"),
        after=VerdictBrief(domain="undetermined", headline="No cause found in the evidence",
                           collected_at="2026-03-02T10:12:00Z"),
        causes=[
            CauseChange(change="gone", code="ec2.system_status_impaired", resource="i-0b2",
                        title="System status check failed | <b>host</b>"),
            CauseChange(change="unchecked", code="application.exception", resource=None,
                        why="logs_insights could not be read"),
        ],
        sources=[
            SourceChange(source="logs_insights", target="errors", before="ok", after="timeout")
        ],
    )  # fmt: skip


def test_an_approved_successful_run_with_its_before_and_after() -> None:
    proposal = _proposal()
    decision = approve(proposal, by="U0ALICE01", via="slack", at=NOW + timedelta(minutes=3))
    text = "\n".join(
        remediation_lines(proposal, decision, _execution(), _diff(), region="eu-west-1")
    )
    assert text.startswith("## Remediation\n")
    assert (
        "**Proposed:** Stop and start the impaired instance — rule `ec2-system-status`, "
        "runbook `AWS-RestartEC2Instance` on `i-0b2`" in text
    )
    assert "| `InstanceId` | `i-0b2` |" in text
    assert "**Decision:** approved by `U0ALICE01` in Slack at 2026-03-02 10:03:00 UTC." in text
    assert (
        "**Run:** Success (SSM status `Success`) · started 2026-03-02 10:04:00 UTC · "
        "ended 2026-03-02 10:09:30 UTC" in text
    )
    assert execution_url("eu-west-1", "4105a4fc-f944-11e6-9d32-0a1b2EXAMPLE") in text
    assert "| `stopInstances` | Success | 2026-03-02 10:04:01 | 2026-03-02 10:06:00 | - |" in text
    assert "### Before and after" in text
    assert "Causes: 1 went away, 1 not re-checked." in text
    assert (
        "| System status check failed \\| &lt;b&gt;host&lt;/b&gt; (`ec2.system_status_impaired`) "
        "| `i-0b2` | went away |" in text
    )
    assert (
        "| `application.exception` | (not recorded) "
        "| not re-checked (logs\\_insights could not be read) |" in text
    )
    assert "| logs\\_insights | `errors` | ok | timeout |" in text


def test_the_execution_link_is_the_regions_console() -> None:
    assert execution_url("eu-west-1", "abc") == (
        "https://eu-west-1.console.aws.amazon.com/systems-manager/automation/execution/abc"
        "?region=eu-west-1"
    )


def test_a_cli_approval_shows_the_principal_and_the_label() -> None:
    proposal = _proposal()
    decision = approve(proposal, by=PRINCIPAL, via="cli", at=NOW, label="Alice Moreau")
    text = "\n".join(remediation_lines(proposal, decision, _execution()))
    assert f"approved by Alice Moreau (`{PRINCIPAL}`) with `runbook remediate`" in text


def test_nobody_deciding_is_said_and_nothing_ran() -> None:
    proposal = _proposal()
    decision = expire(proposal, at=NOW + timedelta(minutes=15))
    text = "\n".join(remediation_lines(proposal, decision))
    assert "**Decision:** nobody decided within 15 min (the approval timeout): **not run**." in text
    assert "**Run:**" not in text


def test_a_rejection_is_said_with_who() -> None:
    proposal = _proposal()
    decision = reject(proposal, by="U0ALICE01", via="slack", at=NOW, note="wrong instance")
    text = "\n".join(remediation_lines(proposal, decision))
    assert (
        "**Decision:** rejected by `U0ALICE01` in Slack at 2026-03-02 10:00:00 UTC — "
        "wrong instance: not run." in text
    )


def test_an_auto_approval_says_no_person_was_asked() -> None:
    proposal = _proposal(auto=True)
    text = "\n".join(remediation_lines(proposal, auto_approval(proposal, at=NOW), _execution()))
    assert "approved by the rule itself (`autoApprove` lists high)" in text


def test_a_failed_run_shows_the_failure_inert() -> None:
    proposal = _proposal()
    decision = approve(proposal, by="U0ALICE01", via="slack", at=NOW)
    text = "\n".join(remediation_lines(proposal, decision, _execution("failed", "Failed")))
    assert "**Run:** Failed (SSM status `Failed`)" in text
    assert "Step fails \\| see https\\[:\\]//evil.example/x" in text
    assert "https://evil.example" not in text


def test_a_start_refused_by_ssm_is_said() -> None:
    proposal = _proposal()
    decision = approve(proposal, by="U0ALICE01", via="slack", at=NOW)
    text = "\n".join(
        remediation_lines(
            proposal, decision, start_error="InvalidAutomationExecutionParametersException: x"
        )
    )
    assert (
        "**Not started:** SSM refused it: `InvalidAutomationExecutionParametersException: x`."
        in text
    )


def test_no_proposal_is_one_line_with_the_reason() -> None:
    none = NoProposal(incident_id="inc-1", reason="no remediation rule matches (of 2): verdict aws")
    assert remediation_lines(None, no_proposal=none) == [
        "## Remediation",
        "",
        "No remediation was proposed: no remediation rule matches (of 2): verdict aws.",
    ]


def test_hostile_descriptions_cannot_inject_markdown() -> None:
    proposal = _proposal(description="[click](https://evil.example) ![x](y) | col")
    text = "\n".join(remediation_lines(proposal))
    # Brackets and parentheses of the description are escaped: no link, no image.
    assert re.search(r"(?<!\\)\]\(", text) is None
    assert "\\[click\\]" in text and "https://evil" not in text


def test_before_after_with_nothing_seen() -> None:
    empty = FindingsDiff(
        before=VerdictBrief(domain="undetermined", headline=""),
        after=VerdictBrief(domain="undetermined", headline=""),
    )
    lines = before_after_lines(empty, "at recovery")
    assert lines[0].startswith(
        "Before: **no verdict** (`undetermined`). At recovery: **no verdict**"
    )
    assert lines[-1] == "No known cause was seen either time."


def test_the_moments_for_the_timeline() -> None:
    proposal = _proposal()
    decision = approve(proposal, by="U0ALICE01", via="slack", at=NOW + timedelta(minutes=3))
    moments = remediation_moments(proposal, decision, _execution())
    assert [(m.at.strftime("%H:%M:%S"), m.label) for m in moments] == [
        ("10:00:00", "remediation proposed"),
        ("10:03:00", "remediation approved by U0ALICE01"),
        ("10:04:00", "remediation started"),
        ("10:09:30", "remediation ended: success"),
    ]
    assert all(m.source == "remediation" for m in moments)
    expired = remediation_moments(proposal, expire(proposal, at=NOW + timedelta(minutes=15)))
    assert expired[-1].label == "remediation not decided in time: not run"
    assert remediation_moments(None) == []
