"""Every list call the sources make reads every page: EC2 DescribeInstanceStatus and
DescribeFlowLogs (NextToken), RDS DescribeDBInstances (Marker), CloudWatch GetMetricData
(NextToken, one series split across pages and merged), X-Ray BatchGetTraces (NextToken).
moto returns everything on one page, so the pages come from a Stubber, shaped as AWS
documents them; the request of each next page carries the token of the last."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from botocore.stub import ANY, Stubber

from diagnostics.ec2 import Ec2Source
from diagnostics.lambda_metrics import LambdaMetrics
from diagnostics.log_groups import LogGroupResolver
from diagnostics.paging import Deadline
from diagnostics.rds import RdsSource
from diagnostics.targets import Targets
from diagnostics.xray import XRaySource
from shared.timeutil import utcnow

from .diag_stubs import REGION, client


def _status(instance: str, system: str = "ok") -> dict[str, Any]:
    passed = {"Status": "ok", "Details": [{"Name": "reachability", "Status": "passed"}]}
    return {
        "InstanceId": instance,
        "AvailabilityZone": f"{REGION}a",
        "InstanceState": {"Code": 16, "Name": "running"},
        "SystemStatus": passed if system == "ok" else {
            "Status": "impaired", "Details": [{"Name": "reachability", "Status": "failed"}]},
        "InstanceStatus": passed,
    }  # fmt: skip


def test_ec2_instance_status_is_read_across_pages(moto) -> None:
    ec2 = client("ec2")
    ids = ["i-0000000000000000a", "i-0000000000000000b"]
    first = {"InstanceIds": ids, "IncludeAllInstances": True}
    now = utcnow()
    with Stubber(ec2) as stub:
        stub.add_response(
            "describe_instance_status",
            {"InstanceStatuses": [_status(ids[0])], "NextToken": "page-2"},
            first,
        )
        stub.add_response("describe_instance_status",
                          {"InstanceStatuses": [_status(ids[1], system="impaired")]},
                          {**first, "NextToken": "page-2"})  # fmt: skip
        (finding,) = Ec2Source(ec2, client("cloudwatch")).collect(
            Targets(instances=ids), now - timedelta(minutes=30), now, Deadline.after(30)
        )
        stub.assert_no_pending_responses()
    assert set(finding.summary["instances"]) == set(ids)
    assert finding.message == "1 of 2 instances impaired"
    assert [c.code for c in finding.causes] == ["ec2.system_status_impaired"]


def _db(name: str) -> dict[str, Any]:
    return {"DBInstanceIdentifier": name, "DBInstanceStatus": "available", "Engine": "postgres",
            "AllocatedStorage": 20, "PerformanceInsightsEnabled": False}  # fmt: skip


def test_rds_instances_are_read_across_pages(moto) -> None:
    rds = client("rds")
    ids = ["billing-db", "orders-db"]
    first = {"Filters": [{"Name": "db-instance-id", "Values": ids}]}
    now = utcnow()
    with Stubber(rds) as stub:
        stub.add_response(
            "describe_db_instances", {"DBInstances": [_db("billing-db")], "Marker": "m-2"}, first
        )
        stub.add_response("describe_db_instances", {"DBInstances": [_db("orders-db")]},
                          {**first, "Marker": "m-2"})  # fmt: skip
        findings = RdsSource(rds, client("cloudwatch"), client("pi")).collect(
            Targets(db_instances=ids), now - timedelta(minutes=30), now, Deadline.after(30)
        )
        stub.assert_no_pending_responses()
    assert [(f.target, f.status) for f in findings] == [("billing-db", "ok"), ("orders-db", "ok")]


def test_metric_data_pages_are_merged_by_id(moto) -> None:
    cloudwatch = client("cloudwatch")
    now = utcnow().replace(microsecond=0)
    at = [now - timedelta(minutes=m) for m in (3, 2, 1)]
    first = {"MetricDataQueries": ANY, "StartTime": ANY, "EndTime": ANY,
             "ScanBy": "TimestampAscending"}  # fmt: skip
    with Stubber(cloudwatch) as stub:
        stub.add_response("get_metric_data", {"MetricDataResults": [
            {"Id": "f0_errors", "Label": "orders-api Errors Sum", "Timestamps": at[:2],
             "Values": [1.0, 2.0], "StatusCode": "PartialData"}], "NextToken": "n-2"},
            first)  # fmt: skip
        stub.add_response("get_metric_data", {"MetricDataResults": [
            {"Id": "f0_errors", "Label": "orders-api Errors Sum", "Timestamps": at[2:],
             "Values": [3.0], "StatusCode": "Complete"},
            {"Id": "f0_invocations", "Label": "orders-api Invocations Sum", "Timestamps": at,
             "Values": [10.0, 10.0, 10.0], "StatusCode": "Complete"}]},
            {**first, "NextToken": "n-2"})  # fmt: skip
        finding = LambdaMetrics(cloudwatch).collect(
            ["orders-api"], now - timedelta(minutes=30), now, Deadline.after(30)
        )
        stub.assert_no_pending_responses()
    assert finding.summary["functions"]["orders-api"]["errors"] == 6
    assert finding.summary["functions"]["orders-api"]["invocations"] == 30
    errors = next(s for s in finding.evidence["series"] if s["id"] == "f0_errors")
    assert [v for _, v in errors["points"]] == [1.0, 2.0, 3.0]


def test_flow_log_groups_are_read_across_pages(moto) -> None:
    ec2 = client("ec2")
    first = {"Filters": [{"Name": "log-destination-type", "Values": ["cloud-watch-logs"]}]}

    def flow_log(n: int) -> dict[str, Any]:
        return {"FlowLogId": f"fl-0{n}", "LogGroupName": f"/vpc/flow-{n}",
                "LogDestinationType": "cloud-watch-logs", "FlowLogStatus": "ACTIVE",
                "ResourceId": f"vpc-0{n}", "TrafficType": "REJECT"}  # fmt: skip

    with Stubber(ec2) as stub:
        stub.add_response("describe_flow_logs", {"FlowLogs": [flow_log(1)], "NextToken": "f-2"},
                          first)  # fmt: skip
        stub.add_response("describe_flow_logs", {"FlowLogs": [flow_log(2)]},
                          {**first, "NextToken": "f-2"})  # fmt: skip
        resolver = LogGroupResolver(lambda service, region=None: client(service))
        groups = resolver.resolve(Targets(instances=["i-0000000000000000a"]), Deadline.after(30))
        stub.assert_no_pending_responses()
    assert groups.flow_logs == ["/vpc/flow-1", "/vpc/flow-2"]


TRACE = "1-5759e988-bd862e3fe1be46a99427{:04d}"


def _trace(n: int) -> dict[str, Any]:
    start = 1_714_572_000.0
    document = {"name": "orders-api", "id": f"70de5b6f19ff9a0{n}", "start_time": start,
                "end_time": start + 3 + n}  # fmt: skip
    return {"Id": TRACE.format(n), "Duration": 3.0 + n,
            "Segments": [{"Id": document["id"], "Document": json.dumps(document)}]}  # fmt: skip


def test_batch_get_traces_is_read_across_pages(moto) -> None:
    xray = client("xray")
    now = utcnow()
    start, end = now - timedelta(minutes=30), now
    ids = [TRACE.format(1), TRACE.format(0)]
    with Stubber(xray) as stub:
        stub.add_response("get_trace_summaries", {"TraceSummaries": [
            {"Id": TRACE.format(n), "Duration": 3.0 + n, "ResponseTime": 3.0 + n}
            for n in range(2)]})  # fmt: skip
        stub.add_response("batch_get_traces", {"Traces": [_trace(1)], "NextToken": "b-2"},
                          {"TraceIds": ids})  # fmt: skip
        stub.add_response("batch_get_traces", {"Traces": [_trace(0)]},
                          {"TraceIds": ids, "NextToken": "b-2"})  # fmt: skip
        stub.add_response("get_service_graph", {"Services": []})
        (finding,) = XRaySource(xray).collect(
            Targets(functions=["orders-api"]), start, end, Deadline.after(30)
        )
        stub.assert_no_pending_responses()
    segments = finding.summary["slowest_segments"]
    assert [s["trace_id"] for s in segments] == ids
    assert [s["duration_ms"] for s in segments] == [4000.0, 3000.0]
