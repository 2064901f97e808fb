"""Run by test_escalation.py in a process of its own (one emulator per process): an emulator
with waits of seconds, Slack configured against a local fake Slack Web API, and three
incidents driven through the human side of the response:

- escalation: critical alarm -> page -> channel -> no OK within the wait -> escalation page ->
  `runbook ack` -> alarm OK -> stabilisation -> recovered -> postmortem;
- flap: alarm OK -> stabilisation wait -> the alarm fires again -> back to waiting -> OK ->
  recovered (one incident, one execution);
- buttons: the Slack Acknowledge and Resolve buttons through the slack_actions function, signed
  as Slack signs them (and a forged click refused).

Prints one JSON document (what each scenario saw) on its last line.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO_ROOT), str(REPO_ROOT / "functions")]

from callbacks.signature import sign  # noqa: E402
from runbook.cli import main as runbook_cli  # noqa: E402
from runbook.local.emulator import LocalEmulator  # noqa: E402
from runbook.local.server import free_port  # noqa: E402
from tests.e2e.conftest import subscribe_queue  # noqa: E402
from tests.e2e.helpers import entered_states, history, wait_for  # noqa: E402
from tests.fakes.slack_api import FakeSlackApi  # noqa: E402

SECRET_NAME = "incident-runbook/slack"
SIGNING_SECRET = "e2e-signing-secret"
BOT_TOKEN = "xoxb-e2e-token"
SETTINGS = {
    "recoveryTimeoutSeconds": 12,
    "heartbeatSeconds": 6,
    "stabilisationSeconds": 8,  # the flap scenario re-fires the alarm inside this window
    "maxEscalations": 1,
    "slackSecretName": SECRET_NAME,
    "slackResponders": ["U0E2ERESP"],
}


class Scenario:
    def __init__(self, emulator: LocalEmulator, slack: FakeSlackApi) -> None:
        self.emulator = emulator
        self.slack = slack
        self.outputs = emulator.outputs
        self.sfn = emulator.client("stepfunctions")
        self.sqs = emulator.client("sqs")
        self.cloudwatch = emulator.client("cloudwatch")
        self.dynamodb = emulator.client("dynamodb")
        self.pager = subscribe_queue(emulator.client, self.outputs["CriticalTopicArn"], "pager")
        self.escalations = subscribe_queue(
            emulator.client, self.outputs["EscalationTopicArn"], "escalations"
        )
        self._seen: dict[str, list[dict[str, Any]]] = {self.pager: [], self.escalations: []}

    # -- AWS side ------------------------------------------------------------------------
    def alarm(self, name: str, state: str) -> None:
        if state == "ALARM":
            self.cloudwatch.put_metric_alarm(
                AlarmName=name,
                Namespace="AWS/Lambda",
                MetricName="Errors",
                Dimensions=[{"Name": "FunctionName", "Value": name.split("-critical")[0]}],
                Statistic="Sum",
                Period=60,
                EvaluationPeriods=1,
                Threshold=1,
                ComparisonOperator="GreaterThanOrEqualToThreshold",
            )
        self.cloudwatch.set_alarm_state(
            AlarmName=name, StateValue=state, StateReason=f"e2e: {state}"
        )

    def incident_for(self, alarm: str) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            for item in self.dynamodb.scan(TableName=self.outputs["IncidentTableName"])["Items"]:
                if (
                    item.get("alarm_name", {}).get("S") == alarm
                    and "#" not in item["incident_id"]["S"]
                ):
                    return item
            return None

        return wait_for(f"the incident of {alarm}", probe)

    def record(self, incident_id: str) -> dict[str, Any]:
        item = self.dynamodb.get_item(
            TableName=self.outputs["IncidentTableName"],
            Key={"incident_id": {"S": incident_id}},
            ConsistentRead=True,
        )["Item"]
        return item

    def execution_arn(self, incident_id: str) -> str:
        return wait_for(
            "the execution",
            lambda: self.record(incident_id).get("execution_arn", {}).get("S"),
        )

    def entered(self, execution_arn: str) -> list[str]:
        return entered_states(history(self.sfn, execution_arn))

    def waiting_in(self, execution_arn: str, state: str, times: int = 1) -> bool:
        """In `state` now, for at least the `times`-th time. Entered more often than exited,
        not "the last state entered": the remediation branch runs beside the recovery wait."""
        events = history(self.sfn, execution_arn)
        entered = entered_states(events)
        exited = [
            e["stateExitedEventDetails"]["name"] for e in events if "stateExitedEventDetails" in e
        ]
        return entered.count(state) >= times and entered.count(state) > exited.count(state)

    def message(self, queue: str, incident_id: str, timeout: float = 90) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            got = self.sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)
            for m in got.get("Messages", []):
                self._seen[queue].append(json.loads(m["Body"]))
                self.sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
            for i, body in enumerate(self._seen[queue]):
                if incident_id in body.get("Message", ""):
                    return self._seen[queue].pop(i)
            return None

        return wait_for(f"a message about {incident_id}", probe, timeout)

    def finish(self, execution_arn: str) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            described = self.sfn.describe_execution(executionArn=execution_arn)
            return None if described["status"] == "RUNNING" else described

        return wait_for("the end of the execution", probe, 120)

    def cli(self, *argv: str) -> tuple[int, str]:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = runbook_cli([*argv, "--endpoint-url", self.emulator.endpoint_url])
        return code, (out.getvalue() + err.getvalue()).strip()

    def click(self, action_id: str, incident_id: str, *, secret: str = SIGNING_SECRET) -> Any:
        """Invoke slack_actions with the HTTP API event Slack's button POST produces."""
        payload = {
            "type": "block_actions",
            "user": {"id": "U0E2EUSER", "username": "dana"},
            "channel": {"id": "C0E2E"},
            "actions": [{"action_id": action_id, "value": incident_id}],
        }
        body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
        ts = str(int(time.time()))
        event = {
            "version": "2.0",
            "routeKey": "POST /slack/actions",
            "rawPath": "/slack/actions",
            "headers": {
                "content-type": "application/x-www-form-urlencoded",
                "x-slack-request-timestamp": ts,
                "x-slack-signature": sign(secret, ts, body),
            },
            "requestContext": {"http": {"method": "POST", "path": "/slack/actions"}},
            "body": base64.b64encode(body).decode(),
            "isBase64Encoded": True,
        }
        function = self._function("SlackActions")
        answer = self.emulator.client("lambda").invoke(
            FunctionName=function, Payload=json.dumps(event).encode()
        )
        return json.loads(answer["Payload"].read())

    def _function(self, marker: str) -> str:
        names = [
            f["FunctionName"]
            for f in self.emulator.client("lambda").list_functions()["Functions"]
            if marker in f["FunctionName"]
        ]
        return names[0]

    def slack_lines(self, channel_id: str) -> list[str]:
        return [
            str(c["body"].get("text", ""))
            for c in self.slack.calls("chat.postMessage")
            if c["body"].get("channel") == channel_id
        ]


