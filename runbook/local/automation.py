"""SSM Automation executions on the emulator (moto 5.2.5 stores documents but runs none).

``Automation`` answers StartAutomationExecution, GetAutomationExecution,
DescribeAutomationExecutions, DescribeAutomationStepExecutions, StopAutomationExecution and
SendAutomationSignal (json_api.py: in front of moto's server, or inside moto for ``mock_aws``
tests) for the AWS-owned runbooks of ``automation_documents.CATALOGUE`` and for the account's
own Automation documents in moto (CreateDocument / ``AWS::SSM::Document``, schemaVersion 0.3).

An execution runs on a thread of its own, as on AWS: StartAutomationExecution returns at once
(Pending), then InProgress, step after step, and ends Success, Failed, TimedOut or Cancelled.
Time is compressed: a step takes ``step_seconds``. What a step does:

- a ``StepScript`` for it, if a test set one (``automation.script(document, step, outcome=...,
  message=..., delay_seconds=..., outputs=...)``, FaultPlan style): that outcome, message and
  outputs, and nothing else happens;
- otherwise its action, for real where moto can do it, through the API of the emulator (so
  fault injection applies to it): ``aws:changeInstanceState`` (EC2 StopInstances/StartInstances;
  AWS-RestartEC2Instance is a stop then a start), ``aws:executeAwsApi`` (any API, outputs from
  selectors; AWS-RebootRdsInstance reboots with RDS RebootDBInstance), the polling
  ``aws:waitForAwsResourceProperty``, ``aws:assertAwsResourceProperty``, ``aws:sleep``, and
  ``aws:approve`` / ``aws:pause``, which wait for SendAutomationSignal (Approve/Reject, Resume).
  Any other action fails the step saying it is not emulated (script it instead).

``onFailure`` (Abort, Continue, step:NAME), ``isEnd``, ``nextStep`` and ``isCritical`` steer the
run as documented. Each step transition is a JSON line in ``logs/automation.log``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from moto.core import DEFAULT_ACCOUNT_ID

from runbook.local.automation_documents import (
    AMAZON,
    CATALOGUE,
    AutomationDocument,
    Step,
    document_name,
    parameter_variables,
    parse_content,
    resolve_parameters,
    substitute,
)
from runbook.local.json_api import ApiError, Caller, JsonApi, Operation, drop_none, epoch, page
from runbook.local.jsonlog import JsonLog

LOGGER = logging.getLogger(__name__)
OUTCOMES = ("Success", "Failed", "TimedOut", "Cancelled")
TERMINAL = frozenset(OUTCOMES)
NO_OUTPUT = "No output available yet because the step is not successfully executed"
WAIT_POLLS = 20  # aws:waitForAwsResourceProperty polls this often before it times out


@dataclass
class StepScript:
    """What a step does in the next ``times`` executions of ``document`` (``None``: every
    one) whose parameters contain every ``contains`` string; ``fired`` counts them."""

    document: str
    step: str
    outcome: str = "Success"
    message: str = ""
    delay_seconds: float | None = None
    outputs: dict[str, Any] = field(default_factory=dict)
    times: int | None = None
    contains: tuple[str, ...] = ()
    fired: int = 0

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}")
        if self.outcome != "Success" and not self.message:
            self.message = f"scripted {self.outcome.lower()}: {self.document}.{self.step}"

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.fired >= self.times


@dataclass
class StepRecord:
    """One StepExecution."""

    step: Step
    inputs: dict[str, Any]
    step_execution_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    status: str = "Pending"
    started: dt.datetime | None = None
    ended: dt.datetime | None = None
    outputs: dict[str, list[str]] = field(default_factory=dict)
    failure_message: str | None = None
    failure_type: str | None = None

    def describe(self) -> dict[str, Any]:
        step = self.step
        described: dict[str, Any] = {
            "StepName": step.name,
            "Action": step.action,
            "OnFailure": step.on_failure,
            "MaxAttempts": step.max_attempts,
            "TimeoutSeconds": step.timeout_seconds,
            "ExecutionStartTime": epoch(self.started),
            "ExecutionEndTime": epoch(self.ended),
            "StepStatus": self.status,
            "Inputs": {key: json.dumps(value) for key, value in self.inputs.items()},
            "Outputs": dict(self.outputs) or None,
            "FailureMessage": self.failure_message,
            "StepExecutionId": self.step_execution_id,
            "IsEnd": step.is_end,
            "IsCritical": step.is_critical,
            "NextStep": step.next_step,
        }
        if self.failure_message is not None:
            described["FailureDetails"] = {
                "FailureStage": "Invocation",
                "FailureType": self.failure_type or "Action",
                "Details": {"ExceptionMessage": [self.failure_message]},
            }
        return drop_none(described)


@dataclass
class Execution:
    execution_id: str
    document: AutomationDocument
    parameters: dict[str, list[str]]
    caller: Caller
    mode: str = "Auto"
    tags: list[dict[str, str]] = field(default_factory=list)
    client_token: str | None = None
    status: str = "Pending"
    started: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    ended: dt.datetime | None = None
    steps: list[StepRecord] = field(default_factory=list)
    step_outputs: dict[str, list[str]] = field(default_factory=dict)
    failure_message: str | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    signal: threading.Event = field(default_factory=threading.Event)
    signal_type: str | None = None
    waiting_for: tuple[str, ...] = ()
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def current(self) -> StepRecord | None:
        running = [s for s in self.steps if s.status not in TERMINAL]
        return running[-1] if running and self.status not in TERMINAL else None

    def outputs(self) -> dict[str, list[str]]:
        return {
            name: list(self.step_outputs.get(name, [NO_OUTPUT])) for name in self.document.outputs
        }

    def _common(self) -> dict[str, Any]:
        current = self.current
        return {
            "AutomationExecutionId": self.execution_id,
            "DocumentName": self.document.name,
            "DocumentVersion": self.document.version,
            "AutomationExecutionStatus": self.status,
            "ExecutionStartTime": epoch(self.started),
            "ExecutionEndTime": epoch(self.ended),
            "ExecutedBy": self.caller.arn,
            "Outputs": self.outputs() or None,  # AutomationParameterMap: at least one entry
            "Mode": self.mode,
            "CurrentStepName": current.step.name if current else None,
            "CurrentAction": current.step.action if current else None,
            "FailureMessage": self.failure_message,
            "Targets": [],
            "ResolvedTargets": {"ParameterValues": [], "Truncated": False},
        }

    def describe(self) -> dict[str, Any]:
        """GetAutomationExecution's ``AutomationExecution``."""
        described = self._common()
        described.update(
            {
                "StepExecutions": [record.describe() for record in self.steps],
                "StepExecutionsTruncated": False,
                # A parameter without a value (an empty default) is not shown: values are at
                # least one character long.
                "Parameters": {k: list(v) for k, v in self.parameters.items() if v} or None,
            }
        )
        return drop_none(described)

    def metadata(self) -> dict[str, Any]:
        """DescribeAutomationExecutions' ``AutomationExecutionMetadata``."""
        described = self._common()
        described.update({"LogFile": "", "AutomationType": "Local"})
        return drop_none(described)


