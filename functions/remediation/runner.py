"""Start an approved remediation (StartAutomationExecution) and follow it to its end.

AWS access is one small class over an injected boto3 SSM client. `start` sends a ClientToken
derived from the incident, rule and attempt (proposal.client_token), so a retried step gets
the same execution back instead of a second one. `watch` is one look: the execution's status
and every step (GetAutomationExecution; DescribeAutomationStepExecutions, paginated, when the
first answer's step list is truncated), and, past the rule's execution timeout, a
StopAutomationExecution. A state machine calls it in a Wait loop; `follow` loops it within one
process (the CLI, the emulator, tests).

Outcomes are few: running, success, failed, timed_out (SSM's own TimedOut, or stopped by the
runbook past the execution timeout), cancelled (stopped by someone else, or an approval step
in the document rejected). A status SSM adds later counts as running until the execution has
an end time, then as failed: never as success.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Literal

import msgspec
from botocore.exceptions import ClientError

from remediation.proposal import Proposal
from shared.errors import (
    IncidentError,
    TransientDependencyError,
    error_code,
    is_transient,
    transient_errors,
)
from shared.timeutil import iso, parse_time, utcnow

Outcome = Literal["running", "success", "failed", "timed_out", "cancelled"]
RUNNING_STATUSES = frozenset(
    {
        "Pending",
        "InProgress",
        "Waiting",
        "Cancelling",
        "PendingApproval",
        "Approved",
        "Scheduled",
        "RunbookInProgress",
        "PendingChangeCalendarOverride",
        "ChangeCalendarOverrideApproved",
    }
)
SUCCESS_STATUSES = frozenset({"Success", "CompletedWithSuccess"})
FAILED_STATUSES = frozenset({"Failed", "CompletedWithFailure", "Exited"})
TIMED_OUT_STATUSES = frozenset({"TimedOut"})
CANCELLED_STATUSES = frozenset({"Cancelled", "Rejected", "ChangeCalendarOverrideRejected"})
# Errors that mean "later", beyond the generic throttling/5xx ones.
_RETRY_LATER = frozenset({"AutomationExecutionLimitExceededException"})
STEP_PAGE_SIZE = 50
MAX_STEP_PAGES = 20
# Kept small for the execution state: the full record is in SSM for 30 days.
MAX_STEPS = 50
MAX_OUTPUT_KEYS = 20
MAX_OUTPUT_VALUES = 20
MAX_TEXT = 500


class RemediationStartFailed(IncidentError):
    """SSM refused to start the execution (unknown document, bad parameters, a token used
    with other parameters): retrying would not help. `code` is SSM's error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}"[:1000])
        self.code = code


class ExecutionNotFound(IncidentError):
    """No automation execution with that id (in this account and region)."""


class StepReport(msgspec.Struct, frozen=True, kw_only=True):
    """One step as SSM reports it."""

    name: str
    action: str = ""
    status: str = ""
    started_at: str = ""
    ended_at: str = ""
    outputs: dict[str, list[str]] = msgspec.field(default_factory=dict)
    failure_message: str = ""
    failure_type: str = ""
    failure_stage: str = ""


class ExecutionReport(msgspec.Struct, frozen=True, kw_only=True):
    """The execution at `checked_at`: status, outcome, steps, outputs, failure."""

    execution_id: str
    document_name: str = ""
    status: str
    outcome: Outcome
    started_at: str = ""
    ended_at: str = ""
    checked_at: str
    current_step: str = ""
    steps: list[StepReport] = msgspec.field(default_factory=list)
    outputs: dict[str, list[str]] = msgspec.field(default_factory=dict)
    failure_message: str = ""
    executed_by: str = ""
    stopped_by_runbook: bool = False
    steps_truncated: bool = False

    @property
    def done(self) -> bool:
        return self.outcome != "running"

    @property
    def failed_steps(self) -> list[StepReport]:
        return [s for s in self.steps if s.status in FAILED_STATUSES | TIMED_OUT_STATUSES]


