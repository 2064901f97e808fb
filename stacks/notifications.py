"""SNS topics, one per kind of attention: critical pages, high pages, standard notifications
(no page) and escalations, each with the subscribers configured in cdk.json."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from stacks.settings import TOPICS, Subscription, TopicName

_DISPLAY_NAMES: dict[TopicName, tuple[str, str]] = {
    "critical": ("CriticalTopic", "Incident Runbook - page on-call (critical)"),
    "high": ("HighTopic", "Incident Runbook - page on-call (high)"),
    "standard": ("NotificationTopic", "Incident Runbook - team notifications"),
    "escalation": ("EscalationTopic", "Incident Runbook - escalation"),
}


def subscription_for(subscriber: Subscription) -> sns.ITopicSubscription:
    if subscriber.protocol == "email":
        return subscriptions.EmailSubscription(subscriber.endpoint)
    if subscriber.protocol == "sms":
        return subscriptions.SmsSubscription(subscriber.endpoint)
    https = sns.SubscriptionProtocol.HTTPS
    return subscriptions.UrlSubscription(subscriber.endpoint, protocol=https)


class Notifications(Construct):
    """KMS-encrypted, SSL-only topics. Publishers (the state machine, the escalate step) get key
    access through ``topic.grant_publish``, which adds kms:Decrypt/GenerateDataKey* on the key."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        encryption_key: kms.IKey,
        subscribers: Mapping[TopicName, tuple[Subscription, ...]],
    ) -> None:
        super().__init__(scope, construct_id)
        self.topics: dict[TopicName, sns.Topic] = {}
        for name in TOPICS:
            construct_name, display_name = _DISPLAY_NAMES[name]
            topic = sns.Topic(
                self,
                construct_name,
                display_name=display_name,
                master_key=encryption_key,
                enforce_ssl=True,
            )
            for subscriber in subscribers.get(name, ()):
                topic.add_subscription(subscription_for(subscriber))
            self.topics[name] = topic

    @property
    def notification_topic(self) -> sns.Topic:
        """Standard incidents and postmortem announcements."""
        return self.topics["standard"]

    @property
    def escalation_topic(self) -> sns.Topic:
        return self.topics["escalation"]
