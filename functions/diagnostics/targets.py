"""What the incident's resources name, grouped by the source that looks at them.

Resources arrive typed from alarm dimensions (docs/contracts.md) or as raw ARNs from other
events (`AWS::ARN`); both end up here as plain identifiers each source understands.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from incidents.model import Incident

LAMBDA = "AWS::Lambda::Function"
ECS_SERVICE = "AWS::ECS::Service"
ECS_CLUSTER = "AWS::ECS::Cluster"
RDS_INSTANCE = "AWS::RDS::DBInstance"
EC2_INSTANCE = "AWS::EC2::Instance"
TARGET_GROUP = "AWS::ElasticLoadBalancingV2::TargetGroup"
LOAD_BALANCER = "AWS::ElasticLoadBalancingV2::LoadBalancer"
REST_API = "AWS::ApiGateway::RestApi"
DEPLOYMENT = "AWS::CodeDeploy::Deployment"
DEPLOYMENT_GROUP = "AWS::CodeDeploy::DeploymentGroup"
ARN = "AWS::ARN"

# AWS Health service codes of the resource types above.
HEALTH_SERVICES = {
    LAMBDA: "LAMBDA",
    ECS_SERVICE: "ECS",
    ECS_CLUSTER: "ECS",
    RDS_INSTANCE: "RDS",
    EC2_INSTANCE: "EC2",
    TARGET_GROUP: "ELASTICLOADBALANCING",
    LOAD_BALANCER: "ELASTICLOADBALANCING",
    REST_API: "APIGATEWAY",
    DEPLOYMENT: "CODEDEPLOY",
    DEPLOYMENT_GROUP: "CODEDEPLOY",
}


@dataclass
class Targets:
    """Identifiers per kind, deduplicated and sorted so plans are deterministic."""

    functions: list[str] = field(default_factory=list)
    ecs_services: list[tuple[str, str]] = field(default_factory=list)  # (cluster, service)
    db_instances: list[str] = field(default_factory=list)
    instances: list[str] = field(default_factory=list)
    target_groups: list[str] = field(default_factory=list)
    load_balancers: list[str] = field(default_factory=list)
    apis: list[str] = field(default_factory=list)
    deployments: list[str] = field(default_factory=list)
    deployment_groups: list[tuple[str, str]] = field(default_factory=list)  # (app, group)
    health_services: list[str] = field(default_factory=list)

    def empty(self) -> bool:
        return not any(
            (
                self.functions,
                self.ecs_services,
                self.db_instances,
                self.instances,
                self.target_groups,
                self.load_balancers,
                self.apis,
                self.deployments,
                self.deployment_groups,
            )
        )


def function_name(resource_id: str) -> str:
    """`orders-api` from a name or a function ARN (aliases/versions dropped)."""
    if resource_id.startswith("arn:"):
        return resource_id.split(":")[6]
    return resource_id.split(":")[0]


def _ecs_service(resource_id: str) -> tuple[str, str]:
    """`cluster/service`, a service ARN (new or old format) or a bare name (default cluster)."""
    text = resource_id.split(":service/", 1)[1] if ":service/" in resource_id else resource_id
    if "/" in text:
        cluster, service = text.rsplit("/", 1)
        return cluster, service
    return "default", text


def _deployment_group(resource_id: str) -> tuple[str, str]:
    text = resource_id.split("deploymentgroup:", 1)[-1]
    app, _, group = text.partition("/")
    return app, group


def _from_arn(arn: str) -> tuple[str, str] | None:
    """(CloudFormation type, identifier) for the ARNs diagnostics understand."""
    parts = arn.split(":", 5)
    if len(parts) < 6:
        return None
    service, resource = parts[2], parts[5]
    if service == "lambda" and resource.startswith("function:"):
        return LAMBDA, function_name(arn)
    if service == "ecs" and resource.startswith("service/"):
        return ECS_SERVICE, arn
    if service == "rds" and resource.startswith("db:"):
        return RDS_INSTANCE, resource[3:]
    if service == "ec2" and resource.startswith("instance/"):
        return EC2_INSTANCE, resource.split("/", 1)[1]
    if service == "elasticloadbalancing" and resource.startswith("targetgroup/"):
        return TARGET_GROUP, resource
    if service == "elasticloadbalancing" and resource.startswith("loadbalancer/"):
        return LOAD_BALANCER, resource.split("/", 1)[1]
    if service == "codedeploy" and resource.startswith("deploymentgroup:"):
        return DEPLOYMENT_GROUP, resource
    return None


def _add(values: list[Any], value: object) -> None:
    if value not in values:
        values.append(value)


def targets_for(incident: Incident) -> Targets:
    """Group the incident's resources by kind."""
    found = Targets()
    for resource in incident.resources:
        rtype, rid = resource.type, resource.id
        if rtype == ARN:
            parsed = _from_arn(rid)
            if parsed is None:
                continue
            rtype, rid = parsed
        if rtype == LAMBDA:
            _add(found.functions, function_name(rid))
        elif rtype == ECS_SERVICE:
            _add(found.ecs_services, _ecs_service(rid))
        elif rtype == RDS_INSTANCE:
            _add(found.db_instances, rid.split(":db:")[-1])
        elif rtype == EC2_INSTANCE:
            _add(found.instances, rid.rsplit("/", 1)[-1])
        elif rtype == TARGET_GROUP:
            _add(found.target_groups, rid)
        elif rtype == LOAD_BALANCER:
            _add(found.load_balancers, rid)
        elif rtype == REST_API:
            _add(found.apis, rid)
        elif rtype == DEPLOYMENT:
            _add(found.deployments, rid)
        elif rtype == DEPLOYMENT_GROUP:
            _add(found.deployment_groups, _deployment_group(rid))
        else:
            continue
        if rtype in HEALTH_SERVICES:
            _add(found.health_services, HEALTH_SERVICES[rtype])
    for name in (
        "functions",
        "ecs_services",
        "db_instances",
        "instances",
        "target_groups",
        "load_balancers",
    ):
        getattr(found, name).sort()
    found.health_services.sort()
    return found