def outcome_of(status: str, ended: bool, overdue: bool) -> Outcome:
    """The outcome of an SSM status. `overdue`: past the rule's execution timeout, so a
    cancellation is the runbook's stop for time, not somebody's decision."""
    if status in SUCCESS_STATUSES:
        return "success"
    if status in TIMED_OUT_STATUSES:
        return "timed_out"
    if status in CANCELLED_STATUSES:
        return "timed_out" if overdue else "cancelled"
    if status in FAILED_STATUSES:
        return "failed"
    if status in RUNNING_STATUSES or not ended:
        return "running"
    return "failed"


def _when(value: Any) -> str:
    if isinstance(value, datetime):
        return iso(value)
    return iso(parse_time(value)) if isinstance(value, str) and value else ""


def _text(value: Any, limit: int = MAX_TEXT) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _outputs(raw: Any) -> dict[str, list[str]]:
    if not isinstance(raw, Mapping):
        return {}
    return {
        _text(key, 200): [_text(v) for v in (values or [])[:MAX_OUTPUT_VALUES]]
        for key, values in list(raw.items())[:MAX_OUTPUT_KEYS]
        if isinstance(values, list)
    }


def _step(raw: Mapping[str, Any]) -> StepReport:
    failure = raw.get("FailureDetails") or {}
    return StepReport(
        name=_text(raw.get("StepName"), 200),
        action=_text(raw.get("Action"), 100),
        status=str(raw.get("StepStatus") or ""),
        started_at=_when(raw.get("ExecutionStartTime")),
        ended_at=_when(raw.get("ExecutionEndTime")),
        outputs=_outputs(raw.get("Outputs")),
        failure_message=_text(raw.get("FailureMessage"), 1000),
        failure_type=_text(failure.get("FailureType"), 100),
        failure_stage=_text(failure.get("FailureStage"), 100),
    )


