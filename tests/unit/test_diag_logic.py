"""Diagnostics logic without AWS: targets, signatures, known causes, network rules, verdict,
support-case draft and the 32 KB summary."""

from __future__ import annotations

import json

import pytest

from diagnostics.codedeploy import cause_for
from diagnostics.ec2 import causes_for as ec2_causes
from diagnostics.ecs import classify_reason
from diagnostics.evidence import SUMMARY_LIMIT_BYTES, summarise
from diagnostics.finding import Cause, Finding
from diagnostics.logs import _slow_causes
from diagnostics.network import Endpoint, nacl_decision, path_problems
from diagnostics.queries import parse_slow_invocations
from diagnostics.rds import _status_cause
from diagnostics.signatures import causes_in, match
from diagnostics.support_case import draft
from diagnostics.targets import targets_for
from diagnostics.verdict import decide
from diagnostics.xray import filter_expression, rank_nodes
from incidents.events import parse_eventbridge_event
from incidents.model import Incident, Resource


def _incident(*resources: tuple[str, str], severity: str = "critical") -> Incident:
    return Incident(
        incident_id="inc-20240501-140307-0badcafe",
        title="orders is down",
        severity=severity,  # type: ignore[arg-type]
        opened_at="2024-05-01T14:03:07Z",
        account="123456789012",
        region="eu-west-1",
        resources=[Resource(type=t, id=i) for t, i in resources],
    )


def test_targets_from_types_and_arns() -> None:
    targets = targets_for(
        _incident(
            ("AWS::Lambda::Function", "arn:aws:lambda:eu-west-1:1:function:orders:live"),
            ("AWS::ECS::Service", "prod/web"),
            ("AWS::ARN", "arn:aws:ecs:eu-west-1:1:service/prod/api"),
            ("AWS::ARN", "arn:aws:ec2:eu-west-1:1:instance/i-0abc"),
            ("AWS::ARN", "arn:aws:rds:eu-west-1:1:db:orders-db"),
            ("AWS::ARN", "arn:aws:codedeploy:eu-west-1:1:deploymentgroup:shop/blue"),
            ("AWS::CodeDeploy::Deployment", "d-ABCDEF123"),
            ("AWS::SQS::Queue", "ignored"),
        )
    )
    assert targets.functions == ["orders"]
    assert targets.ecs_services == [("prod", "api"), ("prod", "web")]
    assert targets.instances == ["i-0abc"]
    assert targets.db_instances == ["orders-db"]
    assert targets.deployment_groups == [("shop", "blue")]
    assert targets.deployments == ["d-ABCDEF123"]
    assert targets.health_services == ["CODEDEPLOY", "EC2", "ECS", "LAMBDA", "RDS"]
    assert targets_for(_incident(("AWS::SQS::Queue", "q"))).empty()


def test_events_name_ecs_services_and_deployments() -> None:
    codedeploy = {
        "id": "1",
        "detail-type": "CodeDeploy Deployment State-change Notification",
        "source": "aws.codedeploy",
        "account": "123456789012",
        "time": "2024-05-01T14:00:00Z",
        "region": "eu-west-1",
        "resources": ["arn:aws:codedeploy:eu-west-1:123456789012:deploymentgroup:shop/blue"],
        "detail": {"deploymentId": "d-ABCDEF123", "state": "FAILURE"},
    }
    resources = parse_eventbridge_event(codedeploy).resources
    assert Resource(type="AWS::CodeDeploy::Deployment", id="d-ABCDEF123") in resources
    task = {
        **codedeploy,
        "source": "aws.ecs",
        "detail-type": "ECS Task State Change",
        "detail": {"group": "service:web", "clusterArn": "arn:aws:ecs:eu-west-1:1:cluster/prod"},
    }
    assert (
        Resource(type="AWS::ECS::Service", id="prod/web") in parse_eventbridge_event(task).resources
    )


