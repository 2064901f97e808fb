"""Where the CLI finds things: AWS clients (real account or emulator) and the stack's outputs.

Everything is looked up through the CloudFormation outputs of the `IncidentRunbook` stack, so the
same commands work against AWS and against `runbook local up`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from runbook import STACK_NAME
from runbook.errors import CliError

REQUIRED_OUTPUTS = (
    "StateMachineArn",
    "IncidentTableName",
    "ArtifactBucketName",
    "PagingTopicArn",
)
LOCAL_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}


@dataclass
class Context:
    """AWS access for one CLI invocation (profile/region or an emulator endpoint)."""

    endpoint_url: str | None = None
    profile: str | None = None
    region: str | None = None
    stack_name: str = STACK_NAME
    _session: Any = field(default=None, init=False, repr=False)
    _outputs: dict[str, str] | None = field(default=None, init=False, repr=False)

    @property
    def session(self) -> boto3.Session:
        if self._session is None:
            kwargs: dict[str, Any] = {}
            if self.profile:
                kwargs["profile_name"] = self.profile
            if self.endpoint_url:
                # The emulator accepts any credentials; never require real ones for it.
                kwargs.update(LOCAL_CREDENTIALS)
                kwargs["region_name"] = self.region or "us-east-1"
            elif self.region:
                kwargs["region_name"] = self.region
            self._session = boto3.Session(**kwargs)
        return self._session

    def client(self, service: str) -> Any:
        kwargs: dict[str, Any] = {}
        if self.endpoint_url:
            kwargs["endpoint_url"] = self.endpoint_url
        return self.session.client(service, **kwargs)

    def table(self, output: str = "IncidentTableName") -> Any:
        """The DynamoDB table a stack output names (the incidents, by default)."""
        kwargs: dict[str, Any] = {}
        if self.endpoint_url:
            kwargs["endpoint_url"] = self.endpoint_url
        return self.session.resource("dynamodb", **kwargs).Table(self.output(output))

    @property
    def outputs(self) -> dict[str, str]:
        if self._outputs is None:
            self._outputs = self._load_outputs()
        return self._outputs

    def output(self, key: str) -> str:
        try:
            return self.outputs[key]
        except KeyError:
            raise CliError(f"stack {self.stack_name} has no output {key}: redeploy it") from None

    def _load_outputs(self) -> dict[str, str]:
        try:
            stacks = self.client("cloudformation").describe_stacks(StackName=self.stack_name)
        except NoCredentialsError:
            raise CliError(
                "no AWS credentials: set AWS_PROFILE/--profile, or --endpoint-url for the emulator"
            ) from None
        except ClientError as err:
            if "does not exist" in str(err):
                where = self.endpoint_url or "this account/region"
                raise CliError(
                    f"no stack {self.stack_name} in {where}: deploy it (make deploy) "
                    "or start the emulator (runbook local up)"
                ) from None
            raise CliError(f"cannot read stack {self.stack_name}: {err}") from None
        except BotoCoreError as err:
            raise CliError(f"cannot reach AWS: {err}") from None
        found = stacks["Stacks"][0].get("Outputs", [])
        return {o["OutputKey"]: o["OutputValue"] for o in found}
