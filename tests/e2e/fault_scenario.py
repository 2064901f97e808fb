"""Run by test_fault_injection.py in a process of its own (one emulator per process): the
reliability matrix of issue 7. An emulator with Slack configured against a local fake Slack Web
API, one failing Lambda function per case (seeded logs and metrics, as in the demo), and one
incident per case driven from its alarm to the postmortem while one dependency fails:

    classify   the classify function raises TransientDependencyError once
    insights   Logs Insights StartQuery throttled (every attempt)
    xray       X-Ray answers 503 ServiceUnavailable (every attempt)
    slack      the Slack Web API answers 503 to everything (critical incident: it has a channel)
    sns        the page's SNS Publish (Step Functions integration) fails once with a 500
    s3         the postmortem's S3 PutObject fails for one attempt of the step (every SDK retry)
    dynamodb   MonitorRecovery's conditional write of the task token loses a race once

Every other case is a high incident (no Slack channel), so only the slack case talks to Slack.
Faults are scoped by the case's function, alarm or incident id so the cases run concurrently;
the dynamodb case, whose write carries nothing case-specific before the incident exists, runs
alone until its fault fired.

Prints one JSON document (what each case saw) on its last line.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
import time
import types
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO_ROOT), str(REPO_ROOT / "functions")]

from runbook.demo import seed_failing_function  # noqa: E402
from runbook.local.emulator import LocalEmulator  # noqa: E402
from runbook.local.faults import Fault  # noqa: E402
from runbook.local.server import free_port  # noqa: E402
from tests.e2e.conftest import subscribe_queue  # noqa: E402
from tests.e2e.helpers import entered_states, history, wait_for  # noqa: E402
from tests.fakes.slack_api import FakeSlackApi  # noqa: E402

SECRET_NAME = "incident-runbook/slack"
SETTINGS = {
    # Long enough never to time out while the matrix runs concurrently; heartbeats keep up.
    "recoveryTimeoutSeconds": 180,
    "heartbeatSeconds": 90,
    "stabilisationSeconds": 3,
    "slackSecretName": SECRET_NAME,
}
SLACK_METHODS = ("conversations.create", "conversations.invite", "chat.postMessage")
CASES = ("dynamodb", "classify", "insights", "xray", "slack", "sns", "s3")


def task_outcomes(events: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Per state, its task results in order (`failed:<error>` / `succeeded`): each task event
    is tied to its state by walking `previousEventId` back to the state's entry."""
    by_id = {e["id"]: e for e in events}
    found: dict[str, list[str]] = {}
    for event in events:
        kind = event["type"]
        if kind not in ("TaskFailed", "TaskSucceeded", "TaskTimedOut"):
            continue
        current: dict[str, Any] | None = event
        for _ in range(50):
            if current is None or "stateEnteredEventDetails" in current:
                break
            current = by_id.get(current.get("previousEventId", 0))
        if current is None:
            continue
        state = current["stateEnteredEventDetails"]["name"]
        if kind == "TaskSucceeded":
            found.setdefault(state, []).append("succeeded")
        else:
            error = event.get("taskFailedEventDetails", {}).get("error", kind)
            found.setdefault(state, []).append(f"failed:{error}")
    return found


@dataclass
class Case:
    """One row of the matrix: the incident's names and what it saw."""

    key: str
    severity: str = "high"
    faults: list[Fault] = field(default_factory=list)

    @property
    def function(self) -> str:
        return f"{self.key}-svc"

    @property
    def alarm(self) -> str:
        return f"{self.function}-{self.severity}-errors"


