"""Throttling, source by source, with each service's own error code (after botocore's retries):
ECS and CodeDeploy answer ThrottlingException, RDS (a Query API) Throttling, Lambda
TooManyRequestsException, EC2 RequestLimitExceeded. Each becomes a finding that says it was
throttled; what the throttled call did not cover still answers. Responses through Stubber or,
where the rest of the source runs against moto, an error raised before one operation."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import boto3
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from diagnostics.codedeploy import CodeDeploySource
from diagnostics.ecs import EcsSource
from diagnostics.network import NetworkSource
from diagnostics.paging import Deadline
from diagnostics.rds import RdsSource
from diagnostics.targets import Targets
from shared.timeutil import utcnow

from .diag_stubs import ACCOUNT, REGION, client

THROTTLED = "throttled by AWS ({}); try again later"


def _throttle(code: str, operation: str) -> Any:
    def handler(**_: Any) -> None:
        raise ClientError({"Error": {"Code": code, "Message": "Rate exceeded"},
                           "ResponseMetadata": {"HTTPStatusCode": 400}}, operation)  # fmt: skip

    return handler


def test_ecs_throttled_cluster_is_a_finding_and_the_other_cluster_answers(moto) -> None:
    ecs = client("ecs")
    with Stubber(ecs) as stub:
        stub.add_client_error("describe_services", "ThrottlingException", "Rate exceeded", 400,
                              expected_params={"cluster": "blue", "services": ["web"]})  # fmt: skip
        stub.add_response("describe_services", {"services": [{
            "serviceName": "web", "clusterArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/green",
            "status": "ACTIVE", "runningCount": 2, "desiredCount": 2, "pendingCount": 0,
            "events": [], "deployments": []}], "failures": []},
            {"cluster": "green", "services": ["web"]})  # fmt: skip
        stub.add_client_error("list_tasks", "ThrottlingException", "Rate exceeded", 400)
        findings = EcsSource(ecs).collect(
            Targets(ecs_services=[("blue", "web"), ("green", "web")]),
            utcnow() - timedelta(hours=1), Deadline.after(30),
        )  # fmt: skip
        stub.assert_no_pending_responses()
    by_target = {f.target: f for f in findings}
    assert by_target["blue"].status == "throttled"
    assert by_target["blue"].message == THROTTLED.format("ThrottlingException")
    # The service was described; reading its stopped tasks was throttled.
    assert by_target["green/web"].status == "throttled"


def test_codedeploy_throttled_group_is_a_finding_and_the_named_deployment_is_read(moto) -> None:
    codedeploy = client("codedeploy")
    now = utcnow()
    with Stubber(codedeploy) as stub:
        stub.add_client_error("list_deployments", "ThrottlingException",
                              "An API function was called too frequently.", 400)  # fmt: skip
        stub.add_response("get_deployment", {"deploymentInfo": {
            "deploymentId": "d-ABCDEF123", "applicationName": "shop",
            "deploymentGroupName": "blue", "status": "Failed", "computePlatform": "Server",
            "errorInformation": {"code": "TIMEOUT", "message": "The deployment timed out."}}},
            {"deploymentId": "d-ABCDEF123"})  # fmt: skip
        stub.add_response("list_deployment_targets", {"targetIds": []},
                          {"deploymentId": "d-ABCDEF123"})  # fmt: skip
        findings = CodeDeploySource(codedeploy).collect(
            Targets(deployments=["d-ABCDEF123"], deployment_groups=[("shop", "blue")]),
            now - timedelta(hours=1), now, Deadline.after(30),
        )  # fmt: skip
        stub.assert_no_pending_responses()
    by_target = {f.target: f for f in findings}
    assert by_target["shop/blue"].status == "throttled"
    assert by_target["shop/blue"].message == THROTTLED.format("ThrottlingException")
    assert by_target["d-ABCDEF123"].status == "ok"
    assert [c.code for c in by_target["d-ABCDEF123"].causes] == ["codedeploy.hook_timeout"]


def test_codedeploy_throttled_while_reading_targets_names_the_deployment(moto) -> None:
    codedeploy = client("codedeploy")
    now = utcnow()
    with Stubber(codedeploy) as stub:
        stub.add_response("get_deployment", {"deploymentInfo": {
            "deploymentId": "d-ABCDEF123", "status": "Failed"}})  # fmt: skip
        stub.add_response("list_deployment_targets", {"targetIds": ["i-0001"]})
        stub.add_client_error("batch_get_deployment_targets", "ThrottlingException",
                              "An API function was called too frequently.", 400)  # fmt: skip
        (finding,) = CodeDeploySource(codedeploy).collect(
            Targets(deployments=["d-ABCDEF123"]), now - timedelta(hours=1), now,
            Deadline.after(30),
        )  # fmt: skip
    assert (finding.target, finding.status) == ("d-ABCDEF123", "throttled")


def test_rds_throttled_is_a_finding(moto) -> None:
    rds = client("rds")
    now = utcnow()
    with Stubber(rds) as stub:
        stub.add_client_error("describe_db_instances", "Throttling", "Rate exceeded", 400)
        (finding,) = RdsSource(rds, client("cloudwatch"), client("pi")).collect(
            Targets(db_instances=["orders-db", "billing-db"]), now - timedelta(minutes=30), now,
            Deadline.after(30),
        )  # fmt: skip
    assert (finding.target, finding.status) == ("orders-db, billing-db", "throttled")
    assert finding.message == THROTTLED.format("Throttling")


def test_rds_throttled_metrics_are_a_finding(moto) -> None:
    boto3.client("rds", region_name=REGION).create_db_instance(
        DBInstanceIdentifier="orders-db", DBInstanceClass="db.t3.micro", Engine="postgres",
        AllocatedStorage=20, MasterUsername="admin", MasterUserPassword="password123",
    )  # fmt: skip
    cloudwatch = client("cloudwatch")
    now = utcnow()
    with Stubber(cloudwatch) as stub:
        stub.add_client_error("get_metric_data", "Throttling", "Rate exceeded", 400)
        (finding,) = RdsSource(client("rds"), cloudwatch, client("pi")).collect(
            Targets(db_instances=["orders-db"]), now - timedelta(minutes=30), now,
            Deadline.after(30),
        )  # fmt: skip
    assert finding.status == "throttled"


def _network_source(**clients: Any) -> NetworkSource:
    return NetworkSource(lambda service, region=None: clients.get(service) or client(service))


def test_network_throttled_by_lambda_is_a_finding(moto) -> None:
    lambda_ = client("lambda")
    with Stubber(lambda_) as stub:
        stub.add_client_error("get_function_configuration", "TooManyRequestsException",
                              "Rate exceeded", 429, expected_params={"FunctionName": "orders"},
                              response_meta={"Reason": "CallerRateLimitExceeded"})  # fmt: skip
        (finding,) = _network_source(**{"lambda": lambda_}).collect(
            Targets(functions=["orders"]), Deadline.after(30)
        )
    assert (finding.target, finding.status) == ("paths", "throttled")
    assert finding.message == THROTTLED.format("TooManyRequestsException")


def test_network_throttled_by_ec2_is_a_finding(moto) -> None:
    ec2 = client("ec2")
    ec2.meta.events.register("before-call.ec2.DescribeInstances",
                             _throttle("RequestLimitExceeded", "DescribeInstances"))  # fmt: skip
    (finding,) = _network_source(ec2=ec2).collect(
        Targets(instances=["i-0123456789abcdef0"]), Deadline.after(30)
    )
    assert finding.status == "throttled"
    assert finding.message == THROTTLED.format("RequestLimitExceeded")


def _instance_and_database(with_database: bool) -> str:
    """An instance in a subnet of a VPC (and, if asked, a database in that VPC)."""
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{n}.0/24",
                          AvailabilityZone=f"{REGION}{az}")["Subnet"]["SubnetId"]
        for n, az in ((1, "a"), (2, "b"))
    ]  # fmt: skip
    if with_database:
        rds = boto3.client("rds", region_name=REGION)
        rds.create_db_subnet_group(DBSubnetGroupName="db", DBSubnetGroupDescription="db",
                                   SubnetIds=subnets)  # fmt: skip
        rds.create_db_instance(
            DBInstanceIdentifier="orders-db", DBInstanceClass="db.t3.micro", Engine="postgres",
            AllocatedStorage=20, MasterUsername="admin", MasterUserPassword="password123",
            DBSubnetGroupName="db", Port=5432,
        )  # fmt: skip
    image = ec2.describe_images()["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, SubnetId=subnets[0])
    return str(instance["Instances"][0]["InstanceId"])


def _routes_throttled() -> Any:
    ec2 = client("ec2")
    ec2.meta.events.register("before-call.ec2.DescribeRouteTables",
                             _throttle("RequestLimitExceeded", "DescribeRouteTables"))  # fmt: skip
    return ec2


def test_network_routes_throttled_say_so_and_the_rules_stand(moto) -> None:
    instance = _instance_and_database(with_database=True)
    (finding,) = _network_source(ec2=_routes_throttled()).collect(
        Targets(instances=[instance], db_instances=["orders-db"]), Deadline.after(30)
    )
    assert finding.status == "ok"
    assert [(p["from"], p["to"]) for p in finding.summary["paths"]] == [
        (f"ec2:{instance}", "rds:orders-db")
    ]
    error = "routes not read: throttled by AWS (RequestLimitExceeded)"
    assert finding.summary["routes_error"] == error
    assert finding.message.endswith(f"; {error}")


def test_network_routes_throttled_when_they_are_all_there_is_is_throttled(moto) -> None:
    instance = _instance_and_database(with_database=False)
    (finding,) = _network_source(ec2=_routes_throttled()).collect(
        Targets(instances=[instance]), Deadline.after(30)
    )
    assert finding.status == "throttled"
    assert finding.message == "routes not read: " + THROTTLED.format("RequestLimitExceeded")
