"""Deploy a synthesised stack to the emulator the way ``cdk deploy`` does on AWS.

Publish the file assets to the bootstrap bucket (zip for directories), then create (or update)
the stack through the CloudFormation API with the synthesised template, and wait for it. On the
emulator the wait ends only after the emulator's own part (stack_readiness.py).
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import WaiterError

from runbook.local.synth import FileAsset, StackArtifact

STACK_READY = {"CREATE_COMPLETE", "UPDATE_COMPLETE"}
# A fixed timestamp keeps asset zips byte-identical between runs (as CDK's are).
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


class DeployError(RuntimeError):
    """The stack did not reach CREATE_COMPLETE/UPDATE_COMPLETE."""


@dataclass
class Deployment:
    """What the CLI and tests need from a deployed stack."""

    stack_name: str
    stack_id: str
    outputs: dict[str, str]
    resources: dict[str, str] = field(default_factory=dict)
    """Logical id -> physical id."""


def bootstrap_bucket(account: str, region: str, qualifier: str = "hnb659fds") -> str:
    return f"cdk-{qualifier}-assets-{account}-{region}"


def zip_directory(directory: Path) -> bytes:
    """Zip a directory asset with sorted entries and fixed timestamps."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for root, dirs, files in os.walk(directory):
            dirs.sort()
            for name in sorted(files):
                path = Path(root) / name
                info = zipfile.ZipInfo(str(path.relative_to(directory)), _ZIP_EPOCH)
                info.external_attr = (path.stat().st_mode & 0o777) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def asset_body(asset: FileAsset) -> bytes:
    if asset.packaging == "zip" and asset.path.is_dir():
        return zip_directory(asset.path)
    if asset.packaging in ("zip", "file") and asset.path.is_file():
        return asset.path.read_bytes()
    raise DeployError(f"asset {asset.asset_id}: cannot package {asset.path} as {asset.packaging}")


def publish_assets(s3: Any, artifact: StackArtifact, account: str, region: str) -> None:
    """Create the bootstrap bucket(s) and upload every file asset, once per destination."""
    existing = {bucket["Name"] for bucket in s3.list_buckets().get("Buckets", [])}
    wanted = {bootstrap_bucket(account, region)} | {a.bucket for a in artifact.assets}
    for bucket in sorted(wanted - existing):
        if region == "us-east-1":
            s3.create_bucket(Bucket=bucket)
        else:
            s3.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region}
            )
    for asset in artifact.assets:
        s3.put_object(Bucket=asset.bucket, Key=asset.key, Body=asset_body(asset))


def _stack_status(cloudformation: Any, stack_name: str) -> str | None:
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except cloudformation.exceptions.ClientError as err:
        if "does not exist" in str(err):
            return None
        raise
    return str(stacks[0]["StackStatus"]) if stacks else None


def submit_stack(
    cloudformation: Any, artifact: StackArtifact, capabilities: tuple[str, ...]
) -> str:
    """Create the stack (update it if it exists) from the synthesised template; the waiter
    name that tells when it is done (``stack_create_complete`` or ``stack_update_complete``)."""
    body = artifact.template_path.read_text(encoding="utf-8")
    params = {
        "StackName": artifact.name,
        "TemplateBody": body,
        "Capabilities": list(capabilities),
    }
    if _stack_status(cloudformation, artifact.name) is None:
        cloudformation.create_stack(**params)
        return "stack_create_complete"
    cloudformation.update_stack(**params)
    return "stack_update_complete"


def wait_for_stack(cloudformation: Any, stack_name: str, waiter_name: str) -> Deployment:
    """Wait for the stack to complete (a failure ends the wait at once) and describe it."""
    waiter = cloudformation.get_waiter(waiter_name)
    try:
        waiter.wait(StackName=stack_name, WaiterConfig={"Delay": 1, "MaxAttempts": 300})
    except WaiterError as err:
        raise DeployError(f"stack {stack_name}: {err}") from err
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    if stack["StackStatus"] not in STACK_READY:
        raise DeployError(f"stack {stack_name} ended {stack['StackStatus']}")
    return describe_deployment(cloudformation, stack_name)


def describe_deployment(cloudformation: Any, stack_name: str) -> Deployment:
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    resources = cloudformation.describe_stack_resources(StackName=stack_name)["StackResources"]
    return Deployment(
        stack_name=stack_name,
        stack_id=stack["StackId"],
        outputs={o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])},
        # moto lists the resource types it skipped as entries without ids; leave them out.
        resources={
            r["LogicalResourceId"]: r.get("PhysicalResourceId") or ""
            for r in resources
            if r.get("LogicalResourceId")
        },
    )


def dumps_template_value(value: Any) -> str:
    """Policy documents and the like are passed to service APIs as JSON strings."""
    return value if isinstance(value, str) else json.dumps(value)
