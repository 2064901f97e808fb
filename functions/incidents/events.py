"""Parse the signals that open (or resolve) an incident into one normalised `Signal`.

Shapes (docs/contracts.md, "Execution input"): the ingest wrapper `{incident_id, event}`, an
operator's `{title, severity?, resources?, description?}`, or a raw EventBridge event. CloudWatch
Alarm State Change events are parsed exactly as AWS documents them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from incidents.ids import incident_id as make_incident_id
from incidents.model import Incident, Resource, Severity, TimelineEntry
from shared.errors import InvalidIncidentInput, validation_summary
from shared.timeutil import iso, parse_time

ALARM_DETAIL_TYPE = "CloudWatch Alarm State Change"
# The severity rule of an incident that classify has not seen yet.
PENDING_RULE = "pending classification"

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
# Not a CloudFormation type: a CodeDeploy deployment id (d-XXXXXXXXX) from a CodeDeploy event.
CODEDEPLOY_DEPLOYMENT = "AWS::CodeDeploy::Deployment"


def _metric_resources(namespace: str, dimensions: dict[str, str]) -> list[Resource]:
    """Resources named by one metric's dimensions. An ECS service is only unique within its
    cluster, so ClusterName + ServiceName make one `cluster/service` resource."""
    found = []
    for dimension, value in dimensions.items():
        rtype = DIMENSION_TYPES.get((namespace, dimension))
        if rtype and value:
            found.append(Resource(type=rtype, id=value))
    cluster = next((r.id for r in found if r.type == ECS_CLUSTER), None)
    if cluster and any(r.type == ECS_SERVICE for r in found):
        found = [
            Resource(type=ECS_SERVICE, id=f"{cluster}/{r.id}") if r.type == ECS_SERVICE else r
            for r in found
            if r.type != ECS_CLUSTER
        ]
    return found


def _event_resources(envelope: _EventBridgeEvent) -> list[Resource]:
    """The event's ARNs, plus what its detail names that no ARN does: a CodeDeploy
    deployment id, or the ECS service (`group: service:NAME`) a task belongs to."""
    resources = [Resource(type="AWS::ARN", id=arn) for arn in envelope.resources]
    detail = envelope.detail
    deployment = detail.get("deploymentId")
    if isinstance(deployment, str) and deployment:
        resources.append(Resource(type=CODEDEPLOY_DEPLOYMENT, id=deployment))
    group, cluster = detail.get("group"), detail.get("clusterArn")
    if isinstance(group, str) and group.startswith("service:") and isinstance(cluster, str):
        name = cluster.rsplit("/", 1)[-1]
        resources.append(Resource(type=ECS_SERVICE, id=f"{name}/{group[len('service:') :]}"))
    return resources


class _Metric(BaseModel):
    namespace: str = ""
    name: str = ""
    dimensions: dict[str, str] = Field(default_factory=dict)


class _MetricStat(BaseModel):
    metric: _Metric


class _MetricQuery(BaseModel):
    # Metric-math alarms carry `expression` instead of `metricStat`.
    metricStat: _MetricStat | None = None


class _Configuration(BaseModel):
    description: str = ""
    metrics: list[_MetricQuery] = Field(default_factory=list)


class _State(BaseModel):
    value: str
    reason: str = ""
    timestamp: str


class _AlarmDetail(BaseModel):
    alarmName: str = Field(min_length=1)
    state: _State
    previousState: _State | None = None
    configuration: _Configuration = Field(default_factory=_Configuration)


class _EventBridgeEvent(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: str = ""
    detail_type: str = Field(alias="detail-type", min_length=1)
    source: str = Field(min_length=1)
    account: str = ""
    time: str = ""
    region: str = ""
    resources: list[str] = Field(default_factory=list)
    detail: dict[str, Any] = Field(default_factory=dict)


class OperatorInput(BaseModel):
    """What an operator types in the console or the CLI to open an incident."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=256)
    severity: Severity | None = None
    resources: list[Resource] = Field(default_factory=list)
    description: str = Field(default="", max_length=4096)


class Signal(BaseModel):
    """What every input shape boils down to: enough to open and classify an incident."""

    kind: str  # "alarm" | "operator" | "event"
    title: str
    description: str = ""
    source: str
    occurred_at: datetime
    signal_key: str
    alarm_name: str | None = None
    alarm_arn: str | None = None
    state_value: str | None = None
    state_reason: str = ""
    namespaces: list[str] = Field(default_factory=list)
    metric_names: list[str] = Field(default_factory=list)
    resources: list[Resource] = Field(default_factory=list)
    account: str | None = None
    region: str | None = None
    requested_severity: Severity | None = None

    def incident_id(self) -> str:
        """The deterministic id of the incident this signal opens."""
        return make_incident_id(self.occurred_at, self.signal_key)

    def to_incident(self, incident_id: str) -> Incident:
        """A new OPEN incident for this signal (severity is decided later, by classify)."""
        return Incident(
            incident_id=incident_id,
            title=self.title,
            description=self.description,
            severity=self.requested_severity or "standard",
            severity_rule=PENDING_RULE,
            source=self.source,
            alarm_name=self.alarm_name,
            alarm_arn=self.alarm_arn,
            resources=self.resources,
            account=self.account,
            region=self.region,
            opened_at=iso(self.occurred_at),
            timeline=[TimelineEntry(at=iso(self.occurred_at), event="opened", detail=self.source)],
        )


