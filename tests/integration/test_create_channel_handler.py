"""create_channel: skipped without Slack; with Slack, a real slack-sdk WebClient talks to a
tiny fake Slack on 127.0.0.1 that records every request."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import boto3
import pytest

from handlers import create_channel

TOKEN = "xoxb-1234-test-token-do-not-log"
INCIDENT = {
    "incident_id": "inc-20240501-140307-0badcafe",
    "title": "orders-api-errors is in ALARM",
    "description": "Threshold Crossed: <b>12</b> errors & more",
    "severity": "critical",
    "severity_rule": "tag: Severity=critical",
    "source": "aws.cloudwatch",
    "alarm_name": "orders-api-errors",
    "resources": [{"type": "AWS::Lambda::Function", "id": "orders-api"}],
    "region": "us-east-1",
    "opened_at": "2024-05-01T14:03:07Z",
    "execution_arn": "arn:aws:states:us-east-1:123456789012:execution:IR:inc-1",
}


class FakeSlack:
    """Answers Web API calls from a script of responses per method, recording the requests."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.script: dict[str, list[dict[str, Any]]] = {}
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                if "json" in self.headers.get("Content-Type", ""):
                    body = json.loads(raw or "{}")
                else:
                    body = {k: v[0] for k, v in parse_qs(raw).items()}
                method = self.path.rsplit("/", 1)[-1]
                fake.requests.append(
                    {"method": method, "auth": self.headers.get("Authorization"), "body": body}
                )
                queue = fake.script.get(method) or [{"ok": True}]
                answer = queue.pop(0) if len(queue) > 1 else queue[0]
                payload = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def calls(self, method: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["method"] == method]


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    fake = FakeSlack()
    thread = threading.Thread(target=fake.server.serve_forever, daemon=True)
    thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


@pytest.fixture
def slack_configured(incident_table, fake_slack, monkeypatch) -> FakeSlack:
    boto3.client("secretsmanager", region_name="us-east-1").create_secret(
        Name="incident-runbook/slack", SecretString=json.dumps({"bot_token": TOKEN})
    )
    monkeypatch.setenv("SLACK_SECRET_NAME", "incident-runbook/slack")
    monkeypatch.setenv("SLACK_API_URL", fake_slack.url)
    incident_table.put_item(
        Item={**INCIDENT, "status": "OPEN", "timeline": []},
    )
    return fake_slack


def test_skipped_when_slack_is_not_configured(lambda_context) -> None:
    result = create_channel.lambda_handler({"incident": INCIDENT}, lambda_context)
    assert result == {"status": "skipped", "reason": "Slack not configured"}


def test_creates_channel_retrying_taken_names_and_posts_summary(
    slack_configured, incident_table, lambda_context, log_stream
) -> None:
    fake = slack_configured
    fake.script["conversations.create"] = [
        {"ok": False, "error": "name_taken"},
        {"ok": True, "channel": {"id": "C0123", "name": "inc-20240501-orders-api-errors-2"}},
    ]
    fake.script["chat.postMessage"] = [{"ok": True, "channel": "C0123", "ts": "1714572187.000100"}]

    result = create_channel.lambda_handler({"incident": INCIDENT}, lambda_context)

    assert result == {
        "status": "created",
        "channel_id": "C0123",
        "channel_name": "inc-20240501-orders-api-errors-2",
    }
    names = [c["body"]["name"] for c in fake.calls("conversations.create")]
    assert names == ["inc-20240501-orders-api-errors", "inc-20240501-orders-api-errors-2"]
    (post,) = fake.calls("chat.postMessage")
    assert post["body"]["channel"] == "C0123"
    assert "*[CRITICAL] orders-api-errors is in ALARM*" in post["body"]["text"]
    assert "&lt;b&gt;12&lt;/b&gt; errors &amp; more" in post["body"]["text"]
    assert {r["auth"] for r in fake.requests} == {f"Bearer {TOKEN}"}
    item = incident_table.get_item(Key={"incident_id": INCIDENT["incident_id"]})["Item"]
    assert item["channel"] == {"status": "created", "id": "C0123", "name": result["channel_name"]}
    assert TOKEN not in log_stream.getvalue()
    assert "channel created" in log_stream.getvalue()


def test_retry_after_success_reuses_the_channel(slack_configured, lambda_context) -> None:
    fake = slack_configured
    fake.script["conversations.create"] = [
        {"ok": True, "channel": {"id": "C0123", "name": "inc-20240501-orders-api-errors"}}
    ]
    first = create_channel.lambda_handler({"incident": INCIDENT}, lambda_context)
    second = create_channel.lambda_handler({"incident": INCIDENT}, lambda_context)
    assert second == first
    assert len(fake.calls("conversations.create")) == 1


def test_raw_token_secret_and_permanent_slack_errors(
    slack_configured, lambda_context, monkeypatch
) -> None:
    boto3.client("secretsmanager", region_name="us-east-1").create_secret(
        Name="raw-token", SecretString=f"  {TOKEN}\n"
    )
    monkeypatch.setenv("SLACK_SECRET_NAME", "raw-token")
    slack_configured.script["conversations.create"] = [{"ok": False, "error": "missing_scope"}]

    with pytest.raises(Exception, match="Slack: missing_scope") as caught:
        create_channel.lambda_handler({"incident": INCIDENT}, lambda_context)

    assert type(caught.value).__name__ == "SlackChannelError"  # not retried by the ASL
    assert slack_configured.requests[0]["auth"] == f"Bearer {TOKEN}"


def test_slack_rate_limit_is_transient(slack_configured, lambda_context) -> None:
    slack_configured.script["conversations.create"] = [{"ok": False, "error": "ratelimited"}]
    with pytest.raises(Exception) as caught:
        create_channel.lambda_handler({"incident": INCIDENT}, lambda_context)
    assert type(caught.value).__name__ == "TransientDependencyError"
