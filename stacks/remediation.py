"""The automation role the remediations run as, the team's own Automation documents, and what a
function needs to start, follow and stop exactly those runbooks (docs/remediation.md,
"Security").

The role is assumed by Systems Manager Automation only, for executions of this account
(aws:SourceAccount, aws:SourceArn: confused-deputy protection), and may do only what the
runbooks that some rule runs need: the catalogue's grants for AWS-owned runbooks
(functions/remediation/documents.py, with the sources they were taken from), the team's
declared `permissions` for its own documents, and the section's extra `permissions`. No
action is a wildcard; a wildcard resource only where the identifiers are known at run time
(the incident's instance or database) or the API has no resource-level permissions, each
acknowledged for cdk-nag with its reason.

A function granted `grant_run` may start only those documents (any version; AWS-owned
runbooks have no account of ours in their ARN: AWS's own managed policies write them with *),
read and stop executions of this account and region, and pass only this role, only to SSM.
"""

from __future__ import annotations

import msgspec
from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_ssm as ssm
from constructs import Construct, IConstruct

from remediation.documents import DocumentSpec, Grant
from remediation.rules import LoadedSection, RemediationConfig, encode_config
from stacks import nag
from stacks.config_object import ConfigObject

ENV_AUTOMATION_ROLE = "REMEDIATION_ROLE_ARN"
SSM_SERVICE = "ssm.amazonaws.com"
_ROLE_WILDCARD = (
    "{document} acts on the incident's {what}, known only at run time; these actions only, "
    "this account and region, and only when Systems Manager Automation runs it."
)
_WHAT = {"instance/*": "EC2 instances", "db:*": "RDS DB instances"}
CONFIG_FILE_NAME = "remediation-config.json"


