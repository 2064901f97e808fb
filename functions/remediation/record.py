"""What the incident record keeps of its remediation (`Incident.remediation`): the proposal or
why there is none, the decision, the run, and the before/after diffs.

It lives on the incident, not only in the execution state, so that the postmortem, `runbook
show`, the CLI and Slack read one account of it however the workflow's Parallel ended (the
recovery branch may finish first: the proposal then expires unrun).
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from remediation.diff import FindingsDiff
from remediation.observed import Observation
from remediation.proposal import Decision, NoProposal, Proposal
from remediation.runner import ExecutionReport
from shared.records import read_item

# Where the remediation is: nothing proposed, waiting for a decision, decided not to run,
# running, ended (the run's outcome is in `execution`), or refused by SSM at the start.
Stage = Literal["none", "proposed", "decided", "running", "ended", "not_started"]


class RemediationRecord(msgspec.Struct, kw_only=True, omit_defaults=True):
    stage: Stage = "none"
    proposal: Proposal | None = None
    no_proposal: NoProposal | None = None
    decision: Decision | None = None
    # What the diagnostics saw when the proposal was made (the "before" of the diff).
    before: Observation | None = None
    execution_id: str = ""
    started_at: str = ""
    execution: ExecutionReport | None = None
    start_error: str = ""
    after: FindingsDiff | None = None
    at_recovery: FindingsDiff | None = None


def decode(raw: dict[str, Any] | None) -> RemediationRecord:
    """The stored record (numbers come back from DynamoDB as Decimal); empty when none."""
    if not raw:
        return RemediationRecord()
    return read_item(RemediationRecord, raw, "invalid remediation record")


def encode(record: RemediationRecord) -> dict[str, Any]:
    """Plain data for DynamoDB (no floats: the record carries none)."""
    plain: dict[str, Any] = msgspec.to_builtins(record)
    return plain
