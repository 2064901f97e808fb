"""Drills (docs/drills.md): the drill topic, the drill schedule and the dead-man's switch.

The schedule (EventBridge Scheduler, only when `drill.schedule` is set) puts a drill event on
the default bus, so a scheduled drill takes the entry path a real alarm takes (the ingest rule,
ingest, the workflow). Each drill that reaches its postmortem counts `DrillsCompleted`; the
switch is an alarm on that metric that treats missing data as breaching, so it fires when no
drill completed within the window, whatever broke (the schedule, the bus, ingest, the workflow,
the functions, metrics). It notifies its own topic, subscribed directly: not the runbook's
topics, and its state changes are kept out of the runbook's alarm rules by name, so a broken
runbook cannot swallow its own alarm.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sns as sns
from constructs import Construct

from stacks.notifications import subscription_for
from stacks.settings import DrillSettings, Subscription

# What the ingest rule for drills matches, and what functions/incidents/sources/drill.py reads.
DRILL_SOURCE = "incident-runbook.drill"
DRILL_DETAIL_TYPE = "Incident Drill"
# Powertools' metrics: namespace, and the `service` dimension it adds to every metric.
METRICS_NAMESPACE = "IncidentRunbook"
SERVICE_NAME = "incident-runbook"
COMPLETED_METRIC = "DrillsCompleted"


def drill_alarm_prefix(stack_name: str) -> str:
    """Alarms named so are the drills' own: the runbook's alarm rules ignore them."""
    return f"{stack_name}-drill-"


def dead_mans_alarm_name(stack_name: str) -> str:
    return f"{drill_alarm_prefix(stack_name)}dead-mans-switch"


class Drills(Construct):
    """The drill topic (always), and with a schedule: the schedule, its role, the switch's
    alarm and topic."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: DrillSettings,
        stack_name: str,
        encryption_key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        self.settings = settings
        self.topic = self._topic(
            "DrillTopic",
            "Incident Runbook - drill pages",
            encryption_key,
            settings.subscriptions,
        )
        self.schedule: scheduler.CfnSchedule | None = None
        self.alarm: cloudwatch.Alarm | None = None
        self.dead_man_topic: sns.Topic | None = None
        if settings.scheduled:
            self.schedule = self._schedule(stack_name)
            self.dead_man_topic = self._topic(
                "DeadMansSwitchTopic",
                "Incident Runbook - no drill completed (dead-man's switch)",
                encryption_key,
                settings.dead_man_subscriptions,
            )
            # CloudWatch publishes the alarm's notices to the encrypted topic itself.
            encryption_key.grant(
                iam.ServicePrincipal("cloudwatch.amazonaws.com"),
                "kms:Decrypt",
                "kms:GenerateDataKey*",
            )
            self.alarm = self._switch(stack_name, self.dead_man_topic)

    def _topic(
        self,
        construct_id: str,
        display_name: str,
        key: kms.IKey,
        subscribers: Sequence[Subscription],
    ) -> sns.Topic:
        topic = sns.Topic(
            self, construct_id, display_name=display_name, master_key=key, enforce_ssl=True
        )
        for subscriber in subscribers:
            topic.add_subscription(subscription_for(subscriber))
        return topic

    def _schedule(self, stack_name: str) -> scheduler.CfnSchedule:
        """PutEvents of one drill event on the default bus, through a role that may do only
        that."""
        stack = Stack.of(self)
        bus_arn = stack.format_arn(service="events", resource="event-bus", resource_name="default")
        role = iam.Role(
            self,
            "ScheduleRole",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            ),
            description="Incident Runbook drill schedule: put the drill event on the default bus",
        )
        role.add_to_policy(iam.PolicyStatement(actions=["events:PutEvents"], resources=[bus_arn]))
        detail = {
            "drill_id": "scheduled-<aws.scheduler.execution-id>",
            "target": self.settings.target,
            "requested_by": "the drill schedule",
        }
        return scheduler.CfnSchedule(
            self,
            "Schedule",
            name=f"{stack_name}-drill",
            description="Incident Runbook: a drill through the real entry path (docs/drills.md)",
            schedule_expression=self.settings.schedule,
            flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
            state="DISABLED" if self.settings.paused else "ENABLED",
            target=scheduler.CfnSchedule.TargetProperty(
                arn=bus_arn,
                role_arn=role.role_arn,
                input=json.dumps(detail),
                event_bridge_parameters=scheduler.CfnSchedule.EventBridgeParametersProperty(
                    detail_type=DRILL_DETAIL_TYPE, source=DRILL_SOURCE
                ),
                retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(
                    maximum_event_age_in_seconds=3600, maximum_retry_attempts=3
                ),
            ),
        )

    def _switch(self, stack_name: str, topic: sns.ITopic) -> cloudwatch.Alarm:
        """ALARM when every hourly period of the window lacks a completed drill (missing
        data breaches), OK again at the next completed drill."""
        hours = self.settings.dead_mans_window_hours
        metric = cloudwatch.Metric(
            namespace=METRICS_NAMESPACE,
            metric_name=COMPLETED_METRIC,
            dimensions_map={"service": SERVICE_NAME},
            statistic="Sum",
            period=Duration.hours(1),
        )
        alarm = cloudwatch.Alarm(
            self,
            "DeadMansSwitch",
            alarm_name=dead_mans_alarm_name(stack_name),
            alarm_description=(
                f"No Incident Runbook drill completed in {hours} h: the drill schedule, the "
                "event path, ingest, the workflow or its metrics are broken (docs/drills.md)."
            ),
            metric=metric,
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            evaluation_periods=hours,
            datapoints_to_alarm=hours,
            treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
            actions_enabled=not self.settings.paused,
        )
        action = cw_actions.SnsAction(topic)
        alarm.add_alarm_action(action)
        alarm.add_ok_action(action)
        return alarm
