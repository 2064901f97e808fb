"""What collect_diagnostics may read: exactly the read APIs its sources call, scoped to
resource ARNs wherever IAM supports it, and Resource "*" only for actions that have no
resource-level permissions.

Source of truth: the Service Authorization Reference, "Actions, resources, and condition keys
for <service>" (https://docs.aws.amazon.com/service-authorization/latest/reference/list_<page>.html,
pages amazoncloudwatch, amazoncloudwatchlogs, awsx-ray, amazonec2,
amazonelasticcontainerservice, awselasticloadbalancingv2, amazonrds, awsperformanceinsights,
awscodedeploy, awslambda, awshealthapisandnotifications, amazonapigatewaymanagement), checked
action by action in the Actions table's "Resource types" column (empty = "*" only). Where a
call names no resource the action's optional resource type does not apply and IAM authorizes
it against "*" (ECS ListTasks without a container instance), so such an action gets "*" with
the condition key the reference lists for it.

With `diagnosticsRoleName` set, the function may also assume that role in any account: the
member accounts' read-only role (docs/diagnostics.md shows its policy and trust).
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_

from stacks import nag

# No resource types in the reference: IAM requires Resource "*" for these (all read-only).
RESOURCE_STAR_READ_ACTIONS: tuple[str, ...] = (
    "cloudwatch:GetMetricData",  # Lambda, EC2, RDS and ELB metrics (diagnostics/metrics.py)
    "logs:StopQuery",  # cancels queries that outlive the step's time budget
    "xray:GetTraceSummaries",  # slow traces (xray.py)
    "xray:BatchGetTraces",
    "xray:GetServiceGraph",
    "ec2:DescribeInstanceStatus",  # status checks (ec2.py)
    "ec2:DescribeInstances",  # security groups and subnets of instances (network.py)
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeNetworkAcls",
    "ec2:DescribeSubnets",
    "ec2:DescribeRouteTables",  # the subnets' way to the internet (routes.py)
    "ec2:DescribeNatGateways",
    "ec2:DescribeVpcEndpoints",
    "ec2:DescribeFlowLogs",  # flow-log groups to query (log_groups.py)
    "ecs:DescribeTaskDefinition",  # container log groups (log_groups.py)
    "elasticloadbalancing:DescribeLoadBalancers",  # load balancer state (elb.py)
    "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTargetHealth",  # reason codes of unhealthy targets
    "codedeploy:ListDeploymentTargets",  # the failed deployment's targets (codedeploy.py)
    "codedeploy:BatchGetDeploymentTargets",
    "health:DescribeEvents",  # AWS Health events (health.py)
)
# Read-only APIs that accept resource ARNs: (actions, service, resource, name, ARN format).
SCOPED_READS: tuple[tuple[tuple[str, ...], str, str, str, ArnFormat], ...] = (
    # GetQueryResults lists log-group* as its resource type since 2023, like StartQuery;
    # DescribeLogGroups (which groups of a refused query exist, logs_insights.py) too.
    (
        ("logs:StartQuery", "logs:GetQueryResults", "logs:DescribeLogGroups"),
        "logs",
        "log-group",
        "*",
        ArnFormat.COLON_RESOURCE_NAME,
    ),
    (("ecs:DescribeServices",), "ecs", "service", "*", ArnFormat.SLASH_RESOURCE_NAME),
    (("ecs:DescribeTasks",), "ecs", "task", "*", ArnFormat.SLASH_RESOURCE_NAME),
    # DescribeDBInstances with a filter and no identifier is authorized against `db:*`.
    (("rds:DescribeDBInstances",), "rds", "db", "*", ArnFormat.COLON_RESOURCE_NAME),
    (
        ("pi:DescribeDimensionKeys", "pi:GetResourceMetrics"),
        "pi",
        "metrics",
        "rds/*",
        ArnFormat.SLASH_RESOURCE_NAME,
    ),
    (
        ("codedeploy:GetDeployment", "codedeploy:ListDeployments"),
        "codedeploy",
        "deploymentgroup",
        "*",
        ArnFormat.COLON_RESOURCE_NAME,
    ),
    (
        ("lambda:GetFunctionConfiguration",),
        "lambda",
        "function",
        "*",
        ArnFormat.COLON_RESOURCE_NAME,
    ),
)
_SCOPED_REASON = (
    "Diagnostics read the incident's {what}, known only at run time; read-only and limited to "
    "this account and region."
)


def grant_diagnostics(
    stack: Stack,
    function: lambda_.Function,
    role: iam.IRole,
    table: dynamodb.ITable,
    role_name: str,
) -> None:
    """Attach the diagnostics read policy (and the cross-account assume-role, if any)."""
    for actions, service, resource, name, arn_format in SCOPED_READS:
        arn = stack.format_arn(
            service=service, resource=resource, resource_name=name, arn_format=arn_format
        )
        function.add_to_role_policy(iam.PolicyStatement(actions=list(actions), resources=[arn]))
        nag.iam5(role, f"Resource::{stack.resolve(arn)}", _SCOPED_REASON.format(what=resource))

    # Health event details name the event by ARN; Health events are global ("*" region).
    events = stack.format_arn(
        service="health",
        region="*",
        account="",
        resource="event",
        resource_name="*",
        arn_format=ArnFormat.SLASH_RESOURCE_NAME,
    )
    function.add_to_role_policy(
        iam.PolicyStatement(
            actions=["health:DescribeEventDetails", "health:DescribeAffectedEntities"],
            resources=[events],
        )
    )
    nag.iam5(
        role,
        f"Resource::{stack.resolve(events)}",
        "AWS Health event ARNs have no account and a region per event; read-only details of "
        "the events DescribeEvents returned.",
    )
    # apigateway:GET on the REST APIs (to find their stages' access-log groups).
    apis = f"arn:{stack.partition}:apigateway:{stack.region}::/restapis"
    function.add_to_role_policy(
        iam.PolicyStatement(actions=["apigateway:GET"], resources=[apis, f"{apis}/*/stages"])
    )
    nag.iam5(
        role,
        f"Resource::{stack.resolve(apis)}/*/stages",
        "Reads the stages (access-log settings) of the incident's REST API, whose id is known "
        "only at run time; GET only, this region.",
    )
    # ListTasks' only resource type is container-instance*, which applies when the request
    # names one; the ECS source lists a service's stopped tasks by cluster, authorized against
    # "*". The reference's ecs:cluster condition key keeps it to this account's clusters here.
    clusters = stack.format_arn(
        service="ecs", resource="cluster", resource_name="*",
        arn_format=ArnFormat.SLASH_RESOURCE_NAME,
    )  # fmt: skip
    function.add_to_role_policy(
        iam.PolicyStatement(
            actions=["ecs:ListTasks"],
            resources=["*"],
            conditions={"ArnLike": {"ecs:cluster": clusters}},
        )
    )
    # Stored AWS Health events (the fallback without a support plan): one index, Query only.
    function.add_to_role_policy(
        iam.PolicyStatement(
            actions=["dynamodb:Query"], resources=[f"{table.table_arn}/index/by_status"]
        )
    )
    # The verdict is kept on the incident record (one item at a time: Get and Update only).
    function.add_to_role_policy(
        iam.PolicyStatement(
            actions=["dynamodb:GetItem", "dynamodb:UpdateItem"], resources=[table.table_arn]
        )
    )
    # No resource-level permissions exist for these read APIs (see the tuple's comments).
    function.add_to_role_policy(
        iam.PolicyStatement(actions=list(RESOURCE_STAR_READ_ACTIONS), resources=["*"])
    )
    nag.iam5(
        role,
        "Resource::*",
        "Read-only APIs without resource-level permissions (CloudWatch GetMetricData, Logs "
        "Insights StopQuery, X-Ray reads, EC2 Describe*, ECS DescribeTaskDefinition, ELB "
        "Describe*, CodeDeploy deployment targets, Health DescribeEvents), ECS ListTasks "
        "conditioned on this account's clusters, and X-Ray trace writes from active tracing.",
    )
    if role_name:
        member_roles = stack.format_arn(
            service="iam", region="", account="*", resource="role", resource_name=role_name
        )
        function.add_to_role_policy(
            iam.PolicyStatement(actions=["sts:AssumeRole"], resources=[member_roles])
        )
        nag.iam5(
            role,
            f"Resource::{stack.resolve(member_roles)}",
            "The read-only diagnostics role has the same name in every member account; the "
            "account is the incident's, known only at run time.",
        )
