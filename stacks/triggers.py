"""EventBridge rules on the default bus (docs/ingest.md, "Triggers").

To ingest: a CloudWatch alarm (metric or composite) entering ALARM; AWS Health issues and
scheduled changes; ECS tasks that stopped abnormally; failed CodeDeploy deployments. To recovery:
an alarm returning to OK (it resumes the waiting workflow; ingest does not need OK, since the
reopen window is measured from the resolution recovery records). Each rule delivers with retries
and has its own dead-letter queue, so an event that cannot be delivered is kept for 14 days; and
an event the function received but failed on after Lambda's two async retries (a dependency down
for longer) goes to the function's own failure queue instead of being discarded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks import nag
from stacks.drills import DRILL_DETAIL_TYPE, DRILL_SOURCE

ALARM_DETAIL_TYPE = "CloudWatch Alarm State Change"
HEALTH_DETAIL_TYPE = "AWS Health Event"
ECS_TASK_DETAIL_TYPE = "ECS Task State Change"
CODEDEPLOY_DETAIL_TYPE = "CodeDeploy Deployment State-change Notification"
# The ECS service scheduler's reason when it stops a task to scale in or replace it.
ECS_SCALING_REASON = "Scaling activity initiated by"


def alarm_state_pattern(state: str) -> events.EventPattern:
    """An alarm entering `state`. Nothing else is required of the event, so a malformed one
    still reaches ingest and becomes an error record; the alarms that are not the runbook's
    to handle (the drills' dead-man's switch) are set aside by ingest, which says so."""
    return events.EventPattern(
        source=["aws.cloudwatch"],
        detail_type=[ALARM_DETAIL_TYPE],
        detail={"state": {"value": [state]}},
    )


def drill_pattern() -> events.EventPattern:
    """A drill (`runbook drill`, the drill schedule): ingested like a real signal."""
    return events.EventPattern(source=[DRILL_SOURCE], detail_type=[DRILL_DETAIL_TYPE])


def health_pattern() -> events.EventPattern:
    """Issues and scheduled changes for the account's services (not account notifications)."""
    return events.EventPattern(
        source=["aws.health"],
        detail_type=[HEALTH_DETAIL_TYPE],
        detail={"eventTypeCategory": ["issue", "scheduledChange"]},
    )


def ecs_task_stopped_pattern() -> events.EventPattern:
    """STOPPED tasks, except normal stops: any stop code but the scheduler's, a user's or an
    essential container's exit; an essential container exiting non-zero; the scheduler
    stopping a task for anything but scaling (failed health checks, for instance)."""
    detail: dict[str, Any] = {
        "lastStatus": ["STOPPED"],
        "$or": [
            {
                "stopCode": [
                    {"anything-but": ["ServiceSchedulerInitiated", "UserInitiated",
                                      "EssentialContainerExited"]}
                ]
            },
            {
                "stopCode": ["EssentialContainerExited"],
                "containers": {"exitCode": [{"anything-but": [0]}]},
            },
            {
                "stopCode": ["ServiceSchedulerInitiated"],
                "stoppedReason": [{"anything-but": {"prefix": ECS_SCALING_REASON}}],
            },
        ],
    }  # fmt: skip
    return events.EventPattern(
        source=["aws.ecs"], detail_type=[ECS_TASK_DETAIL_TYPE], detail=detail
    )


def codedeploy_failure_pattern() -> events.EventPattern:
    return events.EventPattern(
        source=["aws.codedeploy"],
        detail_type=[CODEDEPLOY_DETAIL_TYPE],
        detail={"state": ["FAILURE"]},
    )


def dead_letter_queue(scope: Construct, construct_id: str) -> sqs.Queue:
    """A rule target's (or a function's failed invocations') dead-letter queue: SSE-SQS, SSL
    only, events kept for 14 days."""
    queue = sqs.Queue(
        scope,
        construct_id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=Duration.days(14),
    )
    nag.acknowledge(
        queue,
        "AwsSolutions-SQS3",
        "This queue is itself a dead-letter queue (of an EventBridge rule target or of a "
        "function's failed async invocations); a dead-letter queue for it would only move "
        "the problem.",
    )
    return queue


@dataclass(frozen=True)
class RuleSpec:
    construct_id: str
    description: str
    pattern: events.EventPattern
    step: str  # "ingest" | "recovery"