def _snake(name: str) -> str:
    """boto3's method name of an API (RebootDBInstance -> reboot_db_instance)."""
    from botocore import xform_name

    return str(xform_name(name))


def select(document: Any, selector: str) -> Any:
    """The JSONPath subset Automation selectors use: ``$.A.B[0].C``."""
    node = document
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", selector.removeprefix("$")):
        if part.startswith("["):
            index = int(part[1:-1])
            node = node[index] if isinstance(node, list) and len(node) > index else None
        else:
            node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            return None
    return node


def _output_values(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [v if isinstance(v, str) else json.dumps(v, default=str) for v in value]
    if isinstance(value, str):
        return [value]
    return [json.dumps(value, default=str)]


class StepFailed(Exception):
    """A step's action ended otherwise than Success (``outcome``: Failed or TimedOut)."""

    def __init__(self, message: str, outcome: str = "Failed", failure_type: str = "Action"):
        super().__init__(message)
        self.outcome = outcome
        self.failure_type = failure_type


class Automation(JsonApi):
    """Automation executions of every account and region the emulator serves."""

    target_prefix = "AmazonSSM"
    service = "ssm"

    def __init__(
        self,
        *,
        endpoint_url: str | None = None,
        step_seconds: float = 0.5,
        log_path: Path | None = None,
    ) -> None:
        """``endpoint_url``: where a step's API calls go (``None``: boto3's default, i.e.
        moto in-process under ``mock_aws``). ``step_seconds``: how long a step takes."""
        super().__init__()
        self.endpoint_url = endpoint_url
        self.step_seconds = step_seconds
        self.log = JsonLog(log_path)
        """Each step transition and each end: ``logs/automation.log``."""
        self._executions: dict[str, Execution] = {}
        self._scripts: list[StepScript] = []
        self._closed = False

    def operations(self) -> dict[str, Operation]:
        return {
            "StartAutomationExecution": self.start_automation_execution,
            "GetAutomationExecution": self.get_automation_execution,
            "DescribeAutomationExecutions": self.describe_automation_executions,
            "DescribeAutomationStepExecutions": self.describe_automation_step_executions,
            "StopAutomationExecution": self.stop_automation_execution,
            "SendAutomationSignal": self.send_automation_signal,
        }

    # -- scripting (tests, the demo) -----------------------------------------------------
    def script(
        self,
        document: str,
        step: str,
        outcome: str = "Success",
        *,
        message: str = "",
        delay_seconds: float | None = None,
        outputs: dict[str, Any] | None = None,
        times: int | None = None,
        contains: tuple[str, ...] = (),
    ) -> StepScript:
        """Say what ``step`` of ``document`` does from now on (the first live script for a
        step wins). ``outputs``: name -> value (a string or a list of strings)."""
        rule = StepScript(
            document, step, outcome, message, delay_seconds, dict(outputs or {}), times, contains
        )
        with self.lock:
            self._scripts.append(rule)
        return rule

    def clear_scripts(self) -> None:
        with self.lock:
            self._scripts.clear()

    def executions(self) -> list[dict[str, Any]]:
        """Every execution as GetAutomationExecution describes it, oldest first."""
        with self.lock:
            return [execution.describe() for execution in self._executions.values()]

    def wait(self, execution_id: str, timeout: float = 30.0) -> str:
        """Block until the execution ends; its final status."""
        with self.lock:
            execution = self._executions[execution_id]
        if not execution.done.wait(timeout):
            raise TimeoutError(f"automation execution {execution_id} still {execution.status}")
        return execution.status

    def shutdown(self) -> None:
        """Cancel what still runs (the emulator is stopping)."""
        with self.lock:
            self._closed = True
            running = [e for e in self._executions.values() if not e.done.is_set()]
        for execution in running:
            execution.cancel.set()
            execution.signal.set()
        for execution in running:
            execution.done.wait(2)

    # -- the API -------------------------------------------------------------------------
    def _document(self, body: dict[str, Any], caller: Caller) -> AutomationDocument:
        name = document_name(str(body.get("DocumentName", "")))
        version = body.get("DocumentVersion")
        from moto.ssm.models import ssm_backends

        documents = ssm_backends[caller.account][caller.region]._documents.get(name)
        if documents is None:
            if name in CATALOGUE:
                if version not in (None, "$DEFAULT", "$LATEST", CATALOGUE[name].version):
                    raise ApiError(
                        "AutomationDefinitionVersionNotFoundException",
                        f"Document {name} has no version {version}.",
                    )
                return CATALOGUE[name]
            raise ApiError(
                "AutomationDefinitionNotFoundException",
                f"Document with name {name} does not exist.",
            )
        try:
            document = documents.find(None if version in (None, "$DEFAULT") else version)
        except Exception as err:  # moto's InvalidDocumentVersion
            raise ApiError(
                "AutomationDefinitionVersionNotFoundException",
                f"Document {name} has no version {version}.",
            ) from err
        if document.document_type != "Automation":
            raise ApiError(
                "AutomationDefinitionNotFoundException",
                f"Document {name} is a {document.document_type} document, not Automation.",
            )
        owner = AMAZON if document.owner == AMAZON else str(document.owner)
        return parse_content(name, document.content_json, str(document.document_version), owner)

    def _find(self, body: dict[str, Any], caller: Caller) -> Execution:
        execution_id = str(body.get("AutomationExecutionId", ""))
        execution = self._executions.get(execution_id)
        if execution is None or execution.caller != caller:
            raise ApiError(
                "AutomationExecutionNotFoundException",
                f"Automation execution {execution_id} does not exist.",
            )
        return execution

    def start_automation_execution(self, body: dict[str, Any], caller: Caller) -> dict[str, Any]:
        if self._closed:
            raise ApiError("InternalServerError", "the emulator is stopping", 500)
        token = body.get("ClientToken")
        document = self._document(body, caller)
        raw = body.get("Parameters") or {}
        given = {str(k): [str(v) for v in values] for k, values in raw.items()}
        if body.get("Targets") or body.get("TargetMaps") or body.get("TargetLocations"):
            raise ApiError(
                "InvalidTarget",
                "Rate-controlled and multi-account executions are not emulated: pass the "
                "target in Parameters.",
            )
        parameters = resolve_parameters(document, given)
        if token:
            for other in self._executions.values():
                if other.client_token == token and other.caller == caller:
                    if (other.document.name, other.parameters) != (document.name, parameters):
                        raise ApiError(
                            "IdempotentParameterMismatch",
                            "The ClientToken was used with other parameters.",
                        )
                    return {"AutomationExecutionId": other.execution_id}
        execution = Execution(
            execution_id=str(uuid.uuid4()),
            document=document,
            parameters=parameters,
            caller=caller,
            mode=str(body.get("Mode") or "Auto"),
            tags=list(body.get("Tags") or []),
            client_token=token,
        )
        self._executions[execution.execution_id] = execution
        threading.Thread(
            target=self._run,
            args=(execution,),
            name=f"automation-{execution.execution_id[:8]}",
            daemon=True,
        ).start()
        return {"AutomationExecutionId": execution.execution_id}

    def get_automation_execution(self, body: dict[str, Any], caller: Caller) -> dict[str, Any]:
        return {"AutomationExecution": self._find(body, caller).describe()}

    def describe_automation_executions(
        self, body: dict[str, Any], caller: Caller
    ) -> dict[str, Any]:
        found = [e for e in self._executions.values() if e.caller == caller]
        for entry in body.get("Filters") or []:
            found = [e for e in found if _execution_matches(e, entry)]
        found.sort(key=lambda e: e.started, reverse=True)
        chunk, token = page(found, body, default=50, most=50)
        return drop_none(
            {"AutomationExecutionMetadataList": [e.metadata() for e in chunk], "NextToken": token}
        )

    def describe_automation_step_executions(
        self, body: dict[str, Any], caller: Caller
    ) -> dict[str, Any]:
        records = list(self._find(body, caller).steps)
        for entry in body.get("Filters") or []:
            records = [r for r in records if _step_matches(r, entry)]
        if body.get("ReverseOrder"):
            records.reverse()
        chunk, token = page(records, body, default=50, most=50)
        return drop_none({"StepExecutions": [r.describe() for r in chunk], "NextToken": token})

    def stop_automation_execution(self, body: dict[str, Any], caller: Caller) -> dict[str, Any]:
        execution = self._find(body, caller)
        if execution.status in TERMINAL:
            raise ApiError(
                "InvalidAutomationStatusUpdateException",
                f"Automation execution {execution.execution_id} is already "
                f"{execution.status} and cannot be stopped.",
            )
        execution.status = "Cancelling"
        execution.cancel.set()
        execution.signal.set()
        self._log(execution, None, "Cancelling", "StopAutomationExecution")
        return {}

    def send_automation_signal(self, body: dict[str, Any], caller: Caller) -> dict[str, Any]:
        execution = self._find(body, caller)
        signal = str(body.get("SignalType", ""))
        if execution.status in TERMINAL or signal not in execution.waiting_for:
            raise ApiError(
                "InvalidAutomationSignalException",
                f"Automation execution {execution.execution_id} is not waiting for a "
                f"{signal} signal.",
            )
        execution.signal_type = signal
        execution.signal.set()
        return {}

    # -- running an execution ------------------------------------------------------------
    def _run(self, execution: Execution) -> None:
        try:
            self._run_steps(execution)
        except Exception as err:  # an emulator bug must still end the execution
            LOGGER.exception("automation execution %s failed", execution.execution_id)
            with self.lock:
                execution.failure_message = f"emulator error: {err}"
                execution.status = "Failed"
        finally:
            with self.lock:
                execution.ended = dt.datetime.now(dt.UTC)
            self._log(execution, None, execution.status, execution.failure_message or "")
            execution.done.set()

    def _run_steps(self, execution: Execution) -> None:
        document = execution.document
        if execution.cancel.wait(min(self.step_seconds, 0.2)):
            self._finish(execution, "Cancelled", None)
            return
        with self.lock:
            execution.status = "InProgress"
        variables = parameter_variables(document, execution.parameters)
        variables.update(
            {
                "automation:EXECUTION_ID": execution.execution_id,
                "global:ACCOUNT_ID": execution.caller.account,
                "global:REGION": execution.caller.region,
                "global:DATE_TIME": execution.started.strftime("%Y-%m-%d_%H.%M.%S"),
            }
        )
        index: int | None = 0
        failed: tuple[str, str] | None = None  # (status, message) of a critical failure
        while index is not None and 0 <= index < len(document.steps):
            step = document.steps[index]
            record = StepRecord(step, substitute(step.inputs, variables))
            with self.lock:
                execution.steps.append(record)
            outcome, message, outputs = self._run_step(execution, record)
            with self.lock:
                record.status = outcome
                record.ended = dt.datetime.now(dt.UTC)
                record.outputs = outputs
                if outcome != "Success" and message:
                    record.failure_message = message
                for name, values in outputs.items():
                    execution.step_outputs[f"{step.name}.{name}"] = values
                    variables[f"{step.name}.{name}"] = values[0] if len(values) == 1 else values
            self._log(execution, step.name, outcome, message)
            if outcome == "Cancelled" or execution.cancel.is_set():
                self._finish(execution, "Cancelled", None)
                return
            if outcome == "Success":
                index = _next_index(document, step, index)
                continue
            if step.on_failure == "Continue" or step.on_failure.startswith("step:"):
                if step.is_critical:
                    failed = failed or (outcome, f"Step {step.name} {outcome}: {message}")
                if step.on_failure == "Continue":
                    index = _next_index(document, step, index)
                else:
                    index = _index_of(document, step.on_failure.removeprefix("step:"))
                continue
            self._finish(execution, outcome, f"Step {step.name} {outcome}: {message}")
            return
        if failed is not None:
            self._finish(execution, failed[0], failed[1])
        else:
            self._finish(execution, "Success", None)

    def _finish(self, execution: Execution, status: str, message: str | None) -> None:
        with self.lock:
            execution.status = status
            execution.failure_message = message
            for record in execution.steps:
                if record.status not in TERMINAL:
                    record.status = "Cancelled"
                    record.ended = dt.datetime.now(dt.UTC)

    def _take_script(self, execution: Execution, step: Step) -> StepScript | None:
        text = json.dumps(execution.parameters)
        with self.lock:
            for rule in self._scripts:
                if (
                    rule.document == execution.document.name
                    and rule.step == step.name
                    and not rule.exhausted
                    and all(s in text for s in rule.contains)
                ):
                    rule.fired += 1
                    return rule
        return None

    def _run_step(
        self, execution: Execution, record: StepRecord
    ) -> tuple[str, str, dict[str, list[str]]]:
        """(outcome, failure message, outputs) of one step."""
        step = record.step
        with self.lock:
            record.status = "InProgress"
            record.started = dt.datetime.now(dt.UTC)
        script = self._take_script(execution, step)
        if script is not None:
            delay = self.step_seconds if script.delay_seconds is None else script.delay_seconds
            if execution.cancel.wait(delay):
                return "Cancelled", "", {}
            outputs = {name: _output_values(value) for name, value in script.outputs.items()}
            return script.outcome, script.message, outputs
        if step.action in ("aws:approve", "aws:pause"):
            return self._wait_for_signal(execution, record)
        if execution.cancel.wait(self.step_seconds):
            return "Cancelled", "", {}
        action = _ACTIONS.get(step.action)
        if action is None:
            return (
                "Failed",
                f"The local emulator does not run {step.action} steps; script this step with "
                "emulator.automation.script(...).",
                {},
            )
        try:
            outputs = action(self, execution, record)
        except StepFailed as err:
            with self.lock:
                record.failure_type = err.failure_type
            return err.outcome, str(err), {}
        except (ClientError, BotoCoreError) as err:
            return "Failed", str(err), {}
        return "Success", "", outputs

    def _wait_for_signal(
        self, execution: Execution, record: StepRecord
    ) -> tuple[str, str, dict[str, list[str]]]:
        expected = ("Approve", "Reject") if record.step.action == "aws:approve" else ("Resume",)
        with self.lock:
            execution.status = "Waiting"
            record.status = "Waiting"
            execution.waiting_for = expected
            execution.signal.clear()
        self._log(execution, record.step.name, "Waiting", "/".join(expected))
        execution.signal.wait()
        with self.lock:
            execution.waiting_for = ()
            signal, execution.signal_type = execution.signal_type, None
            if not execution.cancel.is_set():
                execution.status = "InProgress"
        if execution.cancel.is_set():
            return "Cancelled", "", {}
        if signal == "Reject":
            return "Failed", "The approval was rejected (SendAutomationSignal Reject).", {}
        return "Success", "", ({"ApprovalStatus": ["Approved"]} if signal == "Approve" else {})

    # -- what actions do -------------------------------------------------------------------
    def client(self, service: str, caller: Caller) -> Any:
        """A boto3 client for a step's API calls, as the caller's account."""
        client = boto3.client(
            service,
            endpoint_url=self.endpoint_url,
            region_name=caller.region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - moto's fake credentials
            config=Config(retries={"max_attempts": 1}),
        )
        if caller.account != DEFAULT_ACCOUNT_ID:

            def as_account(request: Any, **_: Any) -> None:
                request.headers["x-moto-account-id"] = caller.account

            client.meta.events.register("before-sign.*.*", as_account)
        return client

    def _log(self, execution: Execution, step: str | None, status: str, message: str) -> None:
        LOGGER.info("automation %s %s %s %s", execution.execution_id, step or "-", status, message)
        self.log.write(
            execution=execution.execution_id,
            document=execution.document.name,
            step=step,
            status=status,
            message=message,
        )


def _next_index(document: AutomationDocument, step: Step, index: int) -> int | None:
    if step.is_end:
        return None
    if step.next_step:
        return _index_of(document, step.next_step)
    return index + 1


def _index_of(document: AutomationDocument, name: str) -> int | None:
    """Where a nextStep/onFailure names; ``None`` (the end) for a name the document lacks,
    which CreateDocument would have refused on AWS."""
    for position, step in enumerate(document.steps):
        if step.name == name:
            return position
    LOGGER.warning("%s names step %s, which it does not have", document.name, name)
    return None


def _parse_time(value: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _execution_matches(execution: Execution, entry: dict[str, Any]) -> bool:
    key, values = str(entry.get("Key")), [str(v) for v in entry.get("Values") or []]
    if key == "DocumentNamePrefix":
        return any(execution.document.name.startswith(v) for v in values)
    if key == "ExecutionStatus":
        return execution.status in values
    if key == "ExecutionId":
        return execution.execution_id in values
    if key == "StartTimeBefore":
        return any(execution.started < _parse_time(v) for v in values)
    if key == "StartTimeAfter":
        return any(execution.started > _parse_time(v) for v in values)
    if key == "TagKey":
        return any(t.get("Key") in values for t in execution.tags)
    if key == "AutomationType":
        return "Local" in values
    raise ApiError("InvalidFilterKey", f"The filter key {key} is not emulated.")


def _step_matches(record: StepRecord, entry: dict[str, Any]) -> bool:
    key, values = str(entry.get("Key")), [str(v) for v in entry.get("Values") or []]
    if key == "StepName":
        return record.step.name in values
    if key == "StepExecutionStatus":
        return record.status.upper() in [v.upper() for v in values]
    if key == "StepExecutionId":
        return record.step_execution_id in values
    if key == "Action":
        return record.step.action in values
    if key in ("StartTimeBefore", "StartTimeAfter") and record.started is not None:
        moments = [_parse_time(v) for v in values]
        if key == "StartTimeBefore":
            return any(record.started < m for m in moments)
        return any(record.started > m for m in moments)
    if key in ("StartTimeBefore", "StartTimeAfter"):
        return False
    raise ApiError("InvalidFilterKey", f"The filter key {key} is not emulated.")


# -- actions -------------------------------------------------------------------------------
ActionFn = Callable[[Automation, Execution, StepRecord], dict[str, list[str]]]


def _change_instance_state(
    automation: Automation, execution: Execution, record: StepRecord
) -> dict[str, list[str]]:
    inputs = record.inputs
    ids = inputs.get("InstanceIds") or []
    ids = [ids] if isinstance(ids, str) else [str(i) for i in ids]
    desired = str(inputs.get("DesiredState", ""))
    ec2 = automation.client("ec2", execution.caller)
    if str(inputs.get("CheckStateOnly", "false")).lower() == "true":
        reservations = ec2.describe_instances(InstanceIds=ids)["Reservations"]
        states = {i["InstanceId"]: i["State"]["Name"] for r in reservations for i in r["Instances"]}
        wrong = {i: s for i, s in states.items() if s != desired}
        if wrong:
            raise StepFailed(f"Instances are not {desired}: {wrong}")
        return {}
    if desired == "stopped":
        ec2.stop_instances(InstanceIds=ids, Force=bool(inputs.get("Force", False)))
    elif desired == "running":
        ec2.start_instances(InstanceIds=ids)
    elif desired == "terminated":
        ec2.terminate_instances(InstanceIds=ids)
    else:
        raise StepFailed(f"DesiredState {desired!r} is not one of running, stopped, terminated.")
    return {}


def _api_call(automation: Automation, execution: Execution, inputs: dict[str, Any]) -> Any:
    params = {k: v for k, v in inputs.items() if k not in _API_INPUTS}
    client = automation.client(str(inputs["Service"]), execution.caller)
    response = getattr(client, _snake(str(inputs["Api"])))(**params)
    response.pop("ResponseMetadata", None)
    return json.loads(json.dumps(response, default=str))


_API_INPUTS = ("Service", "Api", "PropertySelector", "DesiredValues")


def _execute_aws_api(
    automation: Automation, execution: Execution, record: StepRecord
) -> dict[str, list[str]]:
    response = _api_call(automation, execution, record.inputs)
    outputs = {}
    for output in record.step.outputs:
        outputs[str(output["Name"])] = _output_values(select(response, str(output["Selector"])))
    return outputs


def _wait_for_property(
    automation: Automation, execution: Execution, record: StepRecord
) -> dict[str, list[str]]:
    desired = [str(v) for v in record.inputs.get("DesiredValues") or []]
    selector = str(record.inputs.get("PropertySelector", "$"))
    seen: Any = None
    for _ in range(WAIT_POLLS):
        seen = select(_api_call(automation, execution, record.inputs), selector)
        if str(seen) in desired:
            return {}
        if execution.cancel.wait(max(automation.step_seconds / 4, 0.05)):
            return {}
    raise StepFailed(
        f"Step timed out while step is verifying the {selector} is in {desired} (last: {seen}).",
        outcome="TimedOut",
        failure_type="Timeout",
    )


def _assert_property(
    automation: Automation, execution: Execution, record: StepRecord
) -> dict[str, list[str]]:
    desired = [str(v) for v in record.inputs.get("DesiredValues") or []]
    selector = str(record.inputs.get("PropertySelector", "$"))
    seen = select(_api_call(automation, execution, record.inputs), selector)
    if str(seen) not in desired:
        raise StepFailed(f"{selector} is {seen}, not one of {desired}.")
    return {}


def _sleep(
    automation: Automation, execution: Execution, record: StepRecord
) -> dict[str, list[str]]:
    return {}  # the step's time has passed already (time is compressed)


_ACTIONS: dict[str, ActionFn] = {
    "aws:changeInstanceState": _change_instance_state,
    "aws:executeAwsApi": _execute_aws_api,
    "aws:waitForAwsResourceProperty": _wait_for_property,
    "aws:assertAwsResourceProperty": _assert_property,
    "aws:sleep": _sleep,
}