def _invalid(what: str, error: Exception | str) -> InvalidIncidentInput:
    if isinstance(error, ValidationError):
        error = validation_summary(error)
    return InvalidIncidentInput(f"{what}: {error}")


def _resources_from_metrics(config: _Configuration) -> tuple[list[Resource], list[str], list[str]]:
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
        for resource in _metric_resources(metric.namespace, metric.dimensions):
            if resource not in resources:
                resources.append(resource)
    return resources, namespaces, names


def parse_alarm_event(event: Any) -> Signal:
    """Parse a CloudWatch Alarm State Change event (any state: ALARM opens, OK recovers)."""
    try:
        envelope = _EventBridgeEvent.model_validate(event)
    except ValidationError as exc:
        raise _invalid("not an EventBridge event", exc) from exc
    if envelope.source != "aws.cloudwatch" or envelope.detail_type != ALARM_DETAIL_TYPE:
        raise _invalid(
            "not a CloudWatch alarm event",
            f"source={envelope.source!r} detail-type={envelope.detail_type!r}",
        )
    try:
        detail = _AlarmDetail.model_validate(envelope.detail)
        occurred_at = parse_time(detail.state.timestamp)
    except (ValidationError, ValueError) as exc:
        raise _invalid("malformed CloudWatch alarm event", exc) from exc
    if not envelope.resources:
        raise _invalid("malformed CloudWatch alarm event", "resources[0] (alarm ARN) missing")
    alarm_arn = envelope.resources[0]
    resources, namespaces, names = _resources_from_metrics(detail.configuration)
    description = "\n".join(
        part for part in (detail.configuration.description, detail.state.reason) if part
    )
    return Signal(
        kind="alarm",
        title=f"{detail.alarmName} is in {detail.state.value}",
        description=description,
        source=envelope.source,
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
        account=envelope.account or None,
        region=envelope.region or None,
    )


def parse_eventbridge_event(event: Any) -> Signal:
    """Any EventBridge event: alarms in detail, other sources (Health, ECS...) generically."""
    if isinstance(event, dict) and event.get("detail-type") == ALARM_DETAIL_TYPE:
        return parse_alarm_event(event)
    try:
        envelope = _EventBridgeEvent.model_validate(event)
        occurred_at = parse_time(envelope.time)
    except (ValidationError, ValueError) as exc:
        raise _invalid("malformed EventBridge event", exc) from exc
    return Signal(
        kind="event",
        title=f"{envelope.detail_type} ({envelope.source})",
        description=str(envelope.detail.get("eventDescription", ""))[:4096],
        source=envelope.source,
        occurred_at=occurred_at,
        signal_key=envelope.id or f"{envelope.source}|{envelope.time}|{envelope.resources}",
        resources=_event_resources(envelope),
        account=envelope.account or None,
        region=envelope.region or None,
    )


def parse_operator_input(data: Any, started_at: datetime, key: str) -> Signal:
    """An operator's request; `key` (the execution name) makes it unique."""
    try:
        operator = OperatorInput.model_validate(data)
    except ValidationError as exc:
        raise _invalid("invalid operator input", exc) from exc
    return Signal(
        kind="operator",
        title=operator.title,
        description=operator.description,
        source="operator",
        occurred_at=started_at,
        signal_key=f"operator|{key}",
        resources=operator.resources,
        requested_severity=operator.severity,
    )


def parse_ingest_input(data: Any) -> tuple[str, dict[str, Any]]:
    """The ingest wrapper `{incident_id, event}` that ingest starts executions with."""
    if not isinstance(data, dict) or set(data) != {"incident_id", "event"}:
        raise _invalid("invalid ingest input", "expected exactly {incident_id, event}")
    if not isinstance(data["incident_id"], str) or not isinstance(data["event"], dict):
        raise _invalid("invalid ingest input", "incident_id must be a string, event an object")
    return data["incident_id"], data["event"]


def parse_execution_input(
    data: Any, started_at: datetime, execution_name: str
) -> tuple[str | None, Signal]:
    """Recognise the three execution input shapes; returns (given incident id, signal)."""
    if not isinstance(data, dict):
        raise _invalid("invalid execution input", "expected a JSON object")
    if "incident_id" in data and "event" in data:
        given_id, event = parse_ingest_input(data)
        return given_id, parse_eventbridge_event(event)
    if "detail-type" in data:
        return None, parse_eventbridge_event(data)
    if "title" in data:
        return None, parse_operator_input(data, started_at, execution_name)
    raise _invalid(
        "invalid execution input",
        "expected {incident_id, event}, {title, ...} or an EventBridge event",
    )
