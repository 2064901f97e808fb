"""CloudWatch "Alarm State Change" events, metric and composite alarms, as AWS documents them
(CloudWatch User Guide, "Alarm events and EventBridge").

Correlation key: the alarm ARN. A metric alarm folds on the resources its dimensions name and
on its own ARN; a composite alarm on the ARNs of the child alarms that triggered it.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

import msgspec
from msgspec import field

from incidents.correlation_keys import alarm_key, fold_keys_for, service_keys_for
from incidents.model import Resource
from incidents.signal import Signal
from incidents.sources.envelope import AwsEvent, invalid, parse_event
from shared.records import NONEMPTY
from shared.timeutil import parse_time

SOURCE = "aws.cloudwatch"
DETAIL_TYPE = "CloudWatch Alarm State Change"

# (namespace, dimension) -> CloudFormation type of the resource the metric is about.
DIMENSION_TYPES: dict[tuple[str, str], str] = {
    ("AWS/Lambda", "FunctionName"): "AWS::Lambda::Function",
    ("AWS/DynamoDB", "TableName"): "AWS::DynamoDB::Table",
    ("AWS/SQS", "QueueName"): "AWS::SQS::Queue",
    ("AWS/SNS", "TopicName"): "AWS::SNS::Topic",
    ("AWS/ApiGateway", "ApiName"): "AWS::ApiGateway::RestApi",
    ("AWS/RDS", "DBInstanceIdentifier"): "AWS::RDS::DBInstance",
    ("AWS/RDS", "DBClusterIdentifier"): "AWS::RDS::DBCluster",
    ("AWS/EC2", "InstanceId"): "AWS::EC2::Instance",
    ("AWS/ECS", "ServiceName"): "AWS::ECS::Service",
    ("AWS/ECS", "ClusterName"): "AWS::ECS::Cluster",
    ("ECS/ContainerInsights", "ServiceName"): "AWS::ECS::Service",
    ("ECS/ContainerInsights", "ClusterName"): "AWS::ECS::Cluster",
    ("AWS/States", "StateMachineArn"): "AWS::StepFunctions::StateMachine",
    ("AWS/ApplicationELB", "LoadBalancer"): "AWS::ElasticLoadBalancingV2::LoadBalancer",
    ("AWS/ApplicationELB", "TargetGroup"): "AWS::ElasticLoadBalancingV2::TargetGroup",
    ("AWS/NetworkELB", "LoadBalancer"): "AWS::ElasticLoadBalancingV2::LoadBalancer",
    ("AWS/NetworkELB", "TargetGroup"): "AWS::ElasticLoadBalancingV2::TargetGroup",
}
ECS_SERVICE = "AWS::ECS::Service"
ECS_CLUSTER = "AWS::ECS::Cluster"
# arn:<partition>:cloudwatch:<region>:<account>:alarm:<name> (names are at most 255 characters).
ALARM_ARN = re.compile(r"arn:[\w-]+:cloudwatch:[\w-]+:\d{12}:alarm:[^\n]{1,255}")


class Metric(msgspec.Struct, kw_only=True):
    namespace: str = ""
    name: str = ""
    dimensions: dict[str, str] = field(default_factory=dict)


class MetricStat(msgspec.Struct, kw_only=True):
    metric: Metric


class MetricQuery(msgspec.Struct, kw_only=True):
    """A metric of the alarm: a `metricStat`, or (metric math) an `expression`."""

    id: str = ""
    metricStat: MetricStat | None = None
    expression: str | None = None


class Configuration(msgspec.Struct, kw_only=True):
    description: str = ""
    metrics: list[MetricQuery] = field(default_factory=list)
    # Composite alarms carry a rule over other alarms instead of metrics.
    alarmRule: str | None = None


class State(msgspec.Struct, kw_only=True):
    value: Annotated[str, NONEMPTY]
    reason: str = ""
    reasonData: str | None = None
    timestamp: Annotated[str, NONEMPTY]
    actionsSuppressedBy: str | None = None


class AlarmDetail(msgspec.Struct, kw_only=True):
    alarmName: Annotated[str, NONEMPTY]
    state: State
    previousState: State | None = None
    configuration: Configuration = field(default_factory=Configuration)


class AlarmEvent(AwsEvent):
    detail: AlarmDetail


def metric_resources(namespace: str, dimensions: dict[str, str]) -> list[Resource]:
    """Resources named by one metric's dimensions. An ECS service is only unique within its
    cluster, so ClusterName + ServiceName make one `cluster/service` resource."""
    found = []
    for dimension, value in dimensions.items():
        rtype = DIMENSION_TYPES.get((namespace, dimension))
        if rtype and value:
            found.append(Resource(type=rtype, id=value[:2048]))
    cluster = next((r.id for r in found if r.type == ECS_CLUSTER), None)
    if cluster and any(r.type == ECS_SERVICE for r in found):
        found = [
            Resource(type=ECS_SERVICE, id=f"{cluster}/{r.id}") if r.type == ECS_SERVICE else r
            for r in found
            if r.type != ECS_CLUSTER
        ]
    return found


def _from_metrics(config: Configuration) -> tuple[list[Resource], list[str], list[str]]:
    resources: list[Resource] = []
    namespaces: list[str] = []
    names: list[str] = []
    for query in config.metrics:
        if query.metricStat is None:
            continue
        metric = query.metricStat.metric
        if metric.namespace and metric.namespace not in namespaces:
            namespaces.append(metric.namespace)
        if metric.name and metric.name not in names:
            names.append(metric.name)
        for resource in metric_resources(metric.namespace, metric.dimensions):
            if resource not in resources:
                resources.append(resource)
    return resources, namespaces, names


def triggering_alarms(state: State) -> list[str]:
    """ARNs of the child alarms a composite alarm's `reasonData` names (none if unreadable)."""
    try:
        data: Any = json.loads(state.reasonData or "{}")
    except ValueError:
        return []
    children = data.get("triggeringAlarms") if isinstance(data, dict) else None
    if not isinstance(children, list):
        return []
    arns = [c.get("arn") for c in children if isinstance(c, dict)]
    return [a for a in arns if isinstance(a, str) and a.startswith("arn:")]


