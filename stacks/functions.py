"""Every Lambda step, built by one factory from one asset of the functions/ folder."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from stacks import nag
from stacks.bundling import function_code

SERVICE_NAME = "incident-runbook"
METRICS_NAMESPACE = "IncidentRunbook"
LOG_LEVEL = "INFO"

# Environment variable names (docs/contracts.md, "Lambda environment").
ENV_TABLE = "INCIDENT_TABLE_NAME"
ENV_BUCKET = "ARTIFACT_BUCKET_NAME"
ENV_STATE_MACHINE = "STATE_MACHINE_ARN"
ENV_SEVERITY_POLICY = "SEVERITY_POLICY"
ENV_LOOKBACK = "DIAGNOSTICS_LOOKBACK_MINUTES"
ENV_SLACK_SECRET = "SLACK_SECRET_NAME"  # noqa: S105 - a variable name, not a secret
ENV_TIMEZONE = "TIMEZONE"
ENV_DIAGNOSTICS_ROLE = "DIAGNOSTICS_ROLE_NAME"  # optional: set by the stack only when configured
ENV_INGEST_POLICY = "INGEST_POLICY"
ENV_IGNORED_ALARM_PREFIX = "IGNORED_ALARM_PREFIX"
ENV_ESCALATION_TOPIC = "ESCALATION_TOPIC_ARN"
ENV_CRITICAL_TOPIC = "CRITICAL_TOPIC_ARN"
ENV_HIGH_TOPIC = "HIGH_TOPIC_ARN"
ENV_MAX_ESCALATIONS = "MAX_ESCALATIONS"
ENV_SLACK_RESPONDERS = "SLACK_RESPONDERS"
ENV_ECS_EVENTS_LOG_GROUP = "ECS_EVENTS_LOG_GROUP"
ENV_RESPONSE_CONFIG = "RESPONSE_CONFIG_URI"
ENV_ONCALL_TABLE = "ONCALL_TABLE_NAME"
ENV_CONTACT_TOPIC_PREFIX = "CONTACT_TOPIC_PREFIX"
ENV_REMEDIATION_CONFIG = "REMEDIATION_CONFIG_URI"
ENV_REMEDIATION_ROLE = "REMEDIATION_ROLE_ARN"  # "" when no remediation rule exists


@dataclass(frozen=True)
class FunctionSpec:
    """What differs between the steps; everything else is the factory's."""

    step: str
    construct_id: str
    description: str
    timeout_seconds: int
    memory_mb: int
    env: tuple[str, ...]


SPECS: tuple[FunctionSpec, ...] = (
    FunctionSpec(
        "ingest",
        "Ingest",
        "Turns an alarm, Health, ECS or CodeDeploy event into an incident (correlated) and "
        "starts its execution.",
        30,
        256,
        (
            ENV_TABLE,
            ENV_STATE_MACHINE,
            ENV_SEVERITY_POLICY,
            ENV_INGEST_POLICY,
            ENV_IGNORED_ALARM_PREFIX,
            ENV_CRITICAL_TOPIC,
            ENV_HIGH_TOPIC,
            ENV_TIMEZONE,
        ),
    ),
    FunctionSpec(
        "classify",
        "Classify",
        "Opens or loads the incident record and decides its severity.",
        30,
        256,
        (ENV_TABLE, ENV_SEVERITY_POLICY, ENV_TIMEZONE, ENV_RESPONSE_CONFIG),
    ),
    FunctionSpec(
        "collect_diagnostics",
        "CollectDiagnostics",
        "Collects metrics, logs and traces for the incident's resources; evidence to S3.",
        120,
        512,
        (ENV_BUCKET, ENV_LOOKBACK, ENV_TABLE, ENV_ECS_EVENTS_LOG_GROUP),
    ),
    FunctionSpec(
        "create_channel",
        "CreateChannel",
        "Creates the incident's Slack channel (skipped when Slack is not configured).",
        30,
        256,
        (ENV_TABLE, ENV_SLACK_SECRET, ENV_SLACK_RESPONDERS, ENV_TIMEZONE, ENV_RESPONSE_CONFIG),
    ),
    FunctionSpec(
        "engage",
        "EngageResponders",
        "Engages the response plan's escalation plan (each person through their own "
        "channels) and opens the incident's OpsItem.",
        30,
        256,
        (
            ENV_TABLE,
            ENV_TIMEZONE,
            ENV_SLACK_SECRET,
            ENV_RESPONSE_CONFIG,
            ENV_ONCALL_TABLE,
            ENV_CONTACT_TOPIC_PREFIX,
        ),
    ),
    FunctionSpec(
        "monitor_recovery",
        "MonitorRecovery",
        "Stores the recovery task token on the incident (or resumes at once if already OK).",
        30,
        256,
        (ENV_TABLE,),
    ),
    FunctionSpec(
        "recovery",
        "Recovery",
        "Resumes the waiting execution when the incident's alarm returns to OK.",
        30,
        256,
        (ENV_TABLE, ENV_SLACK_SECRET),
    ),
    FunctionSpec(
        "escalate",
        "Escalate",
        "Pages the escalation topic when nobody resolved the incident in time; closes after "
        "the configured number of escalations.",
        30,
        256,
        (
            ENV_TABLE,
            ENV_ESCALATION_TOPIC,
            ENV_MAX_ESCALATIONS,
            ENV_TIMEZONE,
            ENV_SLACK_SECRET,
            ENV_RESPONSE_CONFIG,
            ENV_ONCALL_TABLE,
            ENV_CONTACT_TOPIC_PREFIX,
        ),
    ),
    FunctionSpec(
        "check_stability",
        "CheckStability",
        "Re-checks the alarm after the stabilisation wait: recovered, or flapped (wait again).",
        30,
        256,
        (ENV_TABLE, ENV_SLACK_SECRET),
    ),
    FunctionSpec(
        "recovery_watch",
        "RecoveryWatch",
        "Every minute: heartbeats for waiting incidents, and resumes any whose alarm is OK.",
        60,
        256,
        (ENV_TABLE,),
    ),
    FunctionSpec(
        "slack_actions",
        "SlackActions",
        "Slack's Acknowledge/Resolve buttons (HTTP API): verifies the request signature, then "
        "acknowledges or resolves the incident.",
        10,
        256,
        (ENV_TABLE, ENV_SLACK_SECRET),
    ),
    FunctionSpec(
        "remediate",
        "Remediate",
        "The remediation branch: proposes the matching rule's SSM Automation runbook, keeps the "
        "decision's token, runs an approved one and follows it, compares the diagnostics.",
        30,
        256,
        (
            ENV_TABLE,
            ENV_SLACK_SECRET,
            ENV_SLACK_RESPONDERS,
            ENV_TIMEZONE,
            ENV_REMEDIATION_CONFIG,
            ENV_REMEDIATION_ROLE,
            ENV_CRITICAL_TOPIC,
            ENV_HIGH_TOPIC,
        ),
    ),
    FunctionSpec(
        "create_postmortem",
        "CreatePostmortem",
        "Writes the postmortem to the artifact bucket and closes the incident.",
        60,
        512,
        (ENV_TABLE, ENV_BUCKET, ENV_TIMEZONE, ENV_SLACK_SECRET),
    ),
)
STEPS: tuple[str, ...] = tuple(spec.step for spec in SPECS)


