"""The people side of the stack (docs/oncall.md): the compiled response declaration shipped as
a file asset, one SNS topic per contact with a subscription per SMS/email channel filtered on
the `channel` message attribute, and the table of rotation overrides.

Why per-contact topics: one Publish (with `channel` set) reaches exactly one channel of one
person, SMS and email endpoints are SNS-native and confirmed by their owners, the topics are
encrypted with the stack's key, and publishing is granted on exactly these topics.
"""

from __future__ import annotations

from pathlib import Path

import msgspec
from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from oncall.declaration import ResponseConfig, default_config, encode_config
from remediation.rules import LoadedSection, RemediationConfig
from stacks.config_object import ConfigObject
from stacks.response_file import LoadedResponse, load_response_file
from stacks.settings import Settings

CONFIG_FILE_NAME = "response-config.json"
DEFAULT_RESPONSE_FILE = "incident-response.yaml"


def load_response(settings: Settings, app_dir: Path, stack_name: str) -> LoadedResponse:
    """The response declaration the settings name, validated (ResponseFileError names every
    mistake by file, line and field) and time-compressed. The default file may be absent (no
    people yet: the severity topics page as before); a file the settings name must exist."""
    path = Path(settings.response_file)
    path = path if path.is_absolute() else app_dir / path
    if not path.is_file():
        if settings.response_file != DEFAULT_RESPONSE_FILE:
            raise FileNotFoundError(f"responseFile: no such file {path}")
        return LoadedResponse(
            config=default_config(settings.timezone),
            remediation=LoadedSection(config=RemediationConfig()),
        )
    loaded = load_response_file(path, prefix=stack_name, default_timezone=settings.timezone)
    return LoadedResponse(
        config=compressed(loaded.config, settings.time_compression),
        remediation=loaded.remediation,
    )


def compressed(config: ResponseConfig, factor: int) -> ResponseConfig:
    """Stage durations and engagement offsets `factor` times shorter (at least a second for a
    stage); rotations keep their wall-clock times."""
    if factor == 1:
        return config
    replace = msgspec.structs.replace
    contacts = {
        key: replace(
            contact,
            engagement=tuple(
                replace(step, after_seconds=step.after_seconds // factor)
                for step in contact.engagement
            ),
        )
        for key, contact in config.contacts.items()
    }
    plans = {
        key: replace(
            plan,
            stages=tuple(
                replace(stage, duration_seconds=max(1, stage.duration_seconds // factor))
                for stage in plan.stages
            ),
        )
        for key, plan in config.escalation_plans.items()
    }
    return replace(config, contacts=contacts, escalation_plans=plans)


def contact_topic_name(stack_name: str, contact_id: str) -> str:
    """`<stack>-contact-<id>` (SNS topic names: 256 of [A-Za-z0-9_-]; ids are [a-z0-9_-])."""
    return f"{stack_name}-contact-{contact_id}"


class OnCall(Construct):
    """``config`` is the compiled declaration (stacks/response_file.py); ``stack_name`` names
    the topics so their ARNs are known to the functions as `<prefix><contact id>`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: ResponseConfig,
        stack_name: str,
        encryption_key: kms.IKey,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self.config = config
        self.config_object = ConfigObject(
            self, "ResponseConfig", body=encode_config(config), file_name=CONFIG_FILE_NAME
        )

        self.overrides_table = dynamodb.Table(
            self,
            "OverridesTable",
            partition_key=dynamodb.Attribute(name="rotation", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="override_id", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            time_to_live_attribute="expires_at",
            deletion_protection=removal_policy == RemovalPolicy.RETAIN,
            removal_policy=removal_policy,
        )

        self.contact_topics: dict[str, sns.Topic] = {}
        for contact_id, contact in sorted(config.contacts.items()):
            topic = sns.Topic(
                self,
                f"Contact-{contact_id}",
                topic_name=contact_topic_name(stack_name, contact_id),
                display_name=f"Incident Runbook - page {contact.name}"[:100],
                master_key=encryption_key,
                enforce_ssl=True,
            )
            for channel in contact.channels:
                if channel.type == "slack":
                    continue  # a Slack DM from the app, not SNS
                sns.Subscription(
                    self,
                    f"Contact-{contact_id}-{channel.name}",
                    topic=topic,
                    protocol=(
                        sns.SubscriptionProtocol.SMS
                        if channel.type == "sms"
                        else sns.SubscriptionProtocol.EMAIL
                    ),
                    endpoint=channel.address,
                    filter_policy={
                        "channel": sns.SubscriptionFilter.string_filter(allowlist=[channel.name])
                    },
                )
            self.contact_topics[contact_id] = topic

    def grant_page(self, grantee: iam.IGrantable) -> None:
        """Publish to every contact's topic (and only those); the key's data-key access comes
        with ``grant_publish``."""
        for topic in self.contact_topics.values():
            topic.grant_publish(grantee)
