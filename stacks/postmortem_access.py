"""What create_postmortem may do beyond the incident table, the execution history and writing
under `incidents/`: read the diagnostics evidence, describe the incident's alarm and render its
metric graph, and publish the postmortem's link to the notification topic.

The topic's ARN reaches the function as NOTIFICATION_TOPIC_ARN (set here, beside the grant
that makes it usable).
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns

from stacks import nag

ENV_NOTIFICATION_TOPIC = "NOTIFICATION_TOPIC_ARN"
# The evidence document collect_diagnostics writes (docs/contracts.md, "Artifacts").
EVIDENCE_OBJECTS = "incidents/*/diagnostics.json"
# No resource-level permissions (Service Authorization Reference): IAM requires Resource "*".
RESOURCE_STAR_ACTIONS = ("cloudwatch:GetMetricWidgetImage",)


def grant_postmortem(
    stack: Stack,
    function: lambda_.Function,
    role: iam.IRole,
    *,
    bucket: s3.IBucket,
    key: kms.IKey,
    topic: sns.ITopic,
) -> None:
    """Evidence reads, the alarm and its graph, and publishing to the notification topic."""
    function.add_environment(ENV_NOTIFICATION_TOPIC, topic.topic_arn)
    # sns:Publish on this topic; with its customer-managed key, kms:Decrypt and
    # kms:GenerateDataKey* on that key (acknowledged with the S3 grants' identical wildcard).
    topic.grant_publish(function)

    evidence = bucket.arn_for_objects(EVIDENCE_OBJECTS)
    function.add_to_role_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=[evidence]))
    key.grant_decrypt(function)
    nag.iam5(
        role,
        f"Resource::{nag.arn_ref(bucket)}/{EVIDENCE_OBJECTS}",
        "Reads only the diagnostics evidence documents of the artifact bucket; the * is the "
        "incident id, known at run time.",
    )

    alarms = stack.format_arn(
        service="cloudwatch",
        resource="alarm",
        resource_name="*",
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )
    function.add_to_role_policy(
        iam.PolicyStatement(actions=["cloudwatch:DescribeAlarms"], resources=[alarms])
    )
    nag.iam5(
        role,
        f"Resource::{stack.resolve(alarms)}",
        "Describes the alarm that opened the incident (its metric and threshold for the graph), "
        "known only at run time; read-only and limited to this account's alarms in this region.",
    )
    # GetMetricWidgetImage renders metric data as a PNG; it has no resource-level permissions.
    function.add_to_role_policy(
        iam.PolicyStatement(actions=list(RESOURCE_STAR_ACTIONS), resources=["*"])
    )
    nag.iam5(
        role,
        "Resource::*",
        "cloudwatch:GetMetricWidgetImage (the postmortem's metric graph) has no resource-level "
        "permissions, and X-Ray trace writes from active tracing need Resource * too.",
    )