class RunbookFunctions(Construct):
    """The Lambda steps. ``environment`` holds every contract variable's value; each function
    receives only the variables its spec lists (plus the Powertools ones)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        source: Path,
        environment: Mapping[str, str],
        log_retention: logs.RetentionDays,
        log_removal_policy: RemovalPolicy,
        layers: tuple[lambda_.ILayerVersion, ...] = (),
        specs: tuple[FunctionSpec, ...] = SPECS,
    ) -> None:
        super().__init__(scope, construct_id)
        self._code = function_code(source)
        self._environment = dict(environment)
        self._log_retention = log_retention
        self._log_removal_policy = log_removal_policy
        self._layers = list(layers)
        self.functions: dict[str, lambda_.Function] = {}
        self.log_groups: dict[str, logs.LogGroup] = {}
        self.roles: dict[str, iam.Role] = {}
        for spec in specs:
            self.functions[spec.step] = self._build(spec)

    def __getitem__(self, step: str) -> lambda_.Function:
        return self.functions[step]

    def _build(self, spec: FunctionSpec) -> lambda_.Function:
        missing = [name for name in spec.env if name not in self._environment]
        if missing:
            raise ValueError(f"{spec.step}: no value for environment variable(s) {missing}")
        scope = Construct(self, spec.construct_id)
        log_group = logs.LogGroup(
            scope,
            "LogGroup",
            retention=self._log_retention,
            removal_policy=self._log_removal_policy,
        )
        # An explicit role without the AWSLambdaBasicExecutionRole managed policy: the function
        # may write to its own log group only (granted below), not create log groups anywhere.
        role = iam.Role(
            scope,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Incident Runbook {spec.step} step",
        )
        function = lambda_.Function(
            scope,
            "Function",
            description=spec.description,
            runtime=lambda_.Runtime.PYTHON_3_13,
            architecture=lambda_.Architecture.ARM_64,
            handler=f"handlers.{spec.step}.lambda_handler",
            code=self._code,
            role=role,
            timeout=Duration.seconds(spec.timeout_seconds),
            memory_size=spec.memory_mb,
            environment={
                "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                "POWERTOOLS_LOG_LEVEL": LOG_LEVEL,
                **{name: self._environment[name] for name in spec.env},
            },
            tracing=lambda_.Tracing.ACTIVE,
            log_group=log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            application_log_level_v2=lambda_.ApplicationLogLevel.INFO,
            system_log_level_v2=lambda_.SystemLogLevel.INFO,
            layers=self._layers,
        )
        log_group.grant_write(role)
        nag.iam5(role, "Resource::*", nag.XRAY_WRITE)
        nag.acknowledge(
            function,
            "AwsSolutions-L1",
            "Python 3.13 is the runtime the project pins (docs/contracts.md) and the newest one "
            "the official Powertools layer set and the local toolchain are validated against.",
        )
        self.log_groups[spec.step] = log_group
        self.roles[spec.step] = role
        return function
