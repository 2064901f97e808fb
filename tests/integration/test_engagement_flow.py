"""People through the workflow's steps, against moto: EngageResponders engages stage 1's
on-call person on their own topic (a filter policy per channel), opens the OpsItem; the wake-up
after the stage's duration (Escalate, reason timeout) engages stage 2; an acknowledgement
stops the plan; the postmortem says who was engaged and who acknowledged."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import msgspec
import pytest
from botocore.stub import Stubber

from handlers import engage, escalate
from incidents.model import Incident
from incidents.repository import IncidentRepository
from oncall import source
from oncall.declaration import decode_config, encode_config
from postmortem.engagement_section import engagement_lines

REGION = "us-east-1"
ACCOUNT = "123456789012"
INCIDENT_ID = "inc-20261203-090000-0a1b2c3d"
OVERRIDES_TABLE = "oncall-overrides"
STACK = "IncidentRunbook"
T0 = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)  # a Thursday: alice's week in `primary`

CONFIG = {
    "timezone": "Europe/London",
    "contacts": {
        "alice": {
            "id": "alice",
            "name": "Alice Moreau",
            "channels": [
                {"name": "phone", "type": "sms", "address": "+447700900001"},
                {"name": "email", "type": "email", "address": "alice@example.com"},
            ],
            "engagement": [
                {"channel": "phone", "after_seconds": 0},
                {"channel": "email", "after_seconds": 120},
            ],
        },
        "bob": {
            "id": "bob",
            "name": "Bob Okafor",
            "channels": [{"name": "phone", "type": "sms", "address": "+447700900002"}],
        },
        "carol": {
            "id": "carol",
            "name": "Carol Diaz",
            "channels": [{"name": "phone", "type": "sms", "address": "+447700900003"}],
        },
    },
    "rotations": {
        "primary": {
            "id": "primary",
            "name": "Payments primary",
            "timezone": "Europe/London",
            "participants": ["alice", "carol"],
            "start": "2026-11-19T09:00",
            "shift": "weekly",
        }
    },
    "escalation_plans": {
        "payments": {
            "id": "payments",
            "stages": [
                {"duration_seconds": 300, "targets": [{"rotation": "primary"}]},
                {"duration_seconds": 600, "targets": [{"contact": "bob"}]},
            ],
        }
    },
    "response_plans": [
        {"id": "payments", "match": {"alarm_name": "^payments-"}, "escalation_plan": "payments"},
        {"id": "default"},
    ],
}

STATE = {
    "incident_id": INCIDENT_ID,
    "title": "payments-api-errors is in ALARM",
    "severity": "critical",
    "source": "aws.cloudwatch",
    "alarm_name": "payments-api-errors",
    "alarm_arn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:payments-api-errors",
    "resources": [{"type": "AWS::Lambda::Function", "id": "payments-api"}],
    "opened_at": "2026-12-03T09:59:30Z",
}
SETTINGS = {"recovery_timeout_seconds": 3600, "heartbeat_seconds": 300}
NOTICE = {"subject": "[CRITICAL] payments-api: payments-api-errors", "message": "Errors up."}


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    moment = Clock(T0)
    monkeypatch.setattr(engage, "utcnow", moment)
    monkeypatch.setattr(escalate, "utcnow", moment)
    return moment


@pytest.fixture
def people(incident_table: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The deployed declaration in S3, the overrides table, each contact's topic with one SQS
    queue per channel (filter policy on `channel`, as the stack subscribes SMS/email)."""
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="assets")
    config = msgspec.convert(CONFIG, type(decode_config(b"{}")))
    s3.put_object(Bucket="assets", Key="response.json", Body=encode_config(config))
    boto3.client("dynamodb", region_name=REGION).create_table(
        TableName=OVERRIDES_TABLE,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[
            {"AttributeName": "rotation", "KeyType": "HASH"},
            {"AttributeName": "override_id", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "rotation", "AttributeType": "S"},
            {"AttributeName": "override_id", "AttributeType": "S"},
        ],
    )
    sns = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    queues = {}
    for contact, spec in CONFIG["contacts"].items():
        topic = sns.create_topic(Name=f"{STACK}-contact-{contact}")["TopicArn"]
        for channel in spec["channels"]:
            url = sqs.create_queue(QueueName=f"{contact}-{channel['name']}")["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            sns.subscribe(
                TopicArn=topic,
                Protocol="sqs",
                Endpoint=arn,
                Attributes={
                    "FilterPolicy": json.dumps({"channel": [channel["name"]]}),
                    "RawMessageDelivery": "true",
                },
            )
            queues[f"{contact}/{channel['name']}"] = url
    monkeypatch.setenv("RESPONSE_CONFIG_URI", "s3://assets/response.json")
    monkeypatch.setenv("ONCALL_TABLE_NAME", OVERRIDES_TABLE)
    monkeypatch.setenv("CONTACT_TOPIC_PREFIX", f"arn:aws:sns:{REGION}:{ACCOUNT}:{STACK}-contact-")
    monkeypatch.setenv("ESCALATION_TOPIC_ARN", sns.create_topic(Name="escalation")["TopicArn"])
    source.reset()
    incident_table.put_item(
        Item={**STATE, "status": "MONITORING", "response_plan": "payments", "timeline": []}
    )
    return queues