class AutomationRunner:
    """Starts, reads and stops automation executions through an injected SSM client."""

    def __init__(self, ssm: Any, clock: Callable[[], datetime] = utcnow) -> None:
        self._ssm = ssm
        self._clock = clock

    def start(self, proposal: Proposal) -> str:
        """Start the proposal's document with its parameters; returns the execution id.
        Raises RemediationStartFailed (permanent) or TransientDependencyError (retry)."""
        try:
            response = self._ssm.start_automation_execution(
                DocumentName=proposal.document_name,
                Parameters=proposal.parameters,
                ClientToken=proposal.client_token,
                Tags=[
                    {"Key": "incident-runbook:incident", "Value": proposal.incident_id},
                    {"Key": "incident-runbook:rule", "Value": proposal.rule_id},
                ],
            )
        except ClientError as exc:
            code = error_code(exc)
            if is_transient(exc) or code in _RETRY_LATER:
                raise TransientDependencyError(f"SSM StartAutomationExecution: {code}") from exc
            message = str(exc.response.get("Error", {}).get("Message", ""))
            raise RemediationStartFailed(code, message) from exc
        return str(response["AutomationExecutionId"])

    def _steps(self, execution_id: str) -> tuple[list[StepReport], bool]:
        steps: list[StepReport] = []
        token: str | None = None
        for _ in range(MAX_STEP_PAGES):
            kwargs: dict[str, Any] = {
                "AutomationExecutionId": execution_id,
                "MaxResults": STEP_PAGE_SIZE,
            }
            if token:
                kwargs["NextToken"] = token
            with transient_errors("SSM DescribeAutomationStepExecutions"):
                page = self._ssm.describe_automation_step_executions(**kwargs)
            steps += [_step(s) for s in page.get("StepExecutions") or []]
            token = page.get("NextToken")
            if not token:
                return steps, False
        return steps, True

    def report(self, execution_id: str, execution_timeout_seconds: int = 0) -> ExecutionReport:
        """The execution now; raises ExecutionNotFound."""
        try:
            with transient_errors("SSM GetAutomationExecution"):
                execution = self._ssm.get_automation_execution(AutomationExecutionId=execution_id)[
                    "AutomationExecution"
                ]
        except ClientError as exc:
            if error_code(exc) == "AutomationExecutionNotFoundException":
                raise ExecutionNotFound(f"no automation execution {execution_id}") from exc
            raise
        if execution.get("StepExecutionsTruncated"):
            steps, truncated = self._steps(execution_id)
        else:
            steps, truncated = [_step(s) for s in execution.get("StepExecutions") or []], False
        now = self._clock()
        started = execution.get("ExecutionStartTime")
        ended = execution.get("ExecutionEndTime")
        overdue = False
        if execution_timeout_seconds and started is not None:
            deadline = parse_time(started) + timedelta(seconds=execution_timeout_seconds)
            overdue = (parse_time(ended) if ended is not None else now) >= deadline
        status = str(execution.get("AutomationExecutionStatus") or "")
        return ExecutionReport(
            execution_id=execution_id,
            document_name=str(execution.get("DocumentName") or ""),
            status=status,
            outcome=outcome_of(status, ended is not None, overdue),
            started_at=_when(started),
            ended_at=_when(ended),
            checked_at=iso(now),
            current_step=_text(execution.get("CurrentStepName"), 200),
            steps=steps[:MAX_STEPS],
            outputs=_outputs(execution.get("Outputs")),
            failure_message=_text(execution.get("FailureMessage"), 1000),
            executed_by=_text(execution.get("ExecutedBy"), 300),
            steps_truncated=truncated or len(steps) > MAX_STEPS,
        )

    def stop(self, execution_id: str) -> bool:
        """Cancel the execution; False if it had already ended (nothing to stop)."""
        try:
            with transient_errors("SSM StopAutomationExecution"):
                self._ssm.stop_automation_execution(
                    AutomationExecutionId=execution_id, Type="Cancel"
                )
        except ClientError as exc:
            if error_code(exc) == "InvalidAutomationStatusUpdateException":
                return False
            if error_code(exc) == "AutomationExecutionNotFoundException":
                raise ExecutionNotFound(f"no automation execution {execution_id}") from exc
            raise
        return True

    def watch(self, proposal: Proposal, execution_id: str, started_at: str = "") -> ExecutionReport:
        """One look; past the proposal's execution timeout a running execution is stopped
        (and reported timed_out once SSM has cancelled it). The timeout runs from SSM's start
        time, or from `started_at` (when `start` returned) while SSM has none yet."""
        timeout = proposal.execution_timeout_seconds
        report = self.report(execution_id, timeout)
        since = report.started_at or started_at
        if report.done or not since:
            return report
        deadline = parse_time(since) + timedelta(seconds=timeout)
        if parse_time(report.checked_at) < deadline:
            return report
        stopped = self.stop(execution_id)
        after = self.report(execution_id, timeout)
        return msgspec.structs.replace(
            after, stopped_by_runbook=stopped or after.stopped_by_runbook
        )

    def follow(
        self,
        proposal: Proposal,
        execution_id: str,
        *,
        budget_seconds: float,
        started_at: str = "",
        poll_seconds: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> ExecutionReport:
        """Watch until the execution ends or `budget_seconds` pass (then the last report,
        still running); polls every `poll_seconds`, doubling to at most a minute."""
        end = monotonic() + budget_seconds
        wait = poll_seconds
        stopped = False
        while True:
            report = self.watch(proposal, execution_id, started_at)
            stopped = stopped or report.stopped_by_runbook
            if report.done or monotonic() + wait > end:
                return msgspec.structs.replace(report, stopped_by_runbook=stopped)
            sleep(wait)
            wait = min(wait * 2, 60.0)