def escalation(s: Scenario) -> dict[str, Any]:
    alarm = "checkout-critical-errors"
    s.alarm(alarm, "ALARM")
    incident_id = s.incident_for(alarm)["incident_id"]["S"]
    execution_arn = s.execution_arn(incident_id)
    page = s.message(s.pager, incident_id)
    wait_for("the channel", lambda: s.record(incident_id).get("channel"))
    escalation_page = s.message(s.escalations, incident_id, timeout=60)
    first_ack = s.cli("ack", incident_id, "--by", "e2e-oncall", "--note", "on it")
    second_ack = s.cli("ack", incident_id, "--by", "someone-else")
    wait_for("the second wait", lambda: s.waiting_in(execution_arn, "MonitorRecovery", 2))
    s.alarm(alarm, "OK")
    described = s.finish(execution_arn)
    record = s.record(incident_id)
    channel = record["channel"]["M"]
    created = s.slack.calls("conversations.create")
    summary = next(c["body"] for c in s.slack.calls("chat.postMessage") if c["body"].get("blocks"))
    blocks = (
        summary["blocks"] if isinstance(summary["blocks"], list) else json.loads(summary["blocks"])
    )
    return {
        "status": described["status"],
        "output": json.loads(described.get("output") or "{}"),
        "states": s.entered(execution_arn),
        "page_subject": page["Subject"],
        "escalation_subject": escalation_page["Subject"],
        "escalation_message": escalation_page["Message"],
        "first_ack": first_ack,
        "second_ack": second_ack,
        "incident_status": record["status"]["S"],
        "acknowledged_by": record.get("acknowledged_by", {}).get("S"),
        "escalation_count": int(record.get("escalation_count", {}).get("N", "0")),
        "timeline": [e["M"]["event"]["S"] for e in record["timeline"]["L"]],
        "channel_name": channel["name"]["S"],
        "created_names": [c["body"].get("name") for c in created],
        "invited": [c["body"].get("users") for c in s.slack.calls("conversations.invite")],
        "action_ids": [
            e.get("action_id") for b in blocks if b.get("type") == "actions" for e in b["elements"]
        ],
        "channel_lines": s.slack_lines(channel["id"]["S"]),
    }


