"""The Slack buttons end to end on moto: a signed request acknowledges or resolves a real
waiting execution; unsigned, badly signed, replayed, malformed or unknown ones change nothing
and get the HTTP status Slack (and the person who pressed) should see."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any
from unittest import mock
from urllib.parse import urlencode

import boto3
import pytest
from botocore.stub import Stubber

from callbacks.signature import sign
from chat.secret import clear_cache
from handlers import monitor_recovery, slack_actions
from shared import aws

from .token_workflow import INCIDENT_ID, REGION, Workflow, executing_moto

SECRET_NAME = "incident-runbook/slack"
SIGNING_SECRET = "8f2b0c1e-test-signing-secret"
BOT_TOKEN = "xoxb-test"
VERIFICATION_TOKEN = "Shh_its_a_seekrit"
RESPONSE_URL = "https://hooks.slack.com/actions/T0001/123456789/AbCdEfGhIjKlMnOp"


@pytest.fixture
def moto(aws_env: None) -> Iterator[None]:
    """Overrides the shared fixture: executions must really run to wait on a token."""
    yield from executing_moto()


@pytest.fixture
def slack_secret(moto: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name=SECRET_NAME,
        SecretString=json.dumps({"bot_token": BOT_TOKEN, "signing_secret": SIGNING_SECRET}),
    )
    monkeypatch.setenv("SLACK_SECRET_NAME", SECRET_NAME)
    yield SECRET_NAME


@pytest.fixture
def incident(incident_table, slack_secret) -> Any:
    incident_table.put_item(
        Item={
            "incident_id": INCIDENT_ID,
            "title": "orders-api-errors is in ALARM",
            "status": "OPEN",
            "severity": "critical",
            "source": "aws.cloudwatch",
            "alarm_name": "orders-api-errors",
            "opened_at": "2019-10-02T17:04:40Z",
            "timeline": [],
        }
    )
    return incident_table


@pytest.fixture
def waiting(sfn_role_arn: str, incident, lambda_context) -> tuple[Workflow, str, str]:
    """A running execution whose MonitorRecovery token is stored on the incident."""
    workflow = Workflow(sfn_role_arn)
    execution, token = workflow.start()
    payload = {"task_token": token, "incident_id": INCIDENT_ID, "execution_arn": execution}
    assert monitor_recovery.lambda_handler(payload, lambda_context) == {"status": "waiting"}
    return workflow, execution, token


def interaction_body(action_id: str, value: str = INCIDENT_ID) -> bytes:
    payload = {
        "type": "block_actions",
        "user": {"id": "U0CA5", "username": "amy.mcgee", "name": "Amy McGee", "team_id": "T3M"},
        "api_app_id": "A0CA5",
        "token": VERIFICATION_TOKEN,
        "container": {"type": "message", "message_ts": "1548261231.000200", "channel_id": "C0"},
        "trigger_id": "12321423423.333649436676.d8c1bb837935619ccad0f624c448ffb3",
        "channel": {"id": "C0CA5", "name": "inc-20191002-orders-api-errors"},
        "response_url": RESPONSE_URL,
        "actions": [
            {
                "action_id": action_id,
                "block_id": "incident-actions",
                "value": value,
                "type": "button",
                "action_ts": "1548426417.840180",
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


# A signed resolve whose body was changed after signing (someone else's name put in).
TAMPERED = interaction_body("incident_resolve").replace(b"amy.mcgee", b"mallory")


def _empty_key(ts: str, body: bytes) -> str:
    """What anyone can compute when the key is empty (slack-sdk refuses to sign with one)."""
    base = f"v0:{ts}:".encode() + body
    return "v0=" + hmac.new(b"", base, hashlib.sha256).hexdigest()


def http_event(
    body: bytes,
    *,
    age: int = 0,
    secret: str = SIGNING_SECRET,
    signed: bool = True,
    base64_encoded: bool = False,
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload v2) event as Slack's POST produces it."""
    ts = str(int(time.time()) - age)
    headers = {
        "content-type": "application/x-www-form-urlencoded",
        "user-agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
    }
    if signed:
        headers["x-slack-request-timestamp"] = ts
        headers["x-slack-signature"] = sign(secret, ts, body) if secret else _empty_key(ts, body)
    return {
        "version": "2.0",
        "routeKey": "POST /slack/actions",
        "rawPath": "/slack/actions",
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "http": {"method": "POST", "path": "/slack/actions", "sourceIp": "203.0.113.9"},
            "routeKey": "POST /slack/actions",
            "stage": "$default",
        },
        "body": base64.b64encode(body).decode() if base64_encoded else body.decode(),
        "isBase64Encoded": base64_encoded,
    }


def call(event: dict[str, Any], context) -> tuple[int, dict[str, Any]]:
    response = slack_actions.lambda_handler(event, context)
    assert response["headers"] == {"Content-Type": "application/json"}
    body = json.loads(response["body"])
    assert body["response_type"] == "ephemeral"
    assert body["replace_original"] is False
    return response["statusCode"], body


def item(table) -> dict[str, Any]:
    return table.get_item(Key={"incident_id": INCIDENT_ID}, ConsistentRead=True)["Item"]


