"""cdk-nag acknowledgements in one vocabulary, each with a written reason.

cdk-nag 3 reads CDK's native acknowledgements (``Validations.of(construct).acknowledge``) on the
flagged resource or any of its ancestors. Findings of multi-finding rules (IAM5) are
acknowledged one by one as ``RuleId[finding]``; there is no blanket suppression.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, CfnElement, Stack, Validations
from constructs import IConstruct

MIN_REASON_LENGTH = 20


def acknowledge(construct: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge one cdk-nag finding on ``construct`` (and its children) with a reason."""
    if len(reason.strip()) < MIN_REASON_LENGTH:
        raise ValueError(f"acknowledgement of {rule_id} needs a real reason, got {reason!r}")
    _record(construct, Acknowledgment(id=rule_id, reason=reason))


def _record(construct: IConstruct, acknowledgment: Acknowledgment) -> None:
    # The one place acknowledgements reach CDK; tests replace it to list the raw findings and
    # prove that no acknowledgement is stale.
    Validations.of(construct).acknowledge(acknowledgment)


def iam5(construct: IConstruct, finding: str, reason: str) -> None:
    """Acknowledge one AwsSolutions-IAM5 (wildcard) finding, ``Action::x`` or ``Resource::x``."""
    acknowledge(construct, f"AwsSolutions-IAM5[{finding}]", reason)


def arn_ref(resource: IConstruct) -> str:
    """How cdk-nag spells ``Fn::GetAtt <resource>.Arn`` in a finding: ``<LogicalId.Arn>``."""
    cfn = resource.node.default_child if not isinstance(resource, CfnElement) else resource
    if not isinstance(cfn, CfnElement):
        raise TypeError(f"{resource.node.path} has no CloudFormation resource")
    return f"<{Stack.of(cfn).get_logical_id(cfn)}.Arn>"


# Reasons used in more than one place.
XRAY_WRITE = (
    "X-Ray PutTraceSegments/PutTelemetryRecords (and sampling reads) have no resource-level "
    "permissions; CDK adds them with Resource * when active tracing is enabled."
)
KMS_GRANT_WILDCARDS = (
    "Added by CDK grant_* for the customer-managed key: kms:GenerateDataKey* and kms:ReEncrypt* "
    "are prefix wildcards over data-key variants of the single key they are scoped to."
)
S3_GRANT_WILDCARDS = (
    "Added by bucket.grant_put: s3:Abort* covers aborting this role's own multipart uploads, "
    "scoped to the artifact bucket's incidents/ prefix."
)
S3_OBJECT_PREFIX = (
    "Object-level access is scoped to the incidents/<incident_id>/ key space of the artifact "
    "bucket; the trailing * is the incident id and file name."
)
DDB_INDEXES = (
    "Added by table.grant_read_write_data: <table>/index/* covers the table's own GSIs "
    "(by_alarm, by_status) that the step queries; no other table is reachable."
)
