"""X-Ray and CodeDeploy sources through botocore Stubber (moto rejects X-Ray filter
expressions, answers a dummy service graph, and has no deployment targets or lifecycle
events): pagination, batch limits (BatchGetTraces 5, BatchGetDeploymentTargets 25), causes."""

from __future__ import annotations

import json
from datetime import timedelta

from botocore.stub import ANY, Stubber

from diagnostics.codedeploy import CodeDeploySource
from diagnostics.paging import Deadline
from diagnostics.targets import Targets
from diagnostics.xray import XRaySource
from shared.timeutil import utcnow

from .diag_stubs import client

TRACE = "1-5759e988-bd862e3fe1be46a99427{:04d}"


def _summary(n: int) -> dict:
    return {"Id": TRACE.format(n), "Duration": 3.0 + n, "ResponseTime": 3.0 + n,
            "HasFault": n == 6, "HasError": False, "HasThrottle": False}  # fmt: skip


def _trace(n: int) -> dict:
    start = 1_714_572_000.0
    document = {"name": "orders-api", "id": "70de5b6f19ff9a0a", "start_time": start,
                "end_time": start + 3 + n, "subsegments": [
                    {"name": "DynamoDB", "id": "a", "start_time": start,
                     "end_time": start + 2.5 + n, "fault": True,
                     "cause": {"exceptions": [{"message": "Throughput exceeded"}]}}]}  # fmt: skip
    return {"Id": TRACE.format(n), "Duration": 3.0 + n,
            "Segments": [{"Id": "70de5b6f19ff9a0a", "Document": json.dumps(document)}]}  # fmt: skip


def test_slow_traces_paged_batched_by_five_and_ranked(moto) -> None:
    xray = client("xray")
    now = utcnow()
    start, end = now - timedelta(minutes=30), now
    expected = {"StartTime": start, "EndTime": end, "Sampling": False,
                "FilterExpression": '(service("orders-api")) AND responsetime > 3'}  # fmt: skip
    with Stubber(xray) as stub:
        stub.add_response("get_trace_summaries",
                          {"TraceSummaries": [_summary(n) for n in range(4)], "NextToken": "t2"},
                          expected)  # fmt: skip
        stub.add_response("get_trace_summaries",
                          {"TraceSummaries": [_summary(n) for n in range(4, 7)]},
                          {**expected, "NextToken": "t2"})  # fmt: skip
        by_duration = [TRACE.format(n) for n in range(6, -1, -1)]
        stub.add_response("batch_get_traces", {"Traces": [_trace(n) for n in range(6, 1, -1)]},
                          {"TraceIds": by_duration[:5]})  # fmt: skip
        stub.add_response("batch_get_traces", {"Traces": [_trace(1), _trace(0)]},
                          {"TraceIds": by_duration[5:]})  # fmt: skip
        graph = {"Services": [{"Name": "orders-api", "Type": "AWS::Lambda::Function",
                               "SummaryStatistics": {"TotalCount": 100, "TotalResponseTime": 400.0,
                                                     "FaultStatistics": {"TotalCount": 2}}}],
                 "NextToken": "g2"}  # fmt: skip
        stub.add_response("get_service_graph", graph, {"StartTime": start, "EndTime": end})
        stub.add_response("get_service_graph", {"Services": [
            {"Name": "DynamoDB", "Type": "AWS::DynamoDB::Table", "SummaryStatistics": {
                "TotalCount": 100, "TotalResponseTime": 250.0,
                "FaultStatistics": {"TotalCount": 30}}}]},
            {"StartTime": start, "EndTime": end, "NextToken": "g2"})  # fmt: skip
        (finding,) = XRaySource(xray).collect(
            Targets(functions=["orders-api"]), start, end, Deadline.after(30)
        )
        stub.assert_no_pending_responses()
    assert finding.summary["slow_traces"] == 7
    assert finding.summary["worst_nodes"][0]["name"] == "DynamoDB"
    assert finding.summary["slowest_segments"][0]["duration_ms"] == 9000.0
    codes = {c.code: c for c in finding.causes}
    assert codes["xray.faulting_node"].title == "DynamoDB faults on 30% of requests"
    assert TRACE.format(6) in codes["xray.slow_segment"].evidence[0]


def test_xray_throttled_is_a_finding(moto) -> None:
    xray = client("xray")
    with Stubber(xray) as stub:
        stub.add_client_error("get_trace_summaries", "ThrottledException", "Rate exceeded", 429)
        now = utcnow()
        (finding,) = XRaySource(xray).collect(Targets(), now, now, Deadline.after(5))
    assert finding.status == "throttled"


def _target(n: int, failed: bool) -> dict:
    status = "Failed" if failed else "Succeeded"
    event = {"lifecycleEventName": "ApplicationStart", "status": status,
             "diagnostics": {"errorCode": "ScriptTimedOut", "scriptName": "scripts/start.sh",
                             "message": "Script at specified location: scripts/start.sh run as "
                             "user root timed out", "logTail": "[stdout]starting..."}
             if failed else {}}  # fmt: skip
    return {"deploymentTargetType": "InstanceTarget", "instanceTarget": {
        "deploymentId": "d-ABCDEF123", "targetId": f"i-{n:04d}",
        "status": "Failed" if failed else "Succeeded", "lifecycleEvents": [event]}}  # fmt: skip


def test_failed_deployment_targets_in_batches_of_25(moto) -> None:
    codedeploy = client("codedeploy")
    now = utcnow()
    ids = [f"i-{n:04d}" for n in range(30)]
    with Stubber(codedeploy) as stub:
        stub.add_response("list_deployments", {"deployments": ["d-ABCDEF123"]},
                          {"applicationName": "shop", "deploymentGroupName": "blue",
                           "includeOnlyStatuses": ["Failed", "Stopped"],
                           "createTimeRange": ANY})  # fmt: skip
        stub.add_response("get_deployment", {"deploymentInfo": {
            "deploymentId": "d-ABCDEF123", "applicationName": "shop",
            "deploymentGroupName": "blue", "status": "Failed", "computePlatform": "Server",
            "errorInformation": {"code": "HEALTH_CONSTRAINTS",
                                 "message": "The overall deployment failed because too many "
                                 "individual instances failed deployment"}}})  # fmt: skip
        stub.add_response("list_deployment_targets", {"targetIds": ids[:20], "nextToken": "n"})
        stub.add_response("list_deployment_targets", {"targetIds": ids[20:]})
        stub.add_response("batch_get_deployment_targets",
                          {"deploymentTargets": [_target(n, n < 3) for n in range(25)]},
                          {"deploymentId": "d-ABCDEF123", "targetIds": ids[:25]})  # fmt: skip
        stub.add_response("batch_get_deployment_targets",
                          {"deploymentTargets": [_target(n, False) for n in range(25, 30)]},
                          {"deploymentId": "d-ABCDEF123", "targetIds": ids[25:]})  # fmt: skip
        (finding,) = CodeDeploySource(codedeploy).collect(
            Targets(deployment_groups=[("shop", "blue")]), now - timedelta(hours=1), now,
            Deadline.after(30),
        )  # fmt: skip
        stub.assert_no_pending_responses()
    causes = {c.code: c for c in finding.causes}
    assert causes["codedeploy.hook_timeout"].scope == "3 of 30 deployment targets failed"
    assert "scripts/start.sh" in causes["codedeploy.hook_timeout"].evidence[0]
    assert "codedeploy.health_check" in causes
    assert any("scripts.log" in p and "d-ABCDEF123" in p for p in finding.summary["log_locations"])