@pytest.fixture
def opscenter(monkeypatch: pytest.MonkeyPatch) -> Stubber:
    """moto has no OpsItems: CreateOpsItem answered as the API reference documents it."""
    from shared import aws

    ssm = boto3.client("ssm", region_name=REGION)
    stubber = Stubber(ssm)
    real = aws.client
    monkeypatch.setattr(
        aws, "client", lambda service, **kw: ssm if service == "ssm" else real(service, **kw)
    )
    return stubber


def received(queues: dict[str, str]) -> dict[str, list[str]]:
    sqs = boto3.client("sqs", region_name=REGION)
    out: dict[str, list[str]] = {}
    for key, url in queues.items():
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        out[key] = [m["Body"] for m in messages]
    return out


def wake(lambda_context: Any, reason: str = "timeout") -> dict[str, Any]:
    return escalate.lambda_handler(
        {
            "incident": STATE,
            "request": {"reason": reason},
            "settings": SETTINGS,
            "notification": NOTICE,
        },
        lambda_context,
    )


def stored(table: Any) -> Incident:
    return IncidentRepository(table).get(INCIDENT_ID)


def test_stage_one_then_two_then_ack_stops_the_plan(
    people: dict[str, str], opscenter: Stubber, clock: Clock, incident_table: Any, lambda_context
) -> None:
    opscenter.add_response("create_ops_item", {"OpsItemId": "oi-0123456789ab"})
    with opscenter:
        result = engage.lambda_handler(
            {"incident": STATE, "notification": NOTICE, "settings": SETTINGS}, lambda_context
        )
    opscenter.assert_no_pending_responses()
    # Alice is on call (her week); her phone now, her email at +2 min: the wait is 2 min.
    assert result["status"] == "engaged"
    assert result["engagement"]["active"] is True
    assert result["engagement"]["wait_seconds"] == 120
    assert result["engagement"]["heartbeat_seconds"] < 120
    got = received(people)
    assert len(got["alice/phone"]) == 1 and "--by alice" in got["alice/phone"][0]
    assert got["alice/email"] == [] and got["bob/phone"] == [] and got["carol/phone"] == []
    assert stored(incident_table).ops_item_id == "oi-0123456789ab"

    clock.now = T0 + timedelta(seconds=120)
    answer = wake(lambda_context)
    assert answer["close"] is False and answer["paged"] is False
    assert answer["engagement"]["wait_seconds"] == 180  # to the end of stage 1
    assert len(received(people)["alice/email"]) == 1

    clock.now = T0 + timedelta(seconds=300)
    answer = wake(lambda_context)
    got = received(people)
    assert len(got["bob/phone"]) == 1 and got["carol/phone"] == []
    assert answer["engagement"]["stage"] == 1

    IncidentRepository(incident_table).acknowledge(INCIDENT_ID, "Bob Okafor (bob)", "")
    clock.now = T0 + timedelta(seconds=400)
    answer = wake(lambda_context)
    assert answer["engagement"]["active"] is False
    assert answer["engagement"]["wait_seconds"] == SETTINGS["recovery_timeout_seconds"]
    incident = stored(incident_table)
    assert incident.engagement is not None
    assert incident.engagement["status"] == "acknowledged"
    assert incident.engagement["ack_stage"] == 1
    assert all(v == [] for v in received(people).values())

    section = "\n".join(engagement_lines(incident, "Europe/London", REGION))
    assert "Alice Moreau" in section and "Bob Okafor" in section
    assert "Acknowledged by Bob Okafor (bob)" in section
    assert "oi-0123456789ab" in section


