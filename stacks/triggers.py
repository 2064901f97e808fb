"""EventBridge rules on the default bus: alarm ALARM opens an incident, alarm OK resumes it."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks import nag

ALARM_DETAIL_TYPE = "CloudWatch Alarm State Change"


def alarm_state_pattern(state: str) -> events.EventPattern:
    return events.EventPattern(
        source=["aws.cloudwatch"],
        detail_type=[ALARM_DETAIL_TYPE],
        detail={"state": {"value": [state]}},
    )


class Triggers(Construct):
    """Two rules, each delivering to its Lambda with retries and its own dead-letter queue
    (SSE-SQS, SSL only), so an event that cannot be delivered is kept for 14 days."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        ingest: lambda_.IFunction,
        recovery: lambda_.IFunction,
        max_event_age_hours: int = 2,
        retry_attempts: int = 8,
    ) -> None:
        super().__init__(scope, construct_id)
        self.alarm_rule, self.alarm_dead_letter_queue = self._rule(
            "AlarmRule",
            description="CloudWatch alarm entered ALARM: open an incident (Incident Runbook).",
            pattern=alarm_state_pattern("ALARM"),
            function=ingest,
            max_event_age=Duration.hours(max_event_age_hours),
            retry_attempts=retry_attempts,
        )
        self.recovery_rule, self.recovery_dead_letter_queue = self._rule(
            "RecoveryRule",
            description="CloudWatch alarm returned to OK: resume the incident (Incident Runbook).",
            pattern=alarm_state_pattern("OK"),
            function=recovery,
            max_event_age=Duration.hours(max_event_age_hours),
            retry_attempts=retry_attempts,
        )

    def _rule(
        self,
        construct_id: str,
        *,
        description: str,
        pattern: events.EventPattern,
        function: lambda_.IFunction,
        max_event_age: Duration,
        retry_attempts: int,
    ) -> tuple[events.Rule, sqs.Queue]:
        dead_letter_queue = sqs.Queue(
            self,
            f"{construct_id}DeadLetterQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        nag.acknowledge(
            dead_letter_queue,
            "AwsSolutions-SQS3",
            "This queue is itself the dead-letter queue of an EventBridge rule target; a "
            "dead-letter queue for the dead-letter queue would only move the problem.",
        )
        rule = events.Rule(
            self,
            construct_id,
            description=description,
            event_pattern=pattern,
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