def test_ecs_alarm_dimensions_make_one_cluster_service(alarm_event) -> None:
    event = alarm_event()
    metric = event["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]
    metric.update(namespace="AWS/ECS", dimensions={"ClusterName": "prod", "ServiceName": "web"})
    assert parse_eventbridge_event(event).resources == [
        Resource(type="AWS::ECS::Service", id="prod/web")
    ]


@pytest.mark.parametrize(
    ("line", "code", "domain"),
    [
        ("2024-05-01T14:00:00Z abc Task timed out after 3.00 seconds", "lambda.timeout",
         "application"),
        ("Runtime exited with error: signal: killed Runtime.OutOfMemory", "lambda.out_of_memory",
         "infrastructure"),
        ("botocore.exceptions.ConnectTimeoutError: Connect timeout on endpoint URL: "
         '"https://dynamodb.eu-west-1.amazonaws.com/"', "network.connect_timeout",
         "infrastructure"),
        ("An error occurred (AccessDeniedException) when calling the GetItem operation: User: "
         "arn:aws:sts::1:assumed-role/x is not authorized to perform: dynamodb:GetItem",
         "iam.permission_denied", "infrastructure"),
        ("read ECONNRESET: Connection reset by peer", "client.connectivity", "outside"),
        ("[ERROR] KeyError: 'sku'", "application.exception", "application"),
    ],
)  # fmt: skip
def test_error_signatures(line: str, code: str, domain: str) -> None:
    signature = match(line)
    assert signature is not None
    assert (signature.code, signature.domain) == (code, domain)


def test_signature_causes_count_lines_and_keep_excerpts() -> None:
    lines = [("/aws/lambda/a", "Task timed out after 3.00 seconds")] * 5 + [
        ("/aws/lambda/b", "Task timed out after 6.00 seconds")
    ]
    (cause,) = causes_in(lines)
    assert cause.scope == "6 log lines in 2 log group(s)"
    assert len(cause.evidence) == 3
    assert cause.fix


@pytest.mark.parametrize(
    ("reason", "stop_code", "containers", "code"),
    [
        ("CannotPullContainerError: pull image manifest has been retried 5 time(s)",
         "TaskFailedToStart", [], "ecs.image_pull"),
        ("Essential container in task exited", "EssentialContainerExited",
         [{"name": "web", "exitCode": 137, "reason": "OutOfMemoryError: Container killed due to "
           "memory usage"}], "ecs.out_of_memory"),
        ("Essential container in task exited", "EssentialContainerExited",
         [{"name": "web", "exitCode": 1}], "ecs.essential_container_exited"),
        ("Task failed ELB health checks in (target-group arn:aws:...:targetgroup/web/1)",
         "ServiceSchedulerInitiated", [], "ecs.elb_health_check"),
        ("ResourceInitializationError: unable to pull secrets or registry auth",
         "TaskFailedToStart", [], "ecs.resource_initialization"),
        ("ECS was unable to assume the role 'arn:aws:iam::1:role/exec'", "TaskFailedToStart", [],
         "ecs.iam"),
        ("service web was unable to place a task because no container instance met all of its "
         "requirements. Reason: No Container Instances were found in your cluster.", "", [],
         "ecs.capacity"),
    ],
)  # fmt: skip
def test_ecs_known_causes(reason: str, stop_code: str, containers: list, code: str) -> None:
    cause = classify_reason(reason, stop_code, containers)
    assert cause is not None and cause.code == code


def test_ecs_scaling_is_not_a_fault() -> None:
    assert classify_reason("Scaling activity initiated by (deployment ecs-svc/1)",
                           "ServiceSchedulerInitiated", [{"exitCode": 143}]) is None  # fmt: skip


@pytest.mark.parametrize(
    ("code", "message", "cause"),
    [
        ("ScriptTimedOut", "Script at specified location: x run as user root timed out",
         "codedeploy.hook_timeout"),
        ("ScriptMissing", "Script does not exist at specified location: scripts/start.sh",
         "codedeploy.appspec"),
        ("IAM_ROLE_PERMISSIONS", "The IAM role does not give you permission", "codedeploy.iam"),
        ("HEALTH_CONSTRAINTS", "The overall deployment failed because too many individual "
         "instances failed deployment", "codedeploy.health_check"),
        ("AGENT_ISSUE", "The CodeDeploy agent did not find an instruction", "codedeploy.agent"),
    ],
)  # fmt: skip
def test_codedeploy_known_causes(code: str, message: str, cause: str) -> None:
    found = cause_for(code, message)
    assert found is not None and found.code == cause


def test_ec2_system_vs_instance_status() -> None:
    statuses = [
        {"InstanceId": "i-1", "SystemStatus": {"Status": "impaired", "Details": [
            {"Name": "reachability", "Status": "failed", "ImpairedSince": "2024-05-01T13:58:00Z"}]},
         "InstanceStatus": {"Status": "impaired"}},
        {"InstanceId": "i-2", "SystemStatus": {"Status": "ok"},
         "InstanceStatus": {"Status": "impaired", "Details": []}},
        {"InstanceId": "i-3", "SystemStatus": {"Status": "ok"}, "InstanceStatus": {"Status": "ok"}},
    ]  # fmt: skip
    causes = {c.code: c for c in ec2_causes(statuses, {"i-3": 99.0}, 3)}
    system = causes["ec2.system_status_impaired"]
    assert (system.domain, system.scope, system.resources) == ("aws", "1 of 3 instances", ["i-1"])
    assert system.started_at == "2024-05-01T13:58:00Z"
    assert causes["ec2.instance_status_impaired"].resources == ["i-2"]
    assert causes["ec2.cpu_exhausted"].scope == "1 of 3 instances"


def test_rds_status_needs_an_action() -> None:
    cause = _status_cause({"DBInstanceIdentifier": "db", "DBInstanceStatus": "storage-full"})
    assert cause is not None and "storage" in cause.fix
    assert _status_cause({"DBInstanceIdentifier": "db", "DBInstanceStatus": "available"}) is None


def _sg(group_id: str, ingress: list, egress: list) -> dict:
    return {"GroupId": group_id, "IpPermissions": ingress, "IpPermissionsEgress": egress}


ALL_OUT = [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}], "UserIdGroupPairs": []}]