def parse(event: Any) -> Signal:
    """Parse an alarm state change (any state: ALARM opens, OK recovers)."""
    parsed = parse_event(event, AlarmEvent, "malformed CloudWatch alarm event")
    if parsed.source != SOURCE or parsed.detail_type != DETAIL_TYPE:
        raise invalid(
            "not a CloudWatch alarm event",
            f"source={parsed.source!r} detail-type={parsed.detail_type!r}",
        )
    detail = parsed.detail
    try:
        occurred_at = parse_time(detail.state.timestamp)
    except ValueError as exc:
        raise invalid("malformed CloudWatch alarm event", exc) from exc
    if not parsed.resources:
        raise invalid("malformed CloudWatch alarm event", "resources[0] (alarm ARN) missing")
    alarm_arn = parsed.resources[0]
    if not ALARM_ARN.fullmatch(alarm_arn):
        raise invalid("malformed CloudWatch alarm event", f"not an alarm ARN: {alarm_arn[:200]!r}")
    resources, namespaces, names = _from_metrics(detail.configuration)
    account, region = parsed.account or None, parsed.region or None
    composite = detail.configuration.alarmRule is not None
    related = triggering_alarms(detail.state) if composite else []
    description = "\n".join(
        part for part in (detail.configuration.description, detail.state.reason) if part
    )
    return Signal(
        kind="alarm",
        title=f"{detail.alarmName} is in {detail.state.value}"[:256],
        description=description[:4096],
        source=SOURCE,
        category="composite" if composite else "metric",
        occurred_at=occurred_at,
        # The alarm and the moment it changed state identify the transition, whichever
        # copy of the event (redelivery, cross-account bus) carries it.
        signal_key=f"{alarm_arn}|{detail.state.value}|{detail.state.timestamp}",
        alarm_name=detail.alarmName,
        alarm_arn=alarm_arn,
        state_value=detail.state.value,
        state_reason=detail.state.reason,
        namespaces=namespaces,
        metric_names=names,
        resources=resources,
        account=account,
        region=region,
        correlation_key=alarm_key(alarm_arn),
        fold_keys=fold_keys_for(resources, account, region) + [alarm_key(a) for a in related],
        service_keys=service_keys_for(resources, account, region),
    )