def test_signed_acknowledge_is_recorded_and_the_workflow_keeps_waiting(
    waiting, incident, lambda_context
) -> None:
    workflow, execution, token = waiting
    status, body = call(http_event(interaction_body("incident_ack")), lambda_context)

    assert status == 200
    assert body["text"].startswith(f"Acknowledged {INCIDENT_ID}")
    stored = item(incident)
    assert stored["acknowledged_by"] == "slack:amy.mcgee"
    assert stored["task_token"] == token  # acknowledgement does not resume the workflow
    assert workflow.sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"

    again_status, again = call(http_event(interaction_body("incident_ack")), lambda_context)
    assert again_status == 200
    assert "already acknowledged by slack:amy.mcgee" in again["text"]


def test_signed_resolve_resumes_the_workflow_once(waiting, incident, lambda_context) -> None:
    workflow, execution, _token = waiting
    status, body = call(http_event(interaction_body("incident_resolve")), lambda_context)

    assert status == 200
    assert body["text"].startswith(f"Resolved {INCIDENT_ID} as slack:amy.mcgee")
    finished = workflow.finish(execution)
    assert finished["status"] == "SUCCEEDED"
    recovery = json.loads(finished["output"])["recovery"]
    assert (recovery["status"], recovery["by"]) == ("resolved", "slack:amy.mcgee")
    assert "task_token" not in item(incident)

    # The second press (or a second person) is told, not shown an error; nothing resumes twice.
    status, body = call(http_event(interaction_body("incident_resolve")), lambda_context)
    assert status == 200
    assert "already resolved" in body["text"]
    assert "by slack:amy.mcgee" in body["text"]


def test_resolve_before_monitoring_is_recorded(incident, lambda_context) -> None:
    status, body = call(http_event(interaction_body("incident_resolve")), lambda_context)
    assert status == 200
    assert body["text"].startswith(f"Resolution of {INCIDENT_ID} recorded")
    assert item(incident)["recovery_signal"]["by"] == "slack:amy.mcgee"


def test_base64_encoded_body_as_api_gateway_sends_forms(waiting, incident, lambda_context):
    event = http_event(interaction_body("incident_ack"), base64_encoded=True)
    status, _ = call(event, lambda_context)
    assert status == 200
    assert item(incident)["acknowledged_by"] == "slack:amy.mcgee"


@pytest.mark.parametrize(
    ("signing", "changes"),
    [
        pytest.param({"age": 301}, {}, id="replayed-301s-old"),
        pytest.param({"age": -301}, {}, id="301s-in-the-future"),
        pytest.param({"secret": "not-the-signing-secret"}, {}, id="bad-signature"),
        pytest.param({"signed": False}, {}, id="unsigned"),
        pytest.param({}, {"body": TAMPERED.decode()}, id="tampered-body"),
        pytest.param({}, {"body": "%%%", "isBase64Encoded": True}, id="bad-base64"),
        pytest.param({}, {"headers": None}, id="no-headers"),
    ],
)
def test_untrusted_requests_get_401_and_change_nothing(
    waiting, incident, lambda_context, signing: dict[str, Any], changes: dict[str, Any]
) -> None:
    workflow, execution, _token = waiting
    before = item(incident)
    event = {**http_event(interaction_body("incident_resolve"), **signing), **changes}

    with mock.patch.object(slack_actions, "parse_interaction") as parse:
        status, body = call(event, lambda_context)

    assert status == 401
    assert "could not be verified" in body["text"]
    parse.assert_not_called()  # the body is never read before it is verified
    assert item(incident) == before
    assert workflow.sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"


def test_a_captured_request_replayed_later_is_refused(waiting, incident, lambda_context):
    workflow, execution, _token = waiting
    captured = http_event(interaction_body("incident_resolve"))
    before = item(incident)
    later = time.time() + 301
    with mock.patch("callbacks.signature.time.time", return_value=later):
        status, _ = call(captured, lambda_context)
    assert status == 401
    assert item(incident) == before
    assert workflow.sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"


def test_unknown_incident_is_404(incident, lambda_context) -> None:
    unknown = "inc-20200101-000000-deadbeef"
    status, body = call(http_event(interaction_body("incident_resolve", unknown)), lambda_context)
    assert status == 404
    assert body["text"] == f"There is no incident {unknown}."
    assert incident.get_item(Key={"incident_id": unknown}).get("Item") is None


def test_verified_but_malformed_body_is_400_and_recorded_without_its_tokens(
    incident, lambda_context
) -> None:
    status, body = call(http_event(interaction_body("incident_ack", "not-an-id")), lambda_context)
    assert status == 400
    assert "not an incident id" in body["text"]
    (record,) = [i for i in incident.scan()["Items"] if i["incident_id"].startswith("error#")]
    assert "not an incident id" in record["reason"]
    stored = json.dumps(record, default=str)
    assert VERIFICATION_TOKEN not in stored
    assert RESPONSE_URL not in stored
    assert json.loads(record["raw_event"])["source"] == "slack_actions"