def test_an_override_engages_the_covering_person(
    people: dict[str, str], opscenter: Stubber, clock: Clock, lambda_context
) -> None:
    from oncall.overrides import OverrideStore

    table = boto3.resource("dynamodb", region_name=REGION).Table(OVERRIDES_TABLE)
    OverrideStore(table).add(
        "primary", "carol", T0 - timedelta(hours=1), T0 + timedelta(hours=4), by="ops", now=T0
    )
    opscenter.add_client_error("create_ops_item", "AccessDeniedException", "not allowed")
    with opscenter:
        result = engage.lambda_handler(
            {"incident": STATE, "notification": NOTICE, "settings": SETTINGS}, lambda_context
        )
    got = received(people)
    assert len(got["carol/phone"]) == 1 and got["alice/phone"] == []
    assert list(result["engagement"]["engaged"]) == ["Carol Diaz"]


def test_opscenter_failure_is_a_finding_not_a_failure(
    people: dict[str, str], opscenter: Stubber, clock: Clock, incident_table: Any, lambda_context
) -> None:
    opscenter.add_client_error("create_ops_item", "AccessDeniedException", "not allowed")
    with opscenter:
        result = engage.lambda_handler(
            {"incident": STATE, "notification": NOTICE, "settings": SETTINGS}, lambda_context
        )
    assert result["status"] == "engaged"
    incident = stored(incident_table)
    assert incident.ops_item_id is None
    assert incident.ops_item_problem and "AccessDeniedException" in incident.ops_item_problem
    assert any(e.event == "finding" for e in incident.timeline)


def test_exhausted_plan_pages_the_escalation_topic(
    people: dict[str, str], opscenter: Stubber, clock: Clock, incident_table: Any, lambda_context
) -> None:
    opscenter.add_response("create_ops_item", {"OpsItemId": "oi-0123456789ab"})
    with opscenter:
        engage.lambda_handler(
            {"incident": STATE, "notification": NOTICE, "settings": SETTINGS}, lambda_context
        )
    clock.now = T0 + timedelta(seconds=900)  # past both stages, nobody acknowledged
    answer = wake(lambda_context)
    assert answer["paged"] is True  # the escalation topic, as before people were declared
    assert answer["engagement"]["active"] is False
    assert stored(incident_table).engagement["status"] == "exhausted"


def test_a_slack_channel_is_paged_as_a_direct_message(
    moto: None, fake_slack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pager the steps build (oncall.wiring) sends a contact's `slack` channel as a DM
    from the app; without a Slack secret it is a failed page, never an exception."""
    from oncall import wiring
    from oncall.engagement import PlannedPage
    from shared.config import reset_settings

    config = msgspec.convert(
        {
            "contacts": {
                "erin": {
                    "id": "erin",
                    "name": "Erin Fischer",
                    "channels": [{"name": "slack", "type": "slack", "address": "W0ERIN0005"}],
                }
            }
        },
        type(decode_config(b"{}")),
    )
    page = PlannedPage(
        stage=0,
        contact="erin",
        contact_name="Erin Fischer",
        channel="slack",
        channel_type="slack",
        via="contact",
        due_at="2026-12-03T10:00:00Z",
    )
    assert wiring.pager().send(config, page, subject="[CRITICAL] x", message="body") == (
        "failed",
        "Slack not configured",
    )
    boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name="slack", SecretString=json.dumps({"bot_token": "xoxb-1", "signing_secret": "s"})
    )
    monkeypatch.setenv("SLACK_SECRET_NAME", "slack")
    monkeypatch.setenv("SLACK_API_URL", fake_slack.url.rstrip("/"))
    reset_settings()
    status, _ = wiring.pager().send(config, page, subject="[CRITICAL] x", message="body <b>")
    assert status == "sent"
    (dm,) = fake_slack.direct_messages("W0ERIN0005")
    assert "[CRITICAL] x" in dm["text"] and "&lt;b&gt;" in dm["text"]
