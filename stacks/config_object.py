"""A compiled configuration the stack ships for its functions: a JSON file asset they read by
its s3:// URI (a file, not an environment variable, so it may outgrow Lambda's 4 KB of
environment), readable by exactly its object (an asset's own grant_read would cover the
whole asset bucket)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct


class ConfigObject(Construct):
    """``body`` written to a file named ``file_name`` and published with the stack."""

    def __init__(self, scope: Construct, construct_id: str, *, body: bytes, file_name: str) -> None:
        super().__init__(scope, construct_id)
        folder = Path(tempfile.mkdtemp(prefix="incident-runbook-config-"))
        (folder / file_name).write_bytes(body)
        self.asset = s3_assets.Asset(self, "Asset", path=str(folder / file_name))

    @property
    def uri(self) -> str:
        """`s3://<asset bucket>/<key>`, the value of the functions' `..._URI` setting."""
        return self.asset.s3_object_url

    def grant_read(self, grantee: iam.IGrantable) -> None:
        """GetObject on this object only."""
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["s3:GetObject"],
            resource_arns=[self.asset.bucket.arn_for_objects(self.asset.s3_object_key)],
        )
