"""The `subscriptions` setting: each subscriber lands on its own topic with its protocol, and the
stack still passes cdk-nag with them (synthesised with a context override)."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import synth_template

SUBSCRIPTIONS = {
    "critical": [
        {"protocol": "email", "endpoint": "oncall@example.com"},
        {"protocol": "sms", "endpoint": "+14155550100"},
    ],
    "high": [{"protocol": "email", "endpoint": "oncall-high@example.com"}],
    "standard": [{"protocol": "https", "endpoint": "https://chat.example.com/hooks/team"}],
    "escalation": [
        {"protocol": "sms", "endpoint": "+14155550199"},
        {"protocol": "https", "endpoint": "https://pager.example.com/escalate"},
    ],
}
# The output naming each topic (docs/contracts.md, "Paging, escalation and operator actions").
OUTPUT_OF = {
    "critical": "CriticalTopicArn",
    "high": "HighTopicArn",
    "standard": "NotificationTopicArn",
    "escalation": "EscalationTopicArn",
}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    # app.synth() raises if a subscription brings an unacknowledged cdk-nag finding.
    return synth_template(
        tmp_path_factory.mktemp("cdk.out.subscriptions"), {"subscriptions": SUBSCRIPTIONS}
    )


def _subscriptions(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::SNS::Subscription"
    ]


def _topic_ids(template: dict[str, Any]) -> dict[str, str]:
    return {name: template["Outputs"][output]["Value"]["Ref"] for name, output in OUTPUT_OF.items()}


def test_every_subscriber_is_on_its_topic_with_its_protocol(template: dict[str, Any]) -> None:
    topics = _topic_ids(template)
    assert len(set(topics.values())) == len(topics)
    name_of = {topic_id: name for name, topic_id in topics.items()}
    found = {
        (name_of[s["TopicArn"]["Ref"]], s["Protocol"], s["Endpoint"])
        for s in _subscriptions(template)
    }
    expected = {
        (name, subscriber["protocol"], subscriber["endpoint"])
        for name, subscribers in SUBSCRIPTIONS.items()
        for subscriber in subscribers
    }
    assert found == expected
    assert len(_subscriptions(template)) == len(expected)  # no duplicates


def test_subscriptions_are_in_the_topics_region_and_not_raw(template: dict[str, Any]) -> None:
    for subscription in _subscriptions(template):
        # Raw delivery would drop the subject line that the page is built around.
        assert subscription.get("RawMessageDelivery") in (None, False)
        assert "FilterPolicy" not in subscription  # every page reaches every subscriber
        assert subscription.get("Region") in (None, "us-east-1")


def test_an_escalation_subscriber_is_not_paged_for_critical(template: dict[str, Any]) -> None:
    topics = _topic_ids(template)
    escalation_endpoints = {
        s["Endpoint"]
        for s in _subscriptions(template)
        if s["TopicArn"] == {"Ref": topics["escalation"]}
    }
    assert escalation_endpoints == {"+14155550199", "https://pager.example.com/escalate"}
    critical_endpoints = {
        s["Endpoint"]
        for s in _subscriptions(template)
        if s["TopicArn"] == {"Ref": topics["critical"]}
    }
    assert not escalation_endpoints & critical_endpoints


def test_topics_keep_their_encryption_and_ssl_policy_with_subscribers(
    template: dict[str, Any],
) -> None:
    topics = _topic_ids(template)
    (key_id,) = [
        logical_id
        for logical_id, r in template["Resources"].items()
        if r["Type"] == "AWS::KMS::Key"
    ]
    for name, topic_id in topics.items():
        props = template["Resources"][topic_id]["Properties"]
        assert props["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}, name
        ssl_only = [
            statement
            for r in template["Resources"].values()
            if r["Type"] == "AWS::SNS::TopicPolicy"
            and {"Ref": topic_id} in r["Properties"]["Topics"]
            for statement in r["Properties"]["PolicyDocument"]["Statement"]
            if statement["Effect"] == "Deny"
            and statement.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
        ]
        assert ssl_only, name
