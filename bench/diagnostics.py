"""Benchmark: CollectDiagnostics' concurrent, batched sources against the same sources run one
after another and item by item, with a fixed latency injected into every AWS call.

    .venv/bin/python bench/diagnostics.py [--latency-ms 50]

Everything runs in-process against moto. APIs moto lacks (Health, Performance Insights) or
whose semantics it lacks (Logs Insights queries, X-Ray filter expressions and traces,
CodeDeploy targets) answer from canned AWS-shaped responses in the same botocore hook that
sleeps and counts. The scenario touches every source: 6 Lambda functions, an ECS service with
40 stopped tasks, 3 EC2 instances behind an Application Load Balancer (its target group named
by the alarm's dimensions), an RDS instance behind a security group, subnets whose routes the
network source follows, a failed CodeDeploy deployment with 30 targets, 20 slow traces and 2
AWS Health events.

"Item by item" is the naive shape of the same code: one GetMetricData per function/instance,
one BatchGetTraces per trace, one DescribeTasks per task, one BatchGetDeploymentTargets per
target, one DescribeEventDetails per event, one Insights query per log group, one
DescribeTargetGroups/DescribeLoadBalancers per name, and every source after the previous one.
Goal: at least 5x faster and at least 3x fewer calls.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "functions"), str(ROOT)]
for name, value in {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "POWERTOOLS_TRACE_DISABLED": "1",
}.items():
    os.environ[name] = value
os.environ.pop("AWS_ENDPOINT_URL", None)

import boto3  # noqa: E402
from botocore.awsrequest import AWSResponse  # noqa: E402
from moto import mock_aws  # noqa: E402

from diagnostics import (  # noqa: E402
    codedeploy,
    ec2,
    ecs,
    elb,
    health,
    lambda_metrics,
    logs_insights,
    rds,
    xray,
)
from diagnostics.runner import DiagnosticsRunner, Window  # noqa: E402
from diagnostics.verdict import decide  # noqa: E402
from incidents.model import Incident, Resource  # noqa: E402
from shared import aws  # noqa: E402

REGION = "us-east-1"
ACCOUNT = "123456789012"
FUNCTIONS = [f"orders-{n}" for n in range(6)]
STOPPED_TASKS = 40
TRACES = 20
TARGETS = 30
GOAL_SPEEDUP = 5.0
GOAL_FEWER_CALLS = 3.0


# -- canned answers for what moto lacks ------------------------------------------------------
def _trace_id(n: int) -> str:
    return f"1-5759e988-bd862e3fe1be46a9942727{n:02d}"


def _canned(operation: str, params: dict[str, Any]) -> dict[str, Any] | None:
    now = datetime.now(UTC)
    token = params.get("NextToken") or params.get("nextToken")
    if operation == "DescribeEvents":
        return {
            "events": [
                {
                    "arn": f"arn:aws:health:{REGION}::event/EC2/AWS_EC2_OPERATIONAL_ISSUE/e{n}",
                    "service": "EC2",
                    "eventTypeCode": "AWS_EC2_OPERATIONAL_ISSUE",
                    "eventTypeCategory": "issue",
                    "region": REGION,
                    "statusCode": "open",
                    "startTime": now - timedelta(minutes=20),
                }
                for n in range(2)
            ]
        }
    if operation == "DescribeEventDetails":
        return {
            "successfulSet": [
                {
                    "event": {"arn": a},
                    "eventDescription": {"latestDescription": "Increased API error rates"},
                }
                for a in params["eventArns"]
            ],
            "failedSet": [],
        }
    if operation == "DescribeDimensionKeys":
        return {"Keys": [{"Dimensions": {"db.wait_event.name": "IO:DataFileRead"}, "Total": 2.0}]}
    if operation == "GetTraceSummaries":
        page = range(10, 20) if token else range(10)
        answer: dict[str, Any] = {
            "TraceSummaries": [
                {"Id": _trace_id(n), "Duration": 3.0 + n, "ResponseTime": 3.0 + n} for n in page
            ]
        }
        if not token:
            answer["NextToken"] = "page-two"
        return answer
    if operation == "BatchGetTraces":
        document = json.dumps({"name": "orders", "id": "a", "start_time": 0.0, "end_time": 4.0})
        return {
            "Traces": [
                {"Id": t, "Duration": 4.0, "Segments": [{"Id": "a", "Document": document}]}
                for t in params["TraceIds"]
            ]
        }
    if operation == "GetServiceGraph":
        return {
            "Services": [
                {
                    "Name": "orders",
                    "Type": "AWS::Lambda::Function",
                    "SummaryStatistics": {
                        "TotalCount": 10,
                        "TotalResponseTime": 9.0,
                        "FaultStatistics": {"TotalCount": 1},
                    },
                }
            ]
        }
    if operation == "GetDeployment":
        return {
            "deploymentInfo": {
                "deploymentId": params["deploymentId"],
                "status": "Failed",
                "computePlatform": "Server",
                "errorInformation": {"code": "HEALTH_CONSTRAINTS", "message": "too many"},
            }
        }
    if operation == "ListDeploymentTargets":
        page = int(token or 0)
        ids = [f"i-{n:04d}" for n in range(page * 10, page * 10 + 10)]
        return {"targetIds": ids, **({"nextToken": str(page + 1)} if page < 2 else {})}
    if operation == "BatchGetDeploymentTargets":
        return {
            "deploymentTargets": [
                {
                    "deploymentTargetType": "InstanceTarget",
                    "instanceTarget": {
                        "targetId": t,
                        "status": "Failed",
                        "lifecycleEvents": [
                            {
                                "lifecycleEventName": "ApplicationStart",
                                "status": "Failed",
                                "diagnostics": {
                                    "errorCode": "ScriptTimedOut",
                                    "message": "timed out",
                                },
                            }
                        ],
                    },
                }
                for t in params["targetIds"]
            ]
        }
    if operation == "StartQuery":
        return {"queryId": f"q-{time.monotonic_ns()}"}
    if operation == "GetQueryResults":
        return {
            "status": "Complete",
            "statistics": {},
            "results": [
                [
                    {"field": "@message", "value": "Task timed out after 3.00 seconds"},
                    {"field": "@requestId", "value": "8f5a6c1e-4d0b-4a7e-9a3c-2b1d0e6f7a89"},
                ]
            ],
        }
    if operation == "StopQuery":
        return {"success": True}
    return None


class Wire:
    """Every AWS call: count it, sleep the latency, answer canned where moto cannot."""

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.calls = 0
        self._lock = threading.Lock()

    @staticmethod
    def keep_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["bench_params"] = dict(params)

    def hook(self, model: Any, context: dict[str, Any], **_: Any) -> Any:
        with self._lock:
            self.calls += 1
        time.sleep(self.latency)
        canned = _canned(model.name, context.get("bench_params", {}))
        if canned is None:
            return None
        return AWSResponse("https://canned", 200, {}, None), canned

    @contextmanager
    def installed(self) -> Iterator[None]:
        real = aws.client
        seen: set[int] = set()

        def client(service: str, account: str | None = None, region: str | None = None) -> Any:
            made = real(service, account, region)
            if id(made) not in seen:
                seen.add(id(made))
                made.meta.events.register("before-parameter-build", self.keep_params)
                made.meta.events.register("before-call", self.hook)
            return made

        with mock.patch.object(aws, "client", client):
            yield


# -- the scenario (in moto) ------------------------------------------------------------------
def build_world() -> Incident:
    ec2_client = boto3.client("ec2", region_name=REGION)
    image = ec2_client.describe_images()["Images"][0]["ImageId"]
    vpc = ec2_client.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2_client.create_subnet(
            VpcId=vpc, CidrBlock=f"10.0.{n}.0/24", AvailabilityZone=f"{REGION}{az}"
        )["Subnet"]["SubnetId"]
        for n, az in ((1, "a"), (2, "b"))
    ]
    sg = ec2_client.create_security_group(GroupName="app", Description="a", VpcId=vpc)["GroupId"]
    instances = [
        i["InstanceId"]
        for i in ec2_client.run_instances(
            ImageId=image, MinCount=3, MaxCount=3, SubnetId=subnets[0], SecurityGroupIds=[sg]
        )["Instances"]
    ]
    elbv2 = boto3.client("elbv2", region_name=REGION)
    balancer = elbv2.create_load_balancer(Name="web", Subnets=subnets)["LoadBalancers"][0]
    group = elbv2.create_target_group(Name="web", Protocol="HTTP", Port=80, VpcId=vpc)
    group_arn = group["TargetGroups"][0]["TargetGroupArn"]
    elbv2.register_targets(TargetGroupArn=group_arn, Targets=[{"Id": i} for i in instances])
    elbv2.create_listener(
        LoadBalancerArn=balancer["LoadBalancerArn"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": group_arn}],
    )
    ec2_client.create_flow_logs(
        ResourceIds=[vpc],
        ResourceType="VPC",
        TrafficType="REJECT",
        LogGroupName="/vpc/flow",
        DeliverLogsPermissionArn=f"arn:aws:iam::{ACCOUNT}:role/f",
    )
    rds_client = boto3.client("rds", region_name=REGION)
    rds_client.create_db_subnet_group(
        DBSubnetGroupName="db", DBSubnetGroupDescription="db", SubnetIds=subnets
    )
    rds_client.create_db_instance(
        DBInstanceIdentifier="orders-db",
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        AllocatedStorage=20,
        MasterUsername="admin",
        MasterUserPassword="password123",
        VpcSecurityGroupIds=[sg],
        DBSubnetGroupName="db",
        Port=5432,
    )
    ecs_client = boto3.client("ecs", region_name=REGION)
    ecs_client.create_cluster(clusterName="prod")
    document = json.dumps({"instanceId": instances[0], "accountId": ACCOUNT})
    ecs_client.register_container_instance(cluster="prod", instanceIdentityDocument=document)
    ecs_client.register_task_definition(
        family="web",
        containerDefinitions=[
            {
                "name": "web",
                "image": "nginx",
                "memory": 16,
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {"awslogs-group": "/ecs/web"},
                },
            }
        ],
    )
    ecs_client.create_service(
        cluster="prod", serviceName="web", taskDefinition="web", desiredCount=0
    )
    for _ in range(STOPPED_TASKS // 10):
        for task in ecs_client.run_task(
            cluster="prod", taskDefinition="web", count=10, group="service:web"
        )["tasks"]:
            ecs_client.stop_task(
                cluster="prod", task=task["taskArn"], reason="Essential container in task exited"
            )
    resources = [Resource(type="AWS::Lambda::Function", id=f) for f in FUNCTIONS]
    resources += [Resource(type="AWS::EC2::Instance", id=i) for i in instances]
    resources += [
        # As an ALB alarm's dimensions name them.
        Resource(
            type="AWS::ElasticLoadBalancingV2::LoadBalancer",
            id=balancer["LoadBalancerArn"].split(":loadbalancer/")[1],
        ),
        Resource(type="AWS::ElasticLoadBalancingV2::TargetGroup", id=group_arn.rsplit(":", 1)[1]),
        Resource(type="AWS::ECS::Service", id="prod/web"),
        Resource(type="AWS::RDS::DBInstance", id="orders-db"),
        Resource(type="AWS::CodeDeploy::Deployment", id="d-ABCDEF123"),
    ]
    return Incident(
        incident_id="inc-bench",
        title="bench",
        opened_at=datetime.now(UTC).isoformat(),
        account=ACCOUNT,
        region=REGION,
        resources=resources,
    )


def clients_for(incident: Incident) -> Callable[..., Any]:
    def clients(service: str, region: str | None = None) -> Any:
        return aws.client(service, account=incident.account, region=region or incident.region)

    return clients


# -- the naive shape -------------------------------------------------------------------------
@contextmanager
def item_by_item() -> Iterator[None]:
    """Batch sizes of one, one metric request per resource, one query per log group."""
    real_collect = lambda_metrics.LambdaMetrics.collect
    real_fetch = ec2.metrics.fetch
    real_run_many = logs_insights.LogsInsights.run_many

    def collect_each(self: Any, functions: list[str], *args: Any, **kwargs: Any) -> Any:
        findings = [real_collect(self, [f], *args, **kwargs) for f in functions]
        return findings[0]

    def fetch_each(cloudwatch: Any, series: list[Any], *args: Any, **kwargs: Any) -> Any:
        per_resource: dict[tuple[Any, ...], list[Any]] = {}
        for s in series:
            per_resource.setdefault(s.dimensions, []).append(s)
        return [
            r
            for group in per_resource.values()
            for r in real_fetch(cloudwatch, group, *args, **kwargs)
        ]

    def run_each(self: Any, queries: list[Any], *args: Any, **kwargs: Any) -> Any:
        runs = []
        for query in queries:
            for group in query.log_groups:
                single = logs_insights.Query(query.name, query.query_string, (group,))
                runs += real_run_many(self, [single], *args, **kwargs)
        return runs

    with (
        mock.patch.object(xray, "BATCH_GET_TRACES", 1),
        mock.patch.object(ecs, "DESCRIBE_TASKS_BATCH", 1),
        mock.patch.object(codedeploy, "BATCH_GET_TARGETS", 1),
        mock.patch.object(health, "DETAILS_BATCH", 1),
        mock.patch.object(elb, "NAMES_BATCH", 1),
        mock.patch.object(lambda_metrics.LambdaMetrics, "collect", collect_each),
        mock.patch.object(ec2.metrics, "fetch", fetch_each),
        mock.patch.object(rds.metrics, "fetch", fetch_each),
        mock.patch.object(logs_insights.LogsInsights, "run_many", run_each),
    ):
        yield


def run(incident: Incident, latency: float, naive: bool) -> dict[str, Any]:
    wire = Wire(latency)
    now = datetime.now(UTC)
    window = Window(now - timedelta(minutes=30), now)
    aws.reset_clients()
    with wire.installed(), item_by_item() if naive else _nothing():
        runner = DiagnosticsRunner(clients_for(incident), 600.0, max_workers=1 if naive else 10)
        tasks = runner.plan(incident, window)
        started = time.perf_counter()
        findings = runner.run(tasks)
        elapsed = time.perf_counter() - started
    failed = [f"{f.source}: {f.message}" for f in findings if f.status not in ("ok", "not_found")]
    return {
        "seconds": elapsed,
        "calls": wire.calls,
        "findings": len(findings),
        "verdict": decide(findings)["domain"],
        "failed": failed,
    }


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=50.0)
    latency = parser.parse_args().latency_ms / 1000.0
    with mock_aws():
        incident = build_world()
        # Untimed pass: botocore's service models and moto's backends load on first use, which
        # would otherwise be charged to whichever mode runs first.
        run(incident, 0.0, naive=False)
        fast = run(incident, latency, naive=False)
        slow = run(incident, latency, naive=True)
    print(
        f"latency per AWS call: {latency * 1000:.0f} ms; sources: every one "
        f"({len(incident.resources)} resources)"
    )
    print(f"{'mode':<34}{'wall s':>9}{'API calls':>11}{'findings':>10}  verdict")
    for label, result in (("concurrent + batched", fast), ("sequential, item by item", slow)):
        print(
            f"{label:<34}{result['seconds']:>9.2f}{result['calls']:>11}"
            f"{result['findings']:>10}  {result['verdict']}"
        )
        for problem in result["failed"]:
            print(f"    not ok: {problem[:110]}")
    speedup = slow["seconds"] / fast["seconds"]
    fewer = slow["calls"] / fast["calls"]
    ok = speedup >= GOAL_SPEEDUP and fewer >= GOAL_FEWER_CALLS
    print(
        f"speed-up {speedup:.1f}x (goal >= {GOAL_SPEEDUP:g}x), "
        f"calls {fewer:.1f}x fewer (goal >= {GOAL_FEWER_CALLS:g}x): {'PASS' if ok else 'FAIL'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