class Matrix:
    def __init__(self, emulator: LocalEmulator, slack: FakeSlackApi) -> None:
        self.emulator = emulator
        self.slack = slack
        self.outputs = emulator.outputs
        self.pager = subscribe_queue(emulator.client, self.outputs["CriticalTopicArn"], "pager")
        subscribe_queue(emulator.client, self.outputs["HighTopicArn"], "pager")
        self._pages: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.functions = {
            f["FunctionName"] for f in emulator.client("lambda").list_functions()["Functions"]
        }

    def client(self, service: str) -> Any:
        return self.emulator.client(service)

    def function_named(self, marker: str) -> str:
        return next(n for n in self.functions if marker.lower() in n.lower())

    def record(self, incident_id: str) -> dict[str, Any]:
        item: dict[str, Any] = self.client("dynamodb").get_item(
            TableName=self.outputs["IncidentTableName"],
            Key={"incident_id": {"S": incident_id}},
            ConsistentRead=True,
        )["Item"]
        return item

    def incident_for(self, alarm: str) -> str:
        def probe() -> str | None:
            items = self.client("dynamodb").query(
                TableName=self.outputs["IncidentTableName"],
                IndexName="by_alarm",
                KeyConditionExpression="alarm_arn = :a",
                ExpressionAttributeValues={":a": {"S": self.alarm_arn(alarm)}},
            )["Items"]
            return items[0]["incident_id"]["S"] if items else None

        found: str = wait_for(f"the incident of {alarm}", probe, 120)
        return found

    def alarm_arn(self, alarm: str) -> str:
        return f"arn:aws:cloudwatch:{self.emulator.region}:{self.emulator.account}:alarm:{alarm}"

    def set_alarm(self, case: Case, state: str) -> None:
        cloudwatch = self.client("cloudwatch")
        if state == "ALARM":
            cloudwatch.put_metric_alarm(
                AlarmName=case.alarm,
                AlarmDescription=f"{case.function} is failing",
                Namespace="AWS/Lambda",
                MetricName="Errors",
                Dimensions=[{"Name": "FunctionName", "Value": case.function}],
                Statistic="Sum",
                Period=60,
                EvaluationPeriods=1,
                Threshold=1,
                ComparisonOperator="GreaterThanOrEqualToThreshold",
            )
        cloudwatch.set_alarm_state(AlarmName=case.alarm, StateValue=state, StateReason=state)

    def page_for(self, incident_id: str) -> dict[str, Any]:
        sqs = self.client("sqs")

        def probe() -> dict[str, Any] | None:
            with self._lock:
                got = sqs.receive_message(QueueUrl=self.pager, MaxNumberOfMessages=10)
                for message in got.get("Messages", []):
                    self._pages.append(json.loads(message["Body"]))
                    sqs.delete_message(QueueUrl=self.pager, ReceiptHandle=message["ReceiptHandle"])
                for body in self._pages:
                    attributes = body.get("MessageAttributes", {})
                    if attributes.get("incident_id", {}).get("Value") == incident_id:
                        return body
            return None

        page: dict[str, Any] = wait_for(f"the page for {incident_id}", probe, 120)
        return page

    def waiting(self, incident_id: str) -> bool:
        """MonitorRecovery stored its task token: an OK now resumes the wait."""
        return "task_token" in self.record(incident_id)

    # -- one incident --------------------------------------------------------------------
    def open(self, case: Case) -> tuple[str, str]:
        """Fire the alarm; the incident id and its execution."""
        self.set_alarm(case, "ALARM")
        incident_id = self.incident_for(case.alarm)
        arn: str = wait_for(
            "the execution",
            lambda: self.record(incident_id).get("execution_arn", {}).get("S"),
            120,
        )
        return incident_id, arn

    def close(self, case: Case, incident_id: str, execution_arn: str) -> dict[str, Any]:
        """Page, wait, alarm OK, stabilisation, postmortem: what the case saw on the way."""
        page = self.page_for(incident_id)
        wait_for("MonitorRecovery", lambda: self.waiting(incident_id), 120)
        self.set_alarm(case, "OK")
        sfn = self.client("stepfunctions")
        described = wait_for(
            "the end of the execution",
            lambda: (
                (d := sfn.describe_execution(executionArn=execution_arn))["status"] != "RUNNING"
                and d
            ),
            120,
        )
        events = history(sfn, execution_arn)
        record = self.record(incident_id)
        uri = record.get("postmortem_uri", {}).get("S", "")
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        text = (
            self.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode()
            if uri
            else ""
        )
        return {
            "incident_id": incident_id,
            "status": described["status"],
            "output": json.loads(described.get("output") or "{}"),
            "states": entered_states(events),
            "tasks": task_outcomes(events),
            "page_subject": page.get("Subject", ""),
            "incident_status": record["status"]["S"],
            "postmortem_uri": uri,
            "postmortem_key": key,
            "postmortem": text,
            "fired": {f.name: f.fired for f in case.faults},
        }