def rule_specs() -> tuple[RuleSpec, ...]:
    return (
        RuleSpec(
            "AlarmRule",
            "CloudWatch alarm (metric or composite) entered ALARM: open or join an incident.",
            alarm_state_pattern("ALARM"),
            "ingest",
        ),
        RuleSpec(
            "RecoveryRule",
            "CloudWatch alarm returned to OK: resume the incident (Incident Runbook).",
            alarm_state_pattern("OK"),
            "recovery",
        ),
        RuleSpec(
            "HealthRule",
            "AWS Health issue or scheduled change: open or join an incident, store the event.",
            health_pattern(),
            "ingest",
        ),
        RuleSpec(
            "EcsTaskStoppedRule",
            "ECS task stopped abnormally: open or join the service's incident.",
            ecs_task_stopped_pattern(),
            "ingest",
        ),
        RuleSpec(
            "CodeDeployFailureRule",
            "CodeDeploy deployment failed: open or join the deployment group's incident.",
            codedeploy_failure_pattern(),
            "ingest",
        ),
        RuleSpec(
            "DrillRule",
            "Drill (runbook drill or the drill schedule): open a drill incident (docs/drills.md).",
            drill_pattern(),
            "ingest",
        ),
    )


class Triggers(Construct):
    """The rules, each delivering to its Lambda with retries and its own dead-letter queue
    (SSE-SQS, SSL only)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        ingest: lambda_.IFunction,
        recovery: lambda_.IFunction,
        recovery_watch: lambda_.IFunction,
        max_event_age_hours: int = 2,
        retry_attempts: int = 8,
    ) -> None:
        super().__init__(scope, construct_id)
        functions = {"ingest": ingest, "recovery": recovery}
        self.failure_queues = {
            step: self._failure_queue(step, function, Duration.hours(max_event_age_hours))
            for step, function in functions.items()
        }
        self.rules: dict[str, events.Rule] = {}
        self.dead_letter_queues: dict[str, sqs.Queue] = {}
        for spec in rule_specs():
            rule, queue = self._rule(
                spec,
                function=functions[spec.step],
                max_event_age=Duration.hours(max_event_age_hours),
                retry_attempts=retry_attempts,
            )
            self.rules[spec.construct_id] = rule
            self.dead_letter_queues[spec.construct_id] = queue
        self.alarm_rule = self.rules["AlarmRule"]
        self.alarm_dead_letter_queue = self.dead_letter_queues["AlarmRule"]
        self.recovery_rule = self.rules["RecoveryRule"]
        self.recovery_dead_letter_queue = self.dead_letter_queues["RecoveryRule"]
        self.watch_rule = self._watch(recovery_watch)

    def _watch(self, function: lambda_.IFunction) -> events.Rule:
        """Every minute: heartbeats for waiting incidents. A missed run is repaired by the next
        one, so events are not retried or kept (an old tick is worth nothing)."""
        function.configure_async_invoke(retry_attempts=0, max_event_age=Duration.minutes(1))
        return events.Rule(
            self,
            "RecoveryWatchSchedule",
            description="Every minute: task heartbeats and missed recoveries (Incident Runbook)",
            schedule=events.Schedule.rate(Duration.minutes(1)),
            targets=[
                targets.LambdaFunction(
                    function, max_event_age=Duration.minutes(1), retry_attempts=0
                )
            ],
        )

    def _queue(self, construct_id: str) -> sqs.Queue:
        return dead_letter_queue(self, construct_id)

    def _failure_queue(
        self, step: str, function: lambda_.IFunction, max_event_age: Duration
    ) -> sqs.Queue:
        """Events the function failed on after Lambda's async retries land here."""
        queue = self._queue(f"{step.capitalize()}FailedInvocationsQueue")
        function.configure_async_invoke(
            on_failure=destinations.SqsDestination(queue),
            retry_attempts=2,
            max_event_age=max_event_age,
        )
        return queue

    def _rule(
        self,
        spec: RuleSpec,
        *,
        function: lambda_.IFunction,
        max_event_age: Duration,
        retry_attempts: int,
    ) -> tuple[events.Rule, sqs.Queue]:
        dead_letter_queue = self._queue(f"{spec.construct_id}DeadLetterQueue")
        rule = events.Rule(
            self,
            spec.construct_id,
            description=f"{spec.description} (Incident Runbook)"[:512],
            event_pattern=spec.pattern,
            targets=[
                targets.LambdaFunction(
                    function,
                    dead_letter_queue=dead_letter_queue,
                    max_event_age=max_event_age,
                    retry_attempts=retry_attempts,
                )
            ],
        )
        return rule, dead_letter_queue
