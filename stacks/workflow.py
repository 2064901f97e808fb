"""The Step Functions Standard workflow, loaded from the ASL file with substitutions."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


def placeholders(definition_file: Path) -> set[str]:
    """The ``${Name}`` substitution placeholders used in an ASL file."""
    return set(PLACEHOLDER.findall(definition_file.read_text(encoding="utf-8")))


class Workflow(Construct):
    """A STANDARD state machine with full logging (ALL + execution data) and X-Ray tracing.

    ``substitutions`` must cover exactly the placeholders of ``definition_file``: a missing one
    would deploy a literal ``${...}``, an extra one hints at a renamed placeholder.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        state_machine_name: str,
        definition_file: Path,
        substitutions: Mapping[str, str],
        log_retention: logs.RetentionDays,
        log_removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        definition = definition_file.read_text(encoding="utf-8")
        expected = set(PLACEHOLDER.findall(definition))
        missing = sorted(expected - substitutions.keys())
        extra = sorted(substitutions.keys() - expected)
        if missing or extra:
            raise ValueError(
                f"substitutions for {definition_file.name} do not match its placeholders: "
                f"missing {missing}, unused {extra}"
            )

        self.log_group = logs.LogGroup(
            self,
            "ExecutionLogs",
            # The /aws/vendedlogs/ prefix keeps CloudWatch Logs' resource policy small.
            log_group_name=f"/aws/vendedlogs/states/{state_machine_name}",
            retention=log_retention,
            removal_policy=log_removal_policy,
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=state_machine_name,
            state_machine_type=sfn.StateMachineType.STANDARD,
            # Inline (DefinitionString), not DefinitionBody.from_file: from_file ships the ASL as
            # a separate S3 asset (DefinitionS3Location), which moto's CloudFormation ignores
            # and which keeps the definition out of the template that tests and the emulator
            # read. Substitutions stay in DefinitionSubstitutions, resolved by CloudFormation.
            definition_body=sfn.DefinitionBody.from_string(definition),
            definition_substitutions=dict(substitutions),
            logs=sfn.LogOptions(
                destination=self.log_group,
                level=sfn.LogLevel.ALL,
                include_execution_data=True,
            ),
            tracing_enabled=True,
            # Executions' history is the service's (90 days); postmortems keep the record in S3.
            removal_policy=RemovalPolicy.DESTROY,
        )
