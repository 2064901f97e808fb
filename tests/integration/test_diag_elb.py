"""Load balancer source: target groups, target health and load balancers in moto (a stopped
instance shows moto's `Target.InvalidState`), the reason codes moto never produces
(`Target.ResponseCodeMismatch`, `Elb.InternalError`) through Stubber, ALB metrics in one
GetMetricData, and the verdict telling the load balancer's fault from its targets'."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import boto3
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from diagnostics.elb import ElbSource
from diagnostics.paging import Deadline
from diagnostics.runner import DiagnosticsRunner, Window
from diagnostics.targets import Targets
from diagnostics.verdict import decide
from incidents.model import Incident, Resource
from shared.timeutil import utcnow

from .diag_stubs import ACCOUNT, REGION, client, count_calls


def _world(targets: int = 3) -> dict[str, Any]:
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{n}.0/24",
                          AvailabilityZone=f"{REGION}{az}")["Subnet"]["SubnetId"]
        for n, az in ((1, "a"), (2, "b"))
    ]  # fmt: skip
    image = ec2.describe_images()["Images"][0]["ImageId"]
    instances = [
        i["InstanceId"]
        for i in ec2.run_instances(ImageId=image, MinCount=targets, MaxCount=targets,
                                   SubnetId=subnets[0])["Instances"]
    ]  # fmt: skip
    elbv2 = boto3.client("elbv2", region_name=REGION)
    lb = elbv2.create_load_balancer(Name="web", Subnets=subnets)["LoadBalancers"][0]
    tg = elbv2.create_target_group(
        Name="web-tg", Protocol="HTTP", Port=80, VpcId=vpc, HealthCheckPath="/health",
        Matcher={"HttpCode": "200"},
    )["TargetGroups"][0]  # fmt: skip
    elbv2.register_targets(
        TargetGroupArn=tg["TargetGroupArn"], Targets=[{"Id": i, "Port": 80} for i in instances]
    )
    elbv2.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}],
    )  # fmt: skip
    return {
        "instances": instances,
        "lb_arn": lb["LoadBalancerArn"],
        "lb_dimension": lb["LoadBalancerArn"].split(":loadbalancer/")[1],
        "tg_arn": tg["TargetGroupArn"],
        "tg_dimension": tg["TargetGroupArn"].rsplit(":", 1)[1],
    }


def _put(lb_dimension: str, values: dict[str, float]) -> None:
    boto3.client("cloudwatch", region_name=REGION).put_metric_data(
        Namespace="AWS/ApplicationELB",
        MetricData=[
            {"MetricName": metric, "Dimensions": [{"Name": "LoadBalancer", "Value": lb_dimension}],
             "Timestamp": utcnow() - timedelta(minutes=2), "Value": value}
            for metric, value in values.items()
        ],
    )  # fmt: skip


def _collect(source: ElbSource, targets: Targets) -> Any:
    now = utcnow()
    (finding,) = source.collect(targets, now - timedelta(minutes=30), now, Deadline.after(30))
    return finding


def test_alarm_dimensions_find_the_group_its_balancer_and_the_stopped_target(moto) -> None:
    world = _world(targets=3)
    boto3.client("ec2", region_name=REGION).stop_instances(InstanceIds=world["instances"][:1])
    _put(world["lb_dimension"], {"HTTPCode_ELB_5XX_Count": 12.0, "RequestCount": 100.0})
    cloudwatch, elbv2 = client("cloudwatch"), client("elbv2")
    metric_calls, elb_calls = count_calls(cloudwatch), count_calls(elbv2)
    # Exactly what the alarm's dimensions carry: TargetGroup and LoadBalancer values.
    targets = Targets(target_groups=[world["tg_dimension"]],
                      load_balancers=[world["lb_dimension"]])  # fmt: skip
    finding = _collect(ElbSource(elbv2, cloudwatch), targets)

    assert finding.status == "ok"
    assert metric_calls["GetMetricData"] == 1
    assert elb_calls == {"DescribeLoadBalancers": 1, "DescribeTargetGroups": 1,
                         "DescribeTargetHealth": 1}  # fmt: skip
    assert finding.summary["target_groups"]["web-tg"]["states"] == {"healthy": 2, "unused": 1}
    assert finding.summary["load_balancers"]["web"]["elb_5xx"] == 12
    causes = {c.code: c for c in finding.causes}
    stopped = causes["elb.target_invalid_state"]
    assert (stopped.domain, stopped.scope) == ("infrastructure", "1 of 3 targets unused")
    assert stopped.resources == world["instances"][:1]
    assert "HTTP /health" in stopped.evidence[0] and "expects 200" in stopped.evidence[0]
    # ELB 5xx, no target 5xx, no target unhealthy, no internal error: the LB's own answers.
    lb_5xx = causes["elb.lb_5xx"]
    assert lb_5xx.domain == "infrastructure"
    assert "502" in lb_5xx.fix and lb_5xx.scope == "12 ELB 5xx in 100 requests"


def test_target_group_only_finds_its_balancer_by_arn(moto) -> None:
    world = _world(targets=2)
    elbv2 = client("elbv2")
    calls = count_calls(elbv2)
    finding = _collect(ElbSource(elbv2, client("cloudwatch")),
                       Targets(target_groups=[world["tg_arn"]]))  # fmt: skip
    assert calls["DescribeLoadBalancers"] == 1  # by the ARN the target group names
    assert list(finding.summary["load_balancers"]) == ["web"]
    assert finding.causes == []
    assert finding.message == "0 of 2 targets unhealthy in 1 target group; 0 ELB 5xx, 0 target 5xx"


def test_load_balancer_only_reads_all_its_target_groups(moto) -> None:
    world = _world(targets=1)
    finding = _collect(ElbSource(client("elbv2"), client("cloudwatch")),
                       Targets(load_balancers=[world["lb_dimension"]]))  # fmt: skip
    assert list(finding.summary["target_groups"]) == ["web-tg"]


def test_a_deleted_group_is_named_and_the_others_still_answer(moto) -> None:
    world = _world(targets=1)
    groups = [world["tg_dimension"], "targetgroup/gone/0123"]
    finding = _collect(ElbSource(client("elbv2"), client("cloudwatch")),
                       Targets(target_groups=groups))  # fmt: skip
    assert finding.status == "ok"
    assert finding.summary["notes"] == ["not found: gone"]
    assert list(finding.summary["target_groups"]) == ["web-tg"]


def _unhealthy(world: dict[str, Any], reason: str, description: str) -> dict[str, Any]:
    states = [("unhealthy", reason, description)] * 2 + [("healthy", None, None)] * 4
    return {
        "TargetHealthDescriptions": [
            {"Target": {"Id": f"i-{n:017x}", "Port": 80}, "HealthCheckPort": "80",
             "TargetHealth": {k: v for k, v in
                              (("State", s), ("Reason", r), ("Description", d)) if v}}
            for n, (s, r, d) in enumerate(states)
        ]
    }  # fmt: skip


def _stubbed_health(world: dict[str, Any], reason: str, description: str) -> Any:
    """The elbv2 client with DescribeTargetHealth alone answered by Stubber (the rest by moto),
    for reason codes moto never produces."""
    elbv2 = client("elbv2")
    real = elbv2.describe_target_health
    answer = _unhealthy(world, reason, description)

    def describe_target_health(**kwargs: Any) -> Any:
        assert kwargs == {"TargetGroupArn": world["tg_arn"]}
        with Stubber(elbv2) as stub:
            stub.add_response("describe_target_health", answer, kwargs)
            return real(**kwargs)

    elbv2.describe_target_health = describe_target_health
    return elbv2


def test_response_code_mismatch_is_the_application_with_scope(moto) -> None:
    world = _world(targets=1)
    elbv2 = _stubbed_health(world, "Target.ResponseCodeMismatch",
                            "Health checks failed with these codes: [502]")  # fmt: skip
    _put(world["lb_dimension"], {"HTTPCode_Target_5XX_Count": 30.0, "RequestCount": 300.0})
    finding = _collect(ElbSource(elbv2, client("cloudwatch")),
                       Targets(target_groups=[world["tg_dimension"]]))  # fmt: skip
    causes = {c.code: c for c in finding.causes}
    mismatch = causes["elb.response_code_mismatch"]
    assert (mismatch.domain, mismatch.scope) == ("application", "2 of 6 targets unhealthy")
    assert "[502]" in mismatch.evidence[0]
    assert causes["elb.target_5xx"].scope == "30 target 5xx in 300 requests"
    verdict = decide([finding])
    assert verdict["domain"] == "application"
    assert verdict["ruled_out"] == [
        "no load balancer internal error",
        "no load balancer, target registration or health-check connection fault",
    ]


def test_elb_5xx_without_target_5xx_and_internal_error_is_aws_side(moto) -> None:
    world = _world(targets=1)
    elbv2 = _stubbed_health(world, "Elb.InternalError",
                            "Health checks failed due to an internal error")  # fmt: skip
    _put(world["lb_dimension"], {"HTTPCode_ELB_5XX_Count": 50.0, "RequestCount": 400.0})
    finding = _collect(ElbSource(elbv2, client("cloudwatch")),
                       Targets(target_groups=[world["tg_dimension"]]))  # fmt: skip
    verdict = decide([finding])
    assert verdict["domain"] == "aws"
    codes = [c["code"] for c in verdict["causes"]]
    assert codes == ["elb.internal_error", "elb.lb_5xx"]
    assert verdict["scope"] == "2 of 6 targets unhealthy"


def test_runner_plans_the_source_from_alarm_dimensions(moto) -> None:
    world = _world(targets=2)
    incident = Incident(
        incident_id="inc-20240501-140000-abcdef01", title="web 5xx",
        opened_at=utcnow().isoformat(), account=ACCOUNT, region=REGION,
        resources=[
            Resource(type="AWS::ElasticLoadBalancingV2::LoadBalancer", id=world["lb_dimension"]),
            Resource(type="AWS::ElasticLoadBalancingV2::TargetGroup", id=world["tg_dimension"]),
        ],
    )  # fmt: skip
    runner = DiagnosticsRunner(lambda service, region=None: client(service, region or REGION), 30)
    now = utcnow()
    tasks = runner.plan(incident, Window(now - timedelta(minutes=30), now))
    assert [t.source for t in tasks] == ["health", "elb", "logs_insights"]
    elb = next(t for t in tasks if t.source == "elb")
    (finding,) = elb.run()
    assert finding.summary["target_groups"]["web-tg"]["states"] == {"healthy": 2}


def _throttle(operation: str) -> Any:
    def handler(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"}}, operation)

    return handler


def test_throttling_fails_the_source_or_only_the_group_it_hit(moto) -> None:
    world = _world(targets=1)
    targets = Targets(target_groups=[world["tg_dimension"]])
    elbv2 = client("elbv2")
    elbv2.meta.events.register("before-call.elastic-load-balancing-v2.DescribeTargetHealth",
                               _throttle("DescribeTargetHealth"))  # fmt: skip
    finding = _collect(ElbSource(elbv2, client("cloudwatch")), targets)
    assert finding.status == "ok"
    assert "; target health not read for web-tg" in finding.message
    assert finding.summary["target_groups"]["web-tg"]["error"].startswith("Throttling:")

    elbv2.meta.events.register("before-call.elastic-load-balancing-v2.DescribeTargetGroups",
                               _throttle("DescribeTargetGroups"))  # fmt: skip
    finding = _collect(ElbSource(elbv2, client("cloudwatch")), targets)
    assert finding.status == "throttled"