def _acl(*entries: tuple[int, bool, str, int, int, str]) -> dict:
    return {
        "NetworkAclId": "acl-1",
        "Entries": [
            {"RuleNumber": n, "Egress": egress, "Protocol": "6", "RuleAction": action,
             "CidrBlock": "0.0.0.0/0", "PortRange": {"From": low, "To": high}}
            for n, egress, action, low, high, _ in entries
        ],
    }  # fmt: skip


def test_nacl_rules_are_evaluated_lowest_number_first() -> None:
    acl = _acl((90, False, "deny", 5432, 5432, ""), (100, False, "allow", 0, 65535, ""))
    assert nacl_decision(acl, False, 5432, ["10.0.1.0/24"]) == ("deny", 90)
    assert nacl_decision(acl, False, 443, ["10.0.1.0/24"]) == ("allow", 100)
    assert nacl_decision(acl, True, 443, ["10.0.1.0/24"]) == ("deny", 32767)


def test_path_problems_name_what_denies_the_port() -> None:
    app = Endpoint("lambda:orders", ["sg-app"], ["subnet-a"], ["10.0.1.0/24"])
    db = Endpoint("rds:orders-db", ["sg-db"], ["subnet-b"], ["10.0.2.0/24"])
    groups = {"sg-app": _sg("sg-app", [], ALL_OUT), "sg-db": _sg("sg-db", [], ALL_OUT)}
    open_acl = _acl((100, False, "allow", 0, 65535, ""), (100, True, "allow", 0, 65535, ""))
    problems = path_problems(app, db, 5432, groups, {"subnet-a": open_acl, "subnet-b": open_acl})
    assert problems == ["security groups sg-db of rds:orders-db allow no inbound tcp/5432 from "
                        "lambda:orders"]  # fmt: skip
    groups["sg-db"] = _sg("sg-db", [{"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
                                     "UserIdGroupPairs": [{"GroupId": "sg-app"}]}], [])  # fmt: skip
    assert path_problems(app, db, 5432, groups, {"subnet-a": open_acl, "subnet-b": open_acl}) == []
    strict = _acl((100, False, "allow", 5432, 5432, ""), (100, True, "allow", 443, 443, ""))
    problems = path_problems(app, db, 5432, groups, {"subnet-a": open_acl, "subnet-b": strict})
    assert problems == ["network ACL acl-1 of subnet-b (rds:orders-db) denies outbound reply "
                        "tcp/1024 with the default rule (*)"]  # fmt: skip


def test_xray_filter_and_node_ranking() -> None:
    assert filter_expression([]) == "responsetime > 3"
    assert filter_expression(["orders-api", 'bad") OR ("x']) == (
        '(service("orders-api")) AND responsetime > 3'
    )
    nodes = rank_nodes(
        [
            {"Name": "fast", "SummaryStatistics": {"TotalCount": 10, "TotalResponseTime": 1.0}},
            {"Name": "faulty", "SummaryStatistics": {"TotalCount": 10, "TotalResponseTime": 1.0,
                                                     "FaultStatistics": {"TotalCount": 5}}},
            {"Name": "slow", "SummaryStatistics": {"TotalCount": 10, "TotalResponseTime": 50.0}},
        ]
    )  # fmt: skip
    assert [n["name"] for n in nodes] == ["faulty", "slow", "fast"]
    assert nodes[0]["fault_rate"] == 0.5 and nodes[1]["avg_response_ms"] == 5000.0


def _finding(source: str, *causes: Cause, status: str = "ok") -> Finding:
    return Finding(source, "t", status, "m", causes=list(causes))


AWS_CAUSE = Cause("health.AWS_EC2_OPERATIONAL_ISSUE", "aws", "EC2 issue", "wait",
                  "1 of 3 instances", ["i-1"], ["Increased error rates"], True,
                  "2024-05-01T13:58:00Z")  # fmt: skip
APP_CAUSE = Cause("lambda.timeout", "application", "timeout", "fix", "all 3 functions", ["f"],
                  ["Task timed out after 3.00 seconds"])  # fmt: skip


