"""Deliveries to people made observable (runbook/local/deliveries.py): a per-contact topic with
sms, email, email-json and https subscriptions filtered on the message attribute ``channel``
(the paging design of docs/oncall.md); moto applies the filter policy, the emulator records
what passed it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from runbook.local.deliveries import Deliveries, install_deliveries, remove_deliveries
from runbook.local.server import MotoServer, free_port

PHONE, EMAIL = "+15555550100", "dana@example.com"


@pytest.fixture(scope="module")
def sns_server() -> Iterator[MotoServer]:
    server = MotoServer(free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def recorder(tmp_path: Path) -> Iterator[Deliveries]:
    deliveries = Deliveries(tmp_path / "deliveries.log")
    install_deliveries(deliveries)
    try:
        yield deliveries
    finally:
        remove_deliveries()


@dataclass
class Webhook:
    """An https-protocol endpoint (plain http locally) that keeps what was POSTed."""

    url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            hook.received.append(json.loads(self.rfile.read(length)))
            hook.arrived.set()
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hook.url = f"http://127.0.0.1:{server.server_address[1]}/page"
    yield hook
    server.shutdown()
    server.server_close()


def sns(server: MotoServer) -> Any:
    return boto3.client(
        "sns",
        endpoint_url=server.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}),
    )


def channel(name: str) -> dict[str, str]:
    return {
        "FilterPolicy": json.dumps({"channel": [name]}),
        "FilterPolicyScope": "MessageAttributes",
    }


def test_each_publish_reaches_exactly_the_channel_its_attribute_names(
    sns_server: MotoServer,
    recorder: Deliveries,
    webhook: Webhook,
) -> None:
    client = sns(sns_server)
    topic = client.create_topic(Name="runbook-contact-dana")["TopicArn"]
    url = webhook.url
    client.subscribe(TopicArn=topic, Protocol="sms", Endpoint=PHONE, Attributes=channel("sms"))
    client.subscribe(TopicArn=topic, Protocol="email", Endpoint=EMAIL, Attributes=channel("email"))
    client.subscribe(
        TopicArn=topic,
        Protocol="email-json",
        Endpoint="ops@example.com",
        Attributes=channel("email"),
    )
    client.subscribe(TopicArn=topic, Protocol="https", Endpoint=url, Attributes=channel("pager"))

    def page(via: str, text: str) -> None:
        client.publish(
            TopicArn=topic,
            Subject=f"[CRITICAL] inc-1 via {via}",
            Message=text,
            MessageAttributes={
                "channel": {"DataType": "String", "StringValue": via},
                "incident_id": {"DataType": "String", "StringValue": "inc-1"},
            },
        )

    page("sms", "orders-api is down")
    assert [(d["protocol"], d["endpoint"]) for d in recorder()] == [("sms", PHONE)]
    (sms,) = recorder(protocol="sms")
    assert sms["topic"] == topic and sms["message"] == "orders-api is down"
    assert sms["subject"] == "[CRITICAL] inc-1 via sms"
    assert sms["attributes"]["channel"] == {"Type": "String", "Value": "sms"}
    assert sms["time"] and sms["message_id"] and sms["subscription"].startswith(topic)

    page("email", "orders-api is down (email)")
    assert sorted(d["protocol"] for d in recorder(topic=topic)) == ["email", "email-json", "sms"]
    assert recorder(endpoint=EMAIL)[0]["message"] == "orders-api is down (email)"

    page("pager", "hook")
    page("nobody", "filtered out everywhere")
    assert len(recorder()) == 4
    assert recorder(protocol="https")[0]["endpoint"] == url
    assert webhook.arrived.wait(5)
    assert webhook.received[0]["Message"] == "hook"
    assert webhook.received[0]["TopicArn"] == topic

    assert [line["protocol"] for line in recorder.log.read()] == [d["protocol"] for d in recorder()]


def test_direct_sms_and_per_protocol_messages_are_recorded(
    sns_server: MotoServer, recorder: Deliveries
) -> None:
    client = sns(sns_server)
    client.publish(PhoneNumber="+15555550111", Message="direct page")
    (direct,) = recorder(endpoint="+15555550111")
    assert (direct["topic"], direct["protocol"], direct["message"]) == (None, "sms", "direct page")

    topic = client.create_topic(Name="runbook-contact-lee")["TopicArn"]
    client.subscribe(TopicArn=topic, Protocol="sms", Endpoint="+15555550122")
    client.subscribe(TopicArn=topic, Protocol="email", Endpoint="lee@example.com")
    client.publish(
        TopicArn=topic,
        MessageStructure="json",
        Message=json.dumps({"default": "long text", "sms": "short"}),
    )
    by_protocol = {d["protocol"]: d["message"] for d in recorder(topic=topic)}
    assert by_protocol == {"sms": "short", "email": "long text"}


def test_an_unreachable_https_endpoint_does_not_fail_the_publish(
    sns_server: MotoServer, recorder: Deliveries
) -> None:
    client = sns(sns_server)
    topic = client.create_topic(Name="runbook-dead-hook")["TopicArn"]
    client.subscribe(TopicArn=topic, Protocol="https", Endpoint=f"http://127.0.0.1:{free_port()}/x")
    client.publish(TopicArn=topic, Message="anyone?")  # moto alone would fail here
    assert [d["message"] for d in recorder(topic=topic)] == ["anyone?"]
