"""Lambda metrics against moto (one GetMetricData for every function) and Logs Insights through
Stubber (moto's Insights engine knows only fields/sort/limit): all queries start before any is
polled, polls back off and are cut at the budget, log groups come from the resources (ECS task
definitions and VPC flow logs in moto), and phase two follows a request id and a trace id."""

from __future__ import annotations

from datetime import timedelta

import boto3
from botocore.stub import ANY, Stubber

from diagnostics import queries
from diagnostics.lambda_metrics import LambdaMetrics
from diagnostics.logs import LogsSource
from diagnostics.logs_insights import LogsInsights, Query
from diagnostics.paging import Deadline
from diagnostics.targets import Targets
from shared.timeutil import utcnow

from .diag_stubs import REGION, client, count_calls, insights


def test_one_metric_request_for_every_function(moto) -> None:
    functions = ["billing", "orders-api", "payments"]
    now = utcnow()
    boto3.client("cloudwatch", region_name=REGION).put_metric_data(
        Namespace="AWS/Lambda",
        MetricData=[
            {"MetricName": metric, "Dimensions": [{"Name": "FunctionName", "Value": fn}],
             "Timestamp": now - timedelta(minutes=2), "Value": 4.0}
            for fn in functions for metric in ("Errors", "Throttles")
        ],
    )  # fmt: skip
    cloudwatch = client("cloudwatch")
    calls = count_calls(cloudwatch)
    finding = LambdaMetrics(cloudwatch).collect(functions, now - timedelta(minutes=30), now)
    assert calls["GetMetricData"] == 1
    assert finding.summary["functions"]["payments"]["throttles"] == 4
    causes = {c.code: c for c in finding.causes}
    assert causes["lambda.throttles"].scope == "all 3 functions of the incident"
    assert causes["lambda.throttles"].domain == "infrastructure"


def test_throttled_metrics_are_a_finding(moto) -> None:
    cloudwatch = client("cloudwatch")
    with Stubber(cloudwatch) as stub:
        stub.add_client_error("get_metric_data", "Throttling", "Rate exceeded", 400)
        now = utcnow()
        finding = LambdaMetrics(cloudwatch).collect(["a"], now, now)
    assert finding.status == "throttled"


def test_queries_start_together_back_off_and_stop_at_the_budget(moto) -> None:
    logs = client("logs")
    clock = iter([0.0, 0.3, 0.6, 1.1])
    sleeps: list[float] = []
    plan = [Query(n, queries.ERROR_SPIKES, ("/aws/lambda/a", "/aws/lambda/b")) for n in "abc"]
    with Stubber(logs) as stub:
        for name in "abc":
            stub.add_response("start_query", {"queryId": f"q-{name}"},
                              {"logGroupNames": ["/aws/lambda/a", "/aws/lambda/b"],
                               "startTime": ANY, "endTime": ANY,
                               "queryString": queries.ERROR_SPIKES, "limit": 1000})  # fmt: skip
        rounds = [("a", "Complete"), ("b", "Running"), ("c", "Running"),
                  ("b", "Complete"), ("c", "Running"), ("c", "Running")]  # fmt: skip
        for name, status in rounds:
            stub.add_response("get_query_results", {"results": [], "status": status},
                              {"queryId": f"q-{name}"})  # fmt: skip
        stub.add_response("stop_query", {"success": True}, {"queryId": "q-c"})
        now = utcnow()
        runs = LogsInsights(logs, sleep=sleeps.append, clock=lambda: next(clock)).run_many(
            plan, now - timedelta(minutes=30), now, 1.0
        )
        stub.assert_no_pending_responses()
    assert [r.status for r in runs] == ["Complete", "Complete", "Running"]
    assert sleeps == [0.25, 0.4]  # doubling, but never past the budget


def _ecs_service_with_logs() -> None:
    ecs = boto3.client("ecs", region_name=REGION)
    ecs.create_cluster(clusterName="prod")
    ecs.register_task_definition(
        family="web",
        containerDefinitions=[{
            "name": "web", "image": "nginx", "memory": 16,
            "logConfiguration": {"logDriver": "awslogs", "options": {
                "awslogs-group": "/ecs/web", "awslogs-region": REGION,
                "awslogs-stream-prefix": "web"}}}],
    )  # fmt: skip
    ecs.create_service(cluster="prod", serviceName="web", taskDefinition="web", desiredCount=0)
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ec2.create_flow_logs(
        ResourceIds=[vpc], ResourceType="VPC", TrafficType="REJECT", LogGroupName="/vpc/flow",
        DeliverLogsPermissionArn="arn:aws:iam::123456789012:role/flow-logs",
    )  # fmt: skip


REQUEST = "8f5a6c1e-4d0b-4a7e-9a3c-2b1d0e6f7a89"
TRACE = "1-5759e988-bd862e3fe1be46a994272793"


def test_log_groups_from_resources_and_correlation(moto) -> None:
    _ecs_service_with_logs()
    logs = client("logs")
    app = ["/aws/lambda/orders-api", "/ecs/web"]
    rows = {
        "recent_errors": [{"@timestamp": "2024-05-01 14:02:58.000", "@requestId": REQUEST,
                           "@message": f"Task timed out after 3.00 seconds {TRACE}"}],
        "ecs_stopped_reasons": [{"detail.stopCode": "TaskFailedToStart",
                                 "reason": "CannotPullContainerError", "tasks": "3"}],
        "vpc_flow_rejects": [{"sourceIp": "10.0.1.5", "destIp": "10.0.2.9", "destPort": "5432",
                              "protocolNumber": "6", "rejects": "40", "packets": "80"}],
        "error_spikes": [{"minute": "2024-05-01 14:02:00.000", "errors": "25"}],
    }  # fmt: skip
    phase_one = ["error_counts", "recent_errors", "error_spikes", "lambda_slow_or_memory_bound",
                 "ecs_stopped_reasons", "vpc_flow_rejects"]  # fmt: skip
    every = {"startTime": ANY, "endTime": ANY, "limit": ANY}
    with Stubber(logs) as stub:
        insights(stub, phase_one, rows, params={
            "error_counts": {**every, "logGroupNames": app, "queryString": queries.ERROR_COUNTS},
            "vpc_flow_rejects": {**every, "logGroupName": "/vpc/flow",
                                 "queryString": queries.VPC_FLOW_REJECTS}})  # fmt: skip
        insights(stub, ["correlate_request", "correlate_trace"], params={
            "correlate_request": {**every, "logGroupNames": app,
                                  "queryString": queries.by_request_id(REQUEST, 50)},
            "correlate_trace": {**every, "logGroupNames": app,
                                "queryString": queries.by_trace_id(TRACE, 50)}})  # fmt: skip
        source = LogsSource(lambda service, region=None: client(service),
                            LogsInsights(logs, sleep=lambda _: None))  # fmt: skip
        now = utcnow()
        findings = source.collect(
            Targets(functions=["orders-api"], ecs_services=[("prod", "web")]),
            now - timedelta(minutes=30), now, Deadline.after(30),
        )  # fmt: skip
        stub.assert_no_pending_responses()
    by_query = {f.summary["query"]: f for f in findings}
    assert set(by_query) == set(phase_one) | {"correlate_request", "correlate_trace"}
    causes = {c.code for f in findings for c in f.causes}
    assert {"lambda.timeout", "ecs.image_pull", "network.flow_rejected"} <= causes
    assert by_query["error_spikes"].summary["first_spike"] == "2024-05-01T14:02:00Z"