def compressed(config: RemediationConfig, factor: int) -> RemediationConfig:
    """Approval and execution timeouts `factor` times shorter (at least a second), like the
    escalation stages (stacks/oncall.py): the emulator runs minutes as seconds."""
    if factor == 1:
        return config
    rules = tuple(
        msgspec.structs.replace(
            rule,
            approval_timeout_seconds=max(1, rule.approval_timeout_seconds // factor),
            execution_timeout_seconds=max(1, rule.execution_timeout_seconds // factor),
        )
        for rule in config.rules
    )
    return msgspec.structs.replace(config, rules=rules)


class RemediationRules(ConfigObject):
    """The compiled rules as the object the functions read (REMEDIATION_CONFIG_URI)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: RemediationConfig,
        time_compression: int = 1,
    ) -> None:
        self.config = compressed(config, time_compression)
        super().__init__(
            scope, construct_id, body=encode_config(self.config), file_name=CONFIG_FILE_NAME
        )


def _arn(stack: Stack, template: str) -> str:
    """A grant's ARN template with the stack's partition, region and account."""
    return (
        template.replace("{partition}", stack.partition)
        .replace("{region}", stack.region)
        .replace("{account}", stack.account)
    )


class RemediationAutomation(Construct):
    """The automation role (and the team's documents) for the section's rules."""

    def __init__(self, scope: Construct, construct_id: str, *, section: LoadedSection) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self._section = section
        self.documents: tuple[DocumentSpec, ...] = section.used_documents
        principal = iam.ServicePrincipal(
            SSM_SERVICE,
            conditions={
                "StringEquals": {"aws:SourceAccount": stack.account},
                "ArnLike": {
                    "aws:SourceArn": stack.format_arn(
                        service="ssm",
                        region="*",
                        resource="automation-execution",
                        resource_name="*",
                        arn_format=ArnFormat.SLASH_RESOURCE_NAME,
                    )
                },
            },
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=principal,
            description="Runs the incident runbook's approved remediations (SSM Automation).",
        )
        for document in self.documents:
            for grant in document.permissions:
                self._allow(stack, grant, document.name)
        for grant in section.permissions:
            self._allow(stack, grant, "the remediation section's permissions")
        self.team_documents: dict[str, ssm.CfnDocument] = {
            team.key: ssm.CfnDocument(
                self,
                f"Document{''.join(p.title() for p in team.key.replace('_', '-').split('-'))}",
                name=team.spec.name,
                document_type="Automation",
                document_format="JSON",
                content=team.content,
                target_type=f"/{team.spec.resource_type}" if team.spec.resource_type else None,
                update_method="NewVersion",
            )
            for team in section.team_documents
        }

    def _allow(self, stack: Stack, grant: Grant, document: str) -> None:
        resources = [_arn(stack, r) for r in grant.resources]
        self.role.add_to_policy(
            iam.PolicyStatement(actions=list(grant.actions), resources=resources)
        )
        for template, resource in zip(grant.resources, resources, strict=True):
            if "*" not in template:
                continue
            what = next((w for tail, w in _WHAT.items() if template.endswith(tail)), "resources")
            reason = grant.reason or _ROLE_WILDCARD.format(document=document, what=what)
            nag.iam5(self.role, f"Resource::{stack.resolve(resource)}", reason)

    def document_arns(self) -> list[str]:
        """What StartAutomationExecution authorizes for each document the rules run: the
        document and its automation definition (any version)."""
        stack = Stack.of(self)
        arns: list[str] = []
        for document in self.documents:
            account = "*" if document.owner == "amazon" else stack.account
            for resource, name in (
                ("document", document.name),
                ("automation-definition", f"{document.name}:*"),
            ):
                arns.append(
                    stack.format_arn(
                        service="ssm",
                        account=account,
                        resource=resource,
                        resource_name=name,
                        arn_format=ArnFormat.SLASH_RESOURCE_NAME,
                    )
                )
        return arns

    def executions_arn(self) -> str:
        stack = Stack.of(self)
        return stack.format_arn(
            service="ssm",
            resource="automation-execution",
            resource_name="*",
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )

    def policy_statements(self) -> list[iam.PolicyStatement]:
        """What a function needs to run the remediations: start exactly the rules' documents,
        read and stop this account's executions, pass exactly this role to SSM."""
        executions = self.executions_arn()
        statements = [
            iam.PolicyStatement(
                actions=[
                    "ssm:GetAutomationExecution",
                    "ssm:DescribeAutomationStepExecutions",
                    "ssm:StopAutomationExecution",
                ],
                resources=[executions],
            ),
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[self.role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": SSM_SERVICE}},
            ),
        ]
        if self.documents:
            statements.insert(
                0,
                iam.PolicyStatement(
                    actions=["ssm:StartAutomationExecution"],
                    resources=[*self.document_arns(), executions],
                ),
            )
        return statements

    def grant_run(self, grantee: iam.IGrantable, acknowledge_on: IConstruct) -> None:
        """Give `grantee` the statements, acknowledging their wildcards on `acknowledge_on`
        (the grantee's role) for cdk-nag, each with its reason."""
        for statement in self.policy_statements():
            grantee.grant_principal.add_to_principal_policy(statement)
        stack = Stack.of(self)
        nag.iam5(
            acknowledge_on,
            f"Resource::{stack.resolve(self.executions_arn())}",
            "The execution id is known only once StartAutomationExecution returns it; read, "
            "describe and stop only, executions of this account and region.",
        )
        for document, arn in zip(
            [d for d in self.documents for _ in (0, 1)], self.document_arns(), strict=True
        ):
            if "*" not in stack.resolve(arn):
                continue
            why = (
                "an AWS-owned runbook: its ARN carries no account of ours (AWS's managed "
                "policies write it with *), and the name is reserved to Amazon"
                if document.owner == "amazon"
                else "the team's own document"
            )
            nag.iam5(
                acknowledge_on,
                f"Resource::{stack.resolve(arn)}",
                f"Starts {document.name} only, any version: {why}.",
            )

    def environment(self) -> dict[str, str]:
        """The functions' variables: the automation role's ARN (AutomationAssumeRole)."""
        return {ENV_AUTOMATION_ROLE: self.role.role_arn}