def test_verdict_takes_the_first_rung_with_evidence() -> None:
    findings = [_finding("health", AWS_CAUSE), _finding("logs_insights", APP_CAUSE)]
    verdict = decide(findings)
    assert verdict["domain"] == "aws"
    assert verdict["scope"] == "1 of 3 instances"
    assert verdict["other_evidence"] == ["lambda.timeout"]
    app = decide([_finding("health"), _finding("ec2"), _finding("logs_insights", APP_CAUSE)])
    assert app["domain"] == "application"
    assert app["scope"] == "all 3 functions"
    assert "no AWS Health issue for these services and regions" in app["ruled_out"]
    outside = Cause("client.connectivity", "outside", "Clients reset", "check clients")
    assert decide([_finding("logs_insights", outside)])["domain"] == "outside"
    nothing = decide([_finding("xray", status="throttled")])
    assert nothing["domain"] == "undetermined"
    assert nothing["sources_failed"] == ["xray (throttled)"]


def test_support_case_only_for_aws_side_with_what_support_asks() -> None:
    incident = _incident(("AWS::EC2::Instance", "i-1"), ("AWS::EC2::Instance", "i-2"))
    logs = Finding("logs_insights", "t", "ok", summary={"sample": ["ERROR upstream 503"]})
    trace = "1-5759e988-bd862e3fe1be46a994272793"
    xray = Finding("xray", "traces", "ok", evidence={"trace_summaries": [{"Id": trace}]})
    findings = [_finding("health", AWS_CAUSE), logs, xray]
    case = draft(incident, decide(findings), findings)
    assert case["region"] == "eu-west-1"
    assert case["affected_resources"] == ["i-1", "i-2"]
    assert case["started_at"] == "2024-05-01T13:58:00+00:00 (UTC)"
    assert case["ongoing"] is True
    assert case["severity"] == "urgent"
    assert case["evidence"]["log_excerpts"] == ["ERROR upstream 503"]
    assert case["evidence"]["trace_ids"] == ["1-5759e988-bd862e3fe1be46a994272793"]
    assert "eu-west-1" in case["body"] and "still ongoing" in case["body"]
    assert draft(incident, decide([_finding("logs_insights", APP_CAUSE)]), []) == {}


def test_summary_with_a_huge_evidence_set_stays_under_32_kb() -> None:
    huge = [
        Finding(
            "logs_insights",
            f"recent_errors: /aws/lambda/fn-{i}",
            "ok",
            "m" * 2000,
            {"sample": ["x" * 300] * 3, "rows": list(range(500))},
            {"rows": [{"@message": "y" * 1000}] * 200},
            [Cause(f"c{i}", "application", "t" * 300, "f" * 300, "s", ["r" * 100] * 20,
                   ["e" * 1000] * 20)],
        )
        for i in range(300)
    ]  # fmt: skip
    verdict = decide(huge)
    case = {"body": "b" * 20000, "evidence": {"log_excerpts": ["l" * 5000] * 10},
            "affected_resources": ["r"] * 100}  # fmt: skip
    summary = summarise(huge, {"start": "s", "end": "e"}, verdict, case)
    size = len(json.dumps(summary).encode())
    assert size <= SUMMARY_LIMIT_BYTES
    assert summary["truncated"] is True
    assert summary["verdict"]["domain"] == "application"
    assert summary["sources"], "some sources survive the trimming"


def _report_row(request: str, duration: float, size: float, used: float) -> dict[str, str]:
    return {"@requestId": request, "@duration": str(duration), "memorySizeMB": str(size),
            "maxMemoryUsedMB": str(used), "memoryUsedPercent": str(100 * used / size)}  # fmt: skip


def test_memory_above_90_percent_is_pressure_and_all_of_it_is_exhaustion() -> None:
    rows = parse_slow_invocations([
        _report_row("r-full", 6006.61, 128, 128),  # 100 %: out of memory, not pressure
        _report_row("r-high", 850.25, 512, 470),  # 91.8 %
        _report_row("r-edge", 900.0, 1000, 900.5),  # 90.05 %: just above
        _report_row("r-slow", 12034.56, 1024, 400),  # slow, 39 %
    ])  # fmt: skip
    causes = {c.code: c for c in _slow_causes(rows, ["/aws/lambda/orders-api"])}
    assert list(causes) == ["lambda.out_of_memory", "lambda.memory_pressure",
                            "lambda.slow_invocations"]  # fmt: skip
    pressure = causes["lambda.memory_pressure"]
    assert (pressure.domain, pressure.resources) == ("application", ["orders-api"])
    assert pressure.title == (
        "Memory pressure: 2 invocations used more than 90 % of their memory size"
    )
    assert pressure.evidence == ["r-high: 470 of 512 MB (92 %)", "r-edge: 900.5 of 1000 MB (90 %)"]
    assert causes["lambda.out_of_memory"].domain == "infrastructure"
