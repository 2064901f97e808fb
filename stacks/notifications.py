"""SNS topics: paging (critical/high incidents) and team notification (standard incidents)."""

from __future__ import annotations

from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct


class Notifications(Construct):
    """Two KMS-encrypted, SSL-only topics. Publishers (the state machine) get key access through
    ``topic.grant_publish``, which adds kms:Decrypt/GenerateDataKey* on the key to their role."""

    def __init__(self, scope: Construct, construct_id: str, *, encryption_key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        self.paging_topic = sns.Topic(
            self,
            "PagingTopic",
            display_name="Incident Runbook - page on-call",
            master_key=encryption_key,
            enforce_ssl=True,
        )
        self.notification_topic = sns.Topic(
            self,
            "NotificationTopic",
            display_name="Incident Runbook - team notifications",
            master_key=encryption_key,
            enforce_ssl=True,
        )
