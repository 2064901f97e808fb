"""ECS task state changes kept where the diagnostics can query them (docs/diagnostics.md).

ECS forgets a stopped task about an hour after it stops, and its events are not stored
anywhere by default. An EventBridge rule on the default bus delivers every "ECS Task State
Change" event whose task has stopped (any stop code, normal stops too: a scale-in next to
failures is part of the picture) to a log group the stack owns; collect_diagnostics runs the
stop-reasons query over it, narrowed to the incident's services
(functions/diagnostics/queries.py `ecs_stopped_reasons`), and finds it through the
ECS_EVENTS_LOG_GROUP environment variable.

Everything here is a plain CloudFormation resource: the rule's target is the log group itself,
and EventBridge is allowed to write to it by an AWS::Logs::ResourcePolicy. (CDK's
`aws_events_targets.CloudWatchLogGroup` would put that policy through a Lambda-backed custom
resource instead, which the local emulator cannot run and which adds a Node.js function and
its role to the stack.)
"""

from __future__ import annotations

import jsii
from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from aws_cdk.interfaces.aws_events import IRuleRef
from constructs import Construct

from stacks.triggers import ECS_TASK_DETAIL_TYPE, dead_letter_queue

# Under /aws/events/ (where the EventBridge console looks for its log groups), per stack.
LOG_GROUP_NAME = "/aws/events/{stack_name}/ecs-tasks-stopped"


def ecs_events_log_group_name(stack_name: str) -> str:
    return LOG_GROUP_NAME.format(stack_name=stack_name)


def ecs_task_stopped_any_pattern() -> events.EventPattern:
    """Every task that reached STOPPED, whatever the stop code."""
    return events.EventPattern(
        source=["aws.ecs"],
        detail_type=[ECS_TASK_DETAIL_TYPE],
        detail={"lastStatus": ["STOPPED"]},
    )


@jsii.implements(events.IRuleTarget)
class _LogGroupTarget:
    """The log group as a rule target, without CDK's custom resource for its policy (the
    construct below writes that policy itself)."""

    def __init__(
        self,
        arn: str,
        *,
        dead_letter_queue: sqs.IQueue,
        max_event_age: Duration,
        retry_attempts: int,
    ) -> None:
        self._arn = arn
        self._dead_letter_queue = dead_letter_queue
        self._max_event_age = max_event_age
        self._retry_attempts = retry_attempts

    def bind(
        self,
        rule: IRuleRef,
        id: str | None = None,  # the interface's parameter names
    ) -> events.RuleTargetConfig:
        del rule, id  # the same target whatever rule it is bound to
        return events.RuleTargetConfig(
            arn=self._arn,
            dead_letter_config=events.CfnRule.DeadLetterConfigProperty(
                arn=self._dead_letter_queue.queue_arn
            ),
            retry_policy=events.CfnRule.RetryPolicyProperty(
                maximum_event_age_in_seconds=self._max_event_age.to_seconds(),
                maximum_retry_attempts=self._retry_attempts,
            ),
        )


class EcsTaskEvents(Construct):
    """The log group of stopped-task events, the rule that fills it, the resource policy that
    lets EventBridge write to it (and nowhere else), and the rule's dead-letter queue."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
        max_event_age_hours: int = 2,
        retry_attempts: int = 8,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        # Encrypted at rest by CloudWatch Logs, like every log group of the stack
        # (docs/security.md: no customer-managed key for logs).
        self.log_group = logs.LogGroup(
            self,
            "LogGroup",
            log_group_name=ecs_events_log_group_name(stack.stack_name),
            retention=retention,
            removal_policy=removal_policy,
        )
        # EventBridge wants the group's ARN without the ":*" that Fn::GetAtt Arn ends with.
        target_arn = stack.format_arn(
            service="logs",
            resource="log-group",
            resource_name=self.log_group.log_group_name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self.dead_letter_queue = dead_letter_queue(self, "DeadLetterQueue")
        self.rule = events.Rule(
            self,
            "Rule",
            description=(
                "Every ECS task that stopped, kept for the diagnostics' stop-reason query "
                "(Incident Runbook)"
            ),
            event_pattern=ecs_task_stopped_any_pattern(),
            targets=[
                _LogGroupTarget(
                    target_arn,
                    dead_letter_queue=self.dead_letter_queue,
                    max_event_age=Duration.hours(max_event_age_hours),
                    retry_attempts=retry_attempts,
                )
            ],
        )
        # What CDK's own targets add for a dead-letter queue: this rule may send to it.
        self.dead_letter_queue.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowEcsTaskEventsRule",
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["sqs:SendMessage"],
                resources=[self.dead_letter_queue.queue_arn],
                conditions={"ArnEquals": {"aws:SourceArn": self.rule.rule_arn}},
            )
        )
        # CloudWatch Logs authorises EventBridge through a resource policy (an account has at
        # most 10 per region): EventBridge may create streams and put events in this group
        # only (the group's ARN ends in ":*", which covers its streams).
        self.delivery_policy = logs.ResourcePolicy(
            self,
            "DeliveryPolicy",
            resource_policy_name=f"{stack.stack_name}-EcsTaskEventsDelivery",
            policy_statements=[
                iam.PolicyStatement(
                    sid="EventBridgeWritesEcsTaskEvents",
                    principals=[iam.ServicePrincipal("events.amazonaws.com")],
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[self.log_group.log_group_arn],
                )
            ],
        )
        # Delivery starts once the policy is in place (the policy does not name the rule, so
        # this makes no cycle).
        self.rule.node.add_dependency(self.delivery_policy)