def arm(m: Matrix, case: Case) -> None:
    """The faults a case sets before its alarm fires."""
    faults = m.emulator.faults
    if case.key == "classify":
        case.faults.append(
            faults.fail_function(
                m.function_named("Classify"),
                "TransientDependencyError",
                message="DynamoDB GetItem: ServiceUnavailable (injected)",
                contains=(case.alarm,),
                name="classify",
            )
        )
    elif case.key == "insights":
        rule = Fault(
            "logs",
            "StartQuery",
            "ThrottlingException",
            message="Rate exceeded",
            times=None,
            contains=(case.function,),
            name="insights",
        )
        case.faults.append(faults.add(rule))
    elif case.key == "xray":
        rule = Fault(
            "xray",
            "*",
            "ServiceUnavailable",
            503,
            "X-Ray is unavailable",
            times=None,
            contains=(case.function,),
            name="xray",
        )
        case.faults.append(faults.add(rule))
    elif case.key == "sns":
        rule = Fault(
            "sns",
            "Publish",
            "InternalError",
            500,
            "SNS had an internal error",
            contains=(case.alarm, m.outputs["HighTopicArn"]),
            name="sns",
        )
        case.faults.append(faults.add(rule))
    elif case.key == "dynamodb":
        rule = Fault(
            "dynamodb",
            "UpdateItem",
            "ConditionalCheckFailedException",
            message="The conditional request failed",
            contains=("attribute_not_exists(recovery_signal)", "MONITORING"),
            name="dynamodb",
        )
        case.faults.append(faults.add(rule))
    elif case.key == "slack":
        for method in SLACK_METHODS:
            m.slack.server_error(method, 503, times=1000)


def after_open(m: Matrix, case: Case, incident_id: str) -> None:
    """Faults that need the incident id (the postmortem is written only after the OK)."""
    if case.key == "s3":
        rule = Fault(
            "s3",
            "PutObject",
            "InternalError",
            500,
            "We encountered an internal error. Please try again.",
            times=4,  # every attempt of one call: shared.aws retries 3 times
            contains=(f"incidents/{incident_id}/postmortem.md",),
            name="s3",
        )
        case.faults.append(m.emulator.faults.add(rule))


def run_case(m: Matrix, case: Case, opened: tuple[str, str] | None = None) -> dict[str, Any]:
    incident_id, execution_arn = opened or m.open(case)
    after_open(m, case, incident_id)
    seen = m.close(case, incident_id, execution_arn)
    if case.key == "slack":
        seen["slack_calls"] = {name: len(m.slack.calls(name)) for name in SLACK_METHODS}
    return seen


def main() -> int:
    workdir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp())
    slack = FakeSlackApi().serve()
    os.environ["SLACK_API_URL"] = slack.url  # inherited by the emulator's functions
    emulator = LocalEmulator(free_port(), workdir, SETTINGS)
    emulator.start()
    started = time.monotonic()
    try:
        emulator.deploy()
        deployed = time.monotonic()
        emulator.client("secretsmanager").create_secret(
            Name=SECRET_NAME,
            SecretString=json.dumps({"bot_token": "xoxb-e2e", "signing_secret": "e2e-signing"}),
        )
        m = Matrix(emulator, slack)
        cases = {key: Case(key, "critical" if key == "slack" else "high") for key in CASES}
        seeding = types.SimpleNamespace(client=emulator.client)
        for case in cases.values():
            seed_failing_function(seeding, case.function)  # type: ignore[arg-type]
            arm(m, case)
        # The dynamodb fault cannot name its incident: run it alone until it fired.
        first = cases["dynamodb"]
        opened = m.open(first)
        wait_for("the dynamodb fault", lambda: first.faults[0].fired, 120)
        with ThreadPoolExecutor(max_workers=len(cases)) as pool:
            futures = {
                key: pool.submit(run_case, m, case, opened if key == "dynamodb" else None)
                for key, case in cases.items()
            }
            outcome: dict[str, Any] = {key: f.result() for key, f in futures.items()}
        outcome["timing"] = {
            "deploy_seconds": round(deployed - started, 1),
            "matrix_seconds": round(time.monotonic() - deployed, 1),
        }
        print(json.dumps(outcome))
        return 0
    finally:
        emulator.stop()
        slack.close()


if __name__ == "__main__":
    sys.exit(main())
