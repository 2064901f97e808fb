"""The one stack: storage, notifications, functions, workflow and triggers, wired with grants."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aws_cdk import ArnFormat, CfnOutput, RemovalPolicy, Stack, Tags
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from constructs import Construct

from stacks import nag
from stacks.callback_api import SlackCallbackApi
from stacks.diagnostics_access import grant_diagnostics
from stacks.drills import Drills, dead_mans_alarm_name, drill_alarm_prefix
from stacks.ecs_task_events import EcsTaskEvents
from stacks.functions import (
    ENV_BUCKET,
    ENV_CONTACT_TOPIC_PREFIX,
    ENV_CRITICAL_TOPIC,
    ENV_DIAGNOSTICS_ROLE,
    ENV_ECS_EVENTS_LOG_GROUP,
    ENV_ESCALATION_TOPIC,
    ENV_HIGH_TOPIC,
    ENV_IGNORED_ALARM_PREFIX,
    ENV_INGEST_POLICY,
    ENV_LOOKBACK,
    ENV_MAX_ESCALATIONS,
    ENV_ONCALL_TABLE,
    ENV_REMEDIATION_CONFIG,
    ENV_REMEDIATION_ROLE,
    ENV_RESPONSE_CONFIG,
    ENV_SEVERITY_POLICY,
    ENV_SLACK_RESPONDERS,
    ENV_SLACK_SECRET,
    ENV_STATE_MACHINE,
    ENV_TABLE,
    ENV_TIMEZONE,
    STEPS,
    RunbookFunctions,
)
from stacks.notifications import Notifications
from stacks.oncall import OnCall, load_response
from stacks.postmortem_access import grant_postmortem
from stacks.remediation import RemediationAutomation, RemediationRules
from stacks.settings import Settings, TopicName
from stacks.storage import ARTIFACT_PREFIX, Storage
from stacks.triggers import Triggers
from stacks.workflow import Workflow

REPO_ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR = REPO_ROOT / "functions"
DEFINITION_FILE = REPO_ROOT / "statemachines" / "incident_response.asl.json"

STACK_NAME = "IncidentRunbook"
POWERTOOLS_LAYER_ACCOUNT = "017000801446"

# CloudWatch Logs retention in days -> the CDK enum (whose Python values are its names).
RETENTION_DAYS: dict[int, logs.RetentionDays] = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1096: logs.RetentionDays.THREE_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    2192: logs.RetentionDays.SIX_YEARS,
    2557: logs.RetentionDays.SEVEN_YEARS,
    2922: logs.RetentionDays.EIGHT_YEARS,
    3288: logs.RetentionDays.NINE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}

# The state machine's steps, keyed by the ASL substitution that names their ARN.
STEP_SUBSTITUTIONS: dict[str, str] = {
    "ClassifyFunctionArn": "classify",
    "CollectDiagnosticsFunctionArn": "collect_diagnostics",
    "CreateChannelFunctionArn": "create_channel",
    "MonitorRecoveryFunctionArn": "monitor_recovery",
    "CheckStabilityFunctionArn": "check_stability",
    "EscalateFunctionArn": "escalate",
    "EngageFunctionArn": "engage",
    "RemediateFunctionArn": "remediate",
    "CreatePostmortemFunctionArn": "create_postmortem",
}

# The topics the state machine publishes to, keyed by the ASL substitution naming their ARN.
TOPIC_SUBSTITUTIONS: dict[str, TopicName] = {
    "CriticalTopicArn": "critical",
    "HighTopicArn": "high",
    "NotificationTopicArn": "standard",
    "EscalationTopicArn": "escalation",
}


# The steps that talk to Slack (and so read its secret when one is configured).
SLACK_STEPS = (
    "create_channel",
    "engage",
    "recovery",
    "escalate",
    "check_stability",
    "slack_actions",
    "remediate",
    "create_postmortem",
)
# How often the workflow looks at a running remediation (compressed like the stages).
REMEDIATION_POLL_SECONDS = 20
# The evidence documents the remediation step compares (the first run and the re-runs).
REMEDIATION_EVIDENCE = "incidents/*/diagnostics*.json"


class IncidentRunbookStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str = STACK_NAME,
        *,
        settings: Settings,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.settings = settings
        Tags.of(self).add("application", "incident-runbook")

        # Incident data outlives the stack on AWS; the local emulator throws everything away.
        data_removal = RemovalPolicy.DESTROY if settings.local else RemovalPolicy.RETAIN
        log_removal = RemovalPolicy.DESTROY
        log_retention = RETENTION_DAYS[settings.log_retention_days]

        # The state machine's name is fixed so its ARN is known before it exists: the steps it
        # invokes (monitor_recovery) need that ARN in their policies, and a token reference
        # would make a dependency cycle (function -> policy -> state machine -> function).
        self.state_machine_name = f"{self.stack_name}-incident-response"
        self.state_machine_arn = self.format_arn(
            service="states",
            resource="stateMachine",
            resource_name=self.state_machine_name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self.executions_arn = self.format_arn(
            service="states",
            resource="execution",
            resource_name=f"{self.state_machine_name}:*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )

        self.key = kms.Key(
            self,
            "IncidentKey",
            description="Incident Runbook: SNS topics and the artifact bucket",
            enable_key_rotation=True,
            removal_policy=data_removal,
        )
        self.storage = Storage(
            self, "Storage", encryption_key=self.key, removal_policy=data_removal
        )
        self.notifications = Notifications(
            self, "Notifications", encryption_key=self.key, subscribers=settings.subscriptions
        )

        # People: the response declaration (validated here, at synth), each contact's topic,
        # the overrides table (docs/oncall.md).
        self.response = load_response(settings, REPO_ROOT, self.stack_name)
        self.oncall = OnCall(
            self,
            "OnCall",
            config=self.response.config,
            stack_name=self.stack_name,
            encryption_key=self.key,
            removal_policy=data_removal,
        )
        # Remediation (docs/remediation.md): the compiled rules for the functions, and the
        # automation role and team documents only when some rule exists.
        self.remediation_rules = RemediationRules(
            self,
            "RemediationRules",
            config=self.response.remediation.config,
            time_compression=settings.time_compression,
        )
        self.remediation: RemediationAutomation | None = None
        if self.response.remediation.config.rules:
            self.remediation = RemediationAutomation(
                self, "Remediation", section=self.response.remediation
            )
        remediation_env = self.remediation.environment() if self.remediation else {}
        # Drills (docs/drills.md): the drill topic; the schedule and dead-man's switch if set.
        self.drills = Drills(
            self,
            "Drills",
            settings=settings.drill,
            stack_name=self.stack_name,
            encryption_key=self.key,
        )
        contact_topic_prefix = self.format_arn(
            service="sns", resource=f"{self.stack_name}-contact-"
        )

        # Stopped ECS tasks, kept for the diagnostics' stop-reason query (which reads the
        # group's name from the environment).
        self.ecs_task_events = EcsTaskEvents(
            self, "EcsTaskEvents", retention=log_retention, removal_policy=log_removal
        )

        table = self.storage.table
        bucket = self.storage.artifact_bucket
        self.functions = RunbookFunctions(
            self,
            "Functions",
            source=FUNCTIONS_DIR,
            environment={
                ENV_TABLE: table.table_name,
                ENV_BUCKET: bucket.bucket_name,
                ENV_STATE_MACHINE: self.state_machine_arn,
                ENV_SEVERITY_POLICY: settings.severity_policy_json(),
                ENV_INGEST_POLICY: settings.ingest_policy_json(),
                ENV_IGNORED_ALARM_PREFIX: drill_alarm_prefix(self.stack_name),
                ENV_LOOKBACK: str(settings.diagnostics_lookback_minutes),
                ENV_SLACK_SECRET: settings.slack_secret_name,
                ENV_SLACK_RESPONDERS: json.dumps(list(settings.slack_responders)),
                ENV_TIMEZONE: settings.timezone,
                ENV_ESCALATION_TOPIC: self.notifications.escalation_topic.topic_arn,
                ENV_CRITICAL_TOPIC: self.notifications.topics["critical"].topic_arn,
                ENV_HIGH_TOPIC: self.notifications.topics["high"].topic_arn,
                ENV_MAX_ESCALATIONS: str(settings.max_escalations),
                ENV_ECS_EVENTS_LOG_GROUP: self.ecs_task_events.log_group.log_group_name,
                ENV_RESPONSE_CONFIG: self.oncall.config_object.uri,
                ENV_ONCALL_TABLE: self.oncall.overrides_table.table_name,
                ENV_CONTACT_TOPIC_PREFIX: contact_topic_prefix,
                ENV_REMEDIATION_CONFIG: self.remediation_rules.uri,
                ENV_REMEDIATION_ROLE: remediation_env.get(ENV_REMEDIATION_ROLE, ""),
            },
            log_retention=log_retention,
            log_removal_policy=log_removal,
            layers=self._powertools_layers(),
        )

        fns = self.functions
        topics = self.notifications.topics
        self.workflow = Workflow(
            self,
            "Workflow",
            state_machine_name=self.state_machine_name,
            definition_file=DEFINITION_FILE,
            substitutions={
                **{key: fns[step].function_arn for key, step in STEP_SUBSTITUTIONS.items()},
                **{key: topics[name].topic_arn for key, name in TOPIC_SUBSTITUTIONS.items()},
                "RecoveryTimeoutSeconds": str(settings.recovery_timeout_seconds),
                "HeartbeatSeconds": str(settings.state_heartbeat_seconds()),
                "StabilisationSeconds": str(settings.stabilisation_seconds),
                "RemediationPollSeconds": str(
                    max(2, REMEDIATION_POLL_SECONDS // settings.time_compression)
                ),
                "DrillTopicArn": self.drills.topic.topic_arn,
            },
            log_retention=log_retention,
            log_removal_policy=log_removal,
        )
        self.triggers = Triggers(
            self,
            "Triggers",
            ingest=fns["ingest"],
            recovery=fns["recovery"],
            recovery_watch=fns["recovery_watch"],
        )

        self._grant_state_machine((*topics.values(), self.drills.topic))
        self._grant_functions()
        self._grant_postmortem()
        self.callback_api = self._callback_api(log_retention, log_removal)
        self._outputs()

    # -- construction helpers -------------------------------------------------------------

    def _powertools_layers(self) -> tuple[lambda_.ILayerVersion, ...]:
        # The local emulator (moto) cannot resolve a layer published in AWS's account; it runs
        # the handlers with the virtual environment's Powertools instead.
        if self.settings.local:
            return ()
        arn = (
            f"arn:{self.partition}:lambda:{self.region}:{POWERTOOLS_LAYER_ACCOUNT}:layer:"
            "AWSLambdaPowertoolsPythonV3-python313-arm64:"
            f"{self.settings.powertools_layer_version}"
        )
        return (lambda_.LayerVersion.from_layer_version_arn(self, "PowertoolsLayer", arn),)

    def _grant_state_machine(self, topics: tuple[sns.ITopic, ...]) -> None:
        state_machine = self.workflow.state_machine
        role = state_machine.role
        for step in STEP_SUBSTITUTIONS.values():
            function = self.functions[step]
            function.grant_invoke(state_machine)
            nag.iam5(
                role,
                f"Resource::{nag.arn_ref(function)}:*",
                "Added by grant_invoke: <function>:* are the versions and aliases of a step the "
                "state machine invokes; no other function is reachable.",
            )
        for topic in topics:
            topic.grant_publish(state_machine)
        nag.iam5(role, "Action::kms:GenerateDataKey*", nag.KMS_GRANT_WILDCARDS)
        nag.iam5(
            role,
            "Resource::*",
            "Step Functions log delivery (logs:*LogDelivery*, PutResourcePolicy, "
            "DescribeResourcePolicies, DescribeLogGroups) and X-Ray tracing have no "
            "resource-level permissions; CDK adds them for logging and tracing.",
        )

    def _grant_functions(self) -> None:
        fns = self.functions
        table = self.storage.table
        bucket = self.storage.artifact_bucket
        objects = f"{ARTIFACT_PREFIX}*"

        # Incident records: every step but collect_diagnostics (which only queries stored
        # Health events and updates the verdict, see _grant_diagnostics, and writes evidence
        # to S3).
        for step in STEPS:
            if step == "collect_diagnostics":
                continue
            table.grant_read_write_data(fns[step])
            nag.iam5(fns.roles[step], f"Resource::{nag.arn_ref(table)}/index/*", nag.DDB_INDEXES)

        # ingest starts the execution (named after the incident id).
        self.workflow.state_machine.grant_start_execution(fns["ingest"])

        # Task tokens: SendTaskSuccess is authorised against the state machine that issued
        # the token, so it is scoped to this state machine (by its known ARN, see above).
        for step in ("monitor_recovery", "recovery", "recovery_watch", "slack_actions"):
            fns[step].add_to_role_policy(
                iam.PolicyStatement(
                    actions=["states:SendTaskSuccess"], resources=[self.state_machine_arn]
                )
            )
        fns["recovery_watch"].add_to_role_policy(
            iam.PolicyStatement(
                actions=["states:SendTaskHeartbeat"], resources=[self.state_machine_arn]
            )
        )

        # escalate pages the escalation topic; ingest pages an incident a joining signal raised
        # to critical or high (both get the key's data-key access with the grant).
        self.notifications.escalation_topic.grant_publish(fns["escalate"])
        nag.iam5(fns.roles["escalate"], "Action::kms:GenerateDataKey*", nag.KMS_GRANT_WILDCARDS)
        for severity in ("critical", "high"):
            self.notifications.topics[severity].grant_publish(fns["ingest"])
        nag.iam5(fns.roles["ingest"], "Action::kms:GenerateDataKey*", nag.KMS_GRANT_WILDCARDS)

        # recovery, check_stability and recovery_watch read the state of the incident's alarms
        # (an incident has recovered only when every alarm on it is OK).
        alarms_arn = self._alarms_arn()
        for step in ("recovery", "check_stability", "recovery_watch"):
            fns[step].add_to_role_policy(
                iam.PolicyStatement(actions=["cloudwatch:DescribeAlarms"], resources=[alarms_arn])
            )
            nag.iam5(
                fns.roles[step],
                f"Resource::{self.resolve(alarms_arn)}",
                "Reads the state of the alarms of open incidents, known only at run time; "
                "read-only and limited to this account's alarms in this region.",
            )

        # Evidence and postmortems are written (only) under incidents/<incident_id>/.
        object_resource = f"Resource::{nag.arn_ref(bucket)}/{objects}"
        for step in ("collect_diagnostics", "create_postmortem"):
            bucket.grant_put(fns[step], objects)
            role = fns.roles[step]
            nag.iam5(role, object_resource, nag.S3_OBJECT_PREFIX)
            nag.iam5(role, "Action::s3:Abort*", nag.S3_GRANT_WILDCARDS)
            nag.iam5(role, "Action::kms:GenerateDataKey*", nag.KMS_GRANT_WILDCARDS)
            nag.iam5(role, "Action::kms:ReEncrypt*", nag.KMS_GRANT_WILDCARDS)

        # The postmortem reads the execution history of this state machine's executions.
        fns["create_postmortem"].add_to_role_policy(
            iam.PolicyStatement(
                actions=["states:GetExecutionHistory"], resources=[self.executions_arn]
            )
        )
        nag.iam5(
            fns.roles["create_postmortem"],
            f"Resource::{self.resolve(self.executions_arn)}",
            "Execution ARNs are <state machine name>:<execution name>; the * is the execution "
            "(incident id) of this state machine only.",
        )

        # The Slack bot token, only when a secret is configured. Secrets Manager appends six
        # random characters to a secret's ARN, matched by ?????? (not by a wildcard).
        secret = self.settings.slack_secret_name
        if secret:
            secret_arn = (
                secret
                if secret.startswith("arn:")
                else self.format_arn(
                    service="secretsmanager",
                    resource="secret",
                    resource_name=f"{secret}-??????",
                    arn_format=ArnFormat.COLON_RESOURCE_NAME,
                )
            )
            # create_channel opens the channel; the others post updates in it.
            for step in SLACK_STEPS:
                fns[step].add_to_role_policy(
                    iam.PolicyStatement(
                        actions=["secretsmanager:GetSecretValue"], resources=[secret_arn]
                    )
                )

        # classify and ingest read an alarm's tags (a severity hint: ingest for a signal that
        # joins an open incident and may upgrade it); which alarm is known at run time.
        alarms = self._alarms_arn()
        for step in ("classify", "ingest"):
            fns[step].add_to_role_policy(
                iam.PolicyStatement(actions=["cloudwatch:ListTagsForResource"], resources=[alarms])
            )
            nag.iam5(
                fns.roles[step],
                f"Resource::{self.resolve(alarms)}",
                "Reads the tags of the alarm whose signal is being classified, known only at run "
                "time; read-only and limited to this account's alarms in this region.",
            )

        self._grant_diagnostics()
        self._grant_oncall()
        self._grant_remediation()

    def _grant_remediation(self) -> None:
        """Read the rules and the evidence, resume the workflow with a decision; start,
        follow and stop exactly the rules' runbooks (only when some rule exists)."""
        function = self.functions["remediate"]
        role = self.functions.roles["remediate"]
        self.remediation_rules.grant_read(function)
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["states:SendTaskSuccess"], resources=[self.state_machine_arn]
            )
        )
        bucket = self.storage.artifact_bucket
        evidence = bucket.arn_for_objects(REMEDIATION_EVIDENCE)
        function.add_to_role_policy(
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[evidence])
        )
        self.key.grant_decrypt(function)
        nag.iam5(
            role,
            f"Resource::{nag.arn_ref(bucket)}/{REMEDIATION_EVIDENCE}",
            "Reads only the diagnostics evidence documents (before and after a remediation); "
            "the * is the incident id and the run's phase, known at run time.",
        )
        if self.remediation is not None:
            self.remediation.grant_run(function, role)
        # A proposal that waits for a person is paged on the incident's severity topic
        # (written out rather than grant_publish, whose key grant is kms:GenerateDataKey*).
        topics = [self.notifications.topics[s].topic_arn for s in ("critical", "high")]
        function.add_to_role_policy(iam.PolicyStatement(actions=["sns:Publish"], resources=topics))
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=[self.key.key_arn]
            )
        )

    def _grant_oncall(self) -> None:
        """Read the declaration (classify, create_channel, engage, escalate); page people and
        read overrides (engage, escalate); the incident's OpsItem (engage opens it, the
        postmortem resolves it)."""
        fns = self.functions
        oncall = self.oncall
        for step in ("classify", "create_channel", "engage", "escalate"):
            oncall.config_object.grant_read(fns[step])
        for step in ("engage", "escalate"):
            oncall.grant_page(fns[step])
            oncall.overrides_table.grant_read_data(fns[step])
            if oncall.contact_topics:  # the key's data-key access comes with the topics' grant
                nag.iam5(fns.roles[step], "Action::kms:GenerateDataKey*", nag.KMS_GRANT_WILDCARDS)
        fns["engage"].add_to_role_policy(
            iam.PolicyStatement(
                # CreateOpsItem has no resource-level permissions (the OpsItem does not exist
                # before the call); the OpsItems it creates are this account's and region's.
                actions=["ssm:CreateOpsItem"],
                resources=["*"],
            )
        )
        nag.iam5(
            fns.roles["engage"],
            "Resource::*",
            "ssm:CreateOpsItem has no resource-level permissions (the OpsItem does not exist "
            "before the call).",
        )
        opsitems = self.format_arn(service="ssm", resource="opsitem", resource_name="*")
        fns["create_postmortem"].add_to_role_policy(
            iam.PolicyStatement(actions=["ssm:UpdateOpsItem"], resources=[opsitems])
        )
        nag.iam5(
            fns.roles["create_postmortem"],
            f"Resource::{self.resolve(opsitems)}",
            "Resolves the incident's OpsItem, whose id is known only at run time; limited to "
            "this account's and region's OpsItems.",
        )

    def _alarms_arn(self) -> str:
        """Every CloudWatch alarm of this account and region (which one is known at run time)."""
        return self.format_arn(
            service="cloudwatch",
            resource="alarm",
            resource_name="*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )

    def _grant_diagnostics(self) -> None:
        function = self.functions["collect_diagnostics"]
        role_name = self.settings.diagnostics_role_name
        if role_name:
            function.add_environment(ENV_DIAGNOSTICS_ROLE, role_name)
        grant_diagnostics(
            self,
            function,
            self.functions.roles["collect_diagnostics"],
            self.storage.table,
            role_name,
        )

    def _callback_api(
        self, log_retention: logs.RetentionDays, log_removal: RemovalPolicy
    ) -> SlackCallbackApi | None:
        """The HTTP API behind Slack's buttons, when Slack is configured. Not on the emulator:
        moto's CloudFormation does not create API Gateway v2 resources (the e2e tests call the
        function with the HTTP API's event shape instead)."""
        if self.settings.local or not self.settings.slack_secret_name:
            return None
        return SlackCallbackApi(
            self,
            "SlackCallbackApi",
            function=self.functions["slack_actions"],
            log_retention=log_retention,
            log_removal_policy=log_removal,
        )

    def _grant_postmortem(self) -> None:
        grant_postmortem(
            self,
            self.functions["create_postmortem"],
            self.functions.roles["create_postmortem"],
            bucket=self.storage.artifact_bucket,
            key=self.key,
            topic=self.notifications.notification_topic,
        )

    def _outputs(self) -> None:
        CfnOutput(
            self,
            "StateMachineArn",
            value=self.workflow.state_machine.state_machine_arn,
            description="Incident response state machine",
        )
        CfnOutput(
            self,
            "IncidentTableName",
            value=self.storage.table.table_name,
            description="DynamoDB table of incidents",
        )
        CfnOutput(
            self,
            "ArtifactBucketName",
            value=self.storage.artifact_bucket.bucket_name,
            description="S3 bucket of diagnostics evidence and postmortems",
        )
        CfnOutput(
            self,
            "ResponseConfigUri",
            value=self.oncall.config_object.uri,
            description="The compiled response declaration (contacts, rotations, plans)",
        )
        CfnOutput(
            self,
            "OnCallTableName",
            value=self.oncall.overrides_table.table_name,
            description="DynamoDB table of rotation overrides (runbook oncall override)",
        )
        descriptions = {
            "CriticalTopicArn": "SNS topic that pages on-call for critical incidents",
            "HighTopicArn": "SNS topic that pages on-call for high incidents",
            "NotificationTopicArn": "SNS topic of team notifications (standard incidents)",
            "EscalationTopicArn": "SNS topic of escalations (nobody resolved it in time)",
        }
        for key, name in TOPIC_SUBSTITUTIONS.items():
            CfnOutput(
                self,
                key,
                value=self.notifications.topics[name].topic_arn,
                description=descriptions[key],
            )
        # The architecture's contract name for "the topic that pages on-call" (scripts and
        # subscriptions written against the first version use it): the critical topic.
        CfnOutput(
            self,
            "PagingTopicArn",
            value=self.notifications.topics["critical"].topic_arn,
            description="SNS topic that pages on-call (the critical topic, as CriticalTopicArn)",
        )
        self._drill_outputs()
        if self.callback_api is not None:
            CfnOutput(
                self,
                "SlackActionsUrl",
                value=self.callback_api.url,
                description="Slack app Interactivity Request URL (Acknowledge/Resolve buttons)",
            )

    def _drill_outputs(self) -> None:
        """What `runbook drill` reads (docs/drills.md)."""
        drills = self.drills
        CfnOutput(
            self,
            "DrillTopicArn",
            value=drills.topic.topic_arn,
            description="SNS topic a drill pages when drill.target is topic",
        )
        CfnOutput(
            self,
            "DrillTarget",
            value=self.settings.drill.target,
            description="What a drill pages: topic (DrillTopicArn) or rotation (as an incident)",
        )
        if drills.dead_man_topic is not None:
            CfnOutput(
                self,
                "DeadMansSwitchTopicArn",
                value=drills.dead_man_topic.topic_arn,
                description="SNS topic of the dead-man's switch (no drill completed in time)",
            )
            CfnOutput(
                self,
                "DeadMansSwitchAlarmName",
                value=dead_mans_alarm_name(self.stack_name),
                description="The alarm that fires when no drill completed within the window",
            )