def flap(s: Scenario) -> dict[str, Any]:
    alarm = "payments-critical-latency"
    s.alarm(alarm, "ALARM")
    incident_id = s.incident_for(alarm)["incident_id"]["S"]
    execution_arn = s.execution_arn(incident_id)
    wait_for("the wait", lambda: s.waiting_in(execution_arn, "MonitorRecovery"))
    s.alarm(alarm, "OK")
    wait_for("the stabilisation wait", lambda: s.waiting_in(execution_arn, "StabilisationWait"))
    s.alarm(alarm, "ALARM")  # fires again while the runbook confirms the recovery
    wait_for("the wait after the flap", lambda: s.waiting_in(execution_arn, "MonitorRecovery", 2))
    s.alarm(alarm, "OK")
    described = s.finish(execution_arn)
    record = s.record(incident_id)
    executions = s.sfn.list_executions(stateMachineArn=s.outputs["StateMachineArn"])["executions"]
    return {
        "status": described["status"],
        "output": json.loads(described.get("output") or "{}"),
        "states": s.entered(execution_arn),
        "incident_status": record["status"]["S"],
        "timeline": [e["M"]["event"]["S"] for e in record["timeline"]["L"]],
        "flap_count": int(record.get("flap_count", {}).get("N", "0")),
        "runs": sorted(e["name"] for e in executions if e["name"].startswith(incident_id)),
    }


def buttons(s: Scenario) -> dict[str, Any]:
    alarm = "search-critical-errors"
    s.alarm(alarm, "ALARM")
    incident_id = s.incident_for(alarm)["incident_id"]["S"]
    execution_arn = s.execution_arn(incident_id)
    wait_for("the wait", lambda: s.waiting_in(execution_arn, "MonitorRecovery"))
    forged = s.click("incident_ack", incident_id, secret="not-the-secret")
    ack = s.click("incident_ack", incident_id)
    resolve = s.click("incident_resolve", incident_id)
    again = s.click("incident_resolve", incident_id)
    described = s.finish(execution_arn)
    record = s.record(incident_id)
    return {
        "forged_status": forged.get("statusCode"),
        "ack_status": ack.get("statusCode"),
        "resolve_status": resolve.get("statusCode"),
        "again_status": again.get("statusCode"),
        "again_body": again.get("body"),
        "status": described["status"],
        "output": json.loads(described.get("output") or "{}"),
        "incident_status": record["status"]["S"],
        "acknowledged_by": record.get("acknowledged_by", {}).get("S"),
        "resolved_by": record.get("resolved_by", {}).get("S"),
        "channel_lines": s.slack_lines(record["channel"]["M"]["id"]["S"]),
    }


def main() -> int:
    workdir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp())
    slack = FakeSlackApi().serve()
    os.environ["SLACK_API_URL"] = slack.url  # inherited by the emulator's functions
    emulator = LocalEmulator(free_port(), workdir, SETTINGS, schedule_tick_seconds=1.0)
    emulator.start()
    try:
        emulator.deploy()
        emulator.client("secretsmanager").create_secret(
            Name=SECRET_NAME,
            SecretString=json.dumps({"bot_token": BOT_TOKEN, "signing_secret": SIGNING_SECRET}),
        )
        scenario = Scenario(emulator, slack)
        outcome = {
            "escalation": escalation(scenario),
            "flap": flap(scenario),
            "buttons": buttons(scenario),
            "logs": _logs(workdir),
            "task_tokens": _task_tokens(scenario),
        }
        print(json.dumps(outcome))
        return 0
    finally:
        emulator.stop()
        slack.close()


def _task_tokens(s: Scenario) -> list[str]:
    """Every task token the workflows handed out (from their histories' scheduled tasks)."""
    tokens = []
    for execution in s.sfn.list_executions(stateMachineArn=s.outputs["StateMachineArn"])[
        "executions"
    ]:
        for event in history(s.sfn, execution["executionArn"]):
            details = event.get("taskScheduledEventDetails") or {}
            parameters = json.loads(details.get("parameters") or "{}")
            token = (parameters.get("Payload") or {}).get("task_token")
            if token:
                tokens.append(str(token))
    return tokens


def _logs(workdir: Path) -> str:
    """Every function log line the emulator kept (the test searches them for secrets)."""
    return "\n".join(
        path.read_text(encoding="utf-8", errors="replace")
        for path in sorted((workdir / "logs").rglob("*.log"))
    )


if __name__ == "__main__":
    sys.exit(main())
