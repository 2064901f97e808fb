"""The keys correlation works on (docs/ingest.md, "Correlation").

- correlation key: the thing that fires again and again (an alarm ARN, an ECS service, a
  CodeDeploy deployment group, an AWS Health event); one incident per key at a time.
- fold keys: what related signals share (a resource, a child alarm); within the correlation
  window a new key folds into the open incident that holds one of them.
- service keys: the AWS Health service and region a resource belongs to; an open Health issue
  holds its key, and signals on that service and region fold into it as AWS-side.
Keys carry the account and region, so one table can serve a central operations account.
"""

from __future__ import annotations

from collections.abc import Iterable

from incidents.model import Resource

# Resource types that never fold: generic ARNs (task ARNs are unique per task) and
# deployment ids (unique per deployment).
_NOT_FOLDED = frozenset({"AWS::ARN", "AWS::CodeDeploy::Deployment"})

# AWS Health service codes of resource types (as diagnostics.targets names them).
HEALTH_SERVICES: dict[str, str] = {
    "AWS::Lambda::Function": "LAMBDA",
    "AWS::ECS::Service": "ECS",
    "AWS::ECS::Cluster": "ECS",
    "AWS::RDS::DBInstance": "RDS",
    "AWS::RDS::DBCluster": "RDS",
    "AWS::EC2::Instance": "EC2",
    "AWS::DynamoDB::Table": "DYNAMODB",
    "AWS::SQS::Queue": "SQS",
    "AWS::SNS::Topic": "SNS",
    "AWS::ApiGateway::RestApi": "APIGATEWAY",
    "AWS::StepFunctions::StateMachine": "STATES",
    "AWS::ElasticLoadBalancingV2::LoadBalancer": "ELASTICLOADBALANCING",
    "AWS::ElasticLoadBalancingV2::TargetGroup": "ELASTICLOADBALANCING",
    "AWS::CodeDeploy::DeploymentGroup": "CODEDEPLOY",
    "AWS::CodeDeploy::Deployment": "CODEDEPLOY",
}


def _scope(account: str | None, region: str | None) -> str:
    return f"{account or '-'}:{region or '-'}"


def alarm_key(alarm_arn: str) -> str:
    """An alarm ARN names its account and region already."""
    return f"alarm:{alarm_arn}"


def ecs_key(account: str | None, region: str | None, cluster: str, group: str) -> str:
    """`group` is `service:<name>` for a service's tasks, `family:<name>` for standalone ones."""
    return f"ecs:{_scope(account, region)}:{cluster}/{group}"


def deployment_group_key(account: str | None, region: str | None, app: str, group: str) -> str:
    return f"codedeploy:{_scope(account, region)}:{app}/{group}"


def health_key(account: str | None, event_arn: str) -> str:
    """A Health event ARN is not unique across accounts: the account is part of the key."""
    return f"health:{account or '-'}:{event_arn}"


def service_key(account: str | None, region: str | None, service: str) -> str:
    return f"service:{_scope(account, region)}:{service.upper()}"


def resource_key(account: str | None, region: str | None, resource: Resource) -> str:
    return f"resource:{_scope(account, region)}:{resource.type}:{resource.id}"


def _unique(keys: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(keys))


def fold_keys_for(
    resources: Iterable[Resource], account: str | None, region: str | None
) -> list[str]:
    """One fold key per typed resource."""
    return _unique(resource_key(account, region, r) for r in resources if r.type not in _NOT_FOLDED)


def service_keys_for(
    resources: Iterable[Resource], account: str | None, region: str | None
) -> list[str]:
    """The Health service keys of the resources' services in this account and region."""
    return _unique(
        service_key(account, region, HEALTH_SERVICES[r.type])
        for r in resources
        if r.type in HEALTH_SERVICES
    )