def test_other_buttons_get_200_and_change_nothing(incident, lambda_context) -> None:
    before = item(incident)
    status, body = call(http_event(interaction_body("open_dashboard")), lambda_context)
    assert status == 200
    assert body["text"] == "Nothing to do: action 'open_dashboard' is not handled."
    assert item(incident) == before


def test_throttled_step_functions_is_503_and_the_token_stays(
    waiting, incident, lambda_context
) -> None:
    _workflow, _execution, token = waiting
    sfn = aws.client("stepfunctions")  # the cached client the handler will use
    with Stubber(sfn) as stub:
        stub.add_client_error("send_task_success", "ThrottlingException", http_status_code=400)
        status, body = call(http_event(interaction_body("incident_resolve")), lambda_context)
    assert status == 503
    assert "press the button again" in body["text"]
    assert item(incident)["task_token"] == token


def test_without_the_slack_secret_the_answer_is_500_not_a_crash(
    incident, lambda_context, monkeypatch, log_stream
) -> None:
    monkeypatch.delenv("SLACK_SECRET_NAME")
    from shared.config import reset_settings

    reset_settings()
    status, _ = call(http_event(interaction_body("incident_ack")), lambda_context)
    assert status == 500
    lines = [json.loads(line) for line in log_stream.getvalue().splitlines()]
    (failure,) = [line for line in lines if line["message"] == "slack action failed"]
    assert failure["level"] == "ERROR"
    assert "Traceback" not in log_stream.getvalue()


def test_secrets_tokens_and_signatures_never_reach_the_logs(
    waiting, incident, lambda_context, log_stream
) -> None:
    _workflow, _execution, token = waiting
    events = [
        http_event(interaction_body("incident_ack")),
        http_event(interaction_body("incident_resolve"), base64_encoded=True),
        http_event(interaction_body("incident_resolve")),  # already resolved
        http_event(interaction_body("incident_resolve"), secret="wrong"),
        http_event(interaction_body("incident_ack", "not-an-id")),
    ]
    signatures = [e["headers"]["x-slack-signature"] for e in events]
    for event in events:
        slack_actions.lambda_handler(event, lambda_context)

    logged = log_stream.getvalue()
    assert "slack action applied" in logged
    assert "unverified request" in logged
    assert "rejected interaction" in logged
    for secret in (SIGNING_SECRET, BOT_TOKEN, VERIFICATION_TOKEN, RESPONSE_URL, token, *signatures):
        assert secret not in logged


def test_a_secret_without_a_signing_secret_refuses_every_click(
    incident, lambda_context, log_stream
) -> None:
    # Verifying with an empty key would accept anyone's signature: answer 500 instead.
    boto3.client("secretsmanager", region_name=REGION).put_secret_value(
        SecretId=SECRET_NAME, SecretString=json.dumps({"bot_token": BOT_TOKEN})
    )
    clear_cache()
    before = item(incident)
    status, _ = call(http_event(interaction_body("incident_ack"), secret=""), lambda_context)
    assert status == 500
    assert item(incident) == before
    lines = [json.loads(line) for line in log_stream.getvalue().splitlines()]
    (failure,) = [line for line in lines if line["message"] == "slack action failed"]
    assert failure["error"] == "ConfigurationError"
    assert "signing_secret" in failure["reason"]


def _propose(table: Any, approvers: list[str]) -> None:
    """A proposal waiting for a person on the incident (what ProposeRemediation records)."""
    from datetime import UTC, datetime

    from remediation.proposal import new_proposal
    from remediation.record import RemediationRecord
    from remediation.store import RemediationStore

    proposal = new_proposal(
        incident_id=INCIDENT_ID,
        rule_id="ec2-system-status",
        description="Move the instance off its failing host",
        document="AWS-RestartEC2Instance",
        document_name="AWS-RestartEC2Instance",
        parameters={"InstanceId": ["i-0abc"]},
        severity="critical",
        approvers=approvers,
        auto_approved=False,
        approval_timeout_seconds=900,
        execution_timeout_seconds=1800,
        now=datetime.now(UTC),
    )
    RemediationStore(table).save(
        INCIDENT_ID, RemediationRecord(stage="proposed", proposal=proposal), "proposed", ""
    )


def test_a_signed_approve_from_an_approver_records_the_slack_user(incident, lambda_context) -> None:
    _propose(incident, approvers=["U0CA5"])
    status, body = call(http_event(interaction_body("remediation_approve")), lambda_context)
    assert status == 200
    assert body["text"].startswith(f"Approved the remediation of {INCIDENT_ID}")
    decision = item(incident)["remediation"]["decision"]
    assert decision["outcome"] == "approved"
    assert decision["via"] == "slack" and decision["by"] == "U0CA5"


def test_a_signed_approve_from_anyone_else_is_refused_and_decides_nothing(
    incident, lambda_context
) -> None:
    _propose(incident, approvers=["U0ALICE001"])
    status, body = call(http_event(interaction_body("remediation_approve")), lambda_context)
    assert status == 200
    assert "You may not decide this remediation" in body["text"]
    assert "decision" not in item(incident)["remediation"]
