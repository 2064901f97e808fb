"""EC2, RDS and network sources against moto (Performance Insights, which moto lacks, through
Stubber): status checks and metrics in one GetMetricData, DB status, PI degrading gracefully,
and the security-group rule that blocks the path from an instance to its database."""

from __future__ import annotations

from datetime import datetime, timedelta

import boto3
from botocore.stub import ANY, Stubber

from diagnostics.ec2 import Ec2Source
from diagnostics.network import NetworkSource
from diagnostics.paging import Deadline
from diagnostics.rds import RdsSource
from diagnostics.targets import Targets
from shared.timeutil import utcnow

from .diag_stubs import REGION, client, count_calls


def _instances(count: int, **kwargs: object) -> list[str]:
    ec2 = boto3.client("ec2", region_name=REGION)
    image = ec2.describe_images()["Images"][0]["ImageId"]
    reservation = ec2.run_instances(ImageId=image, MinCount=count, MaxCount=count, **kwargs)
    return [i["InstanceId"] for i in reservation["Instances"]]


def _put(namespace: str, metric: str, dimension: str, value_for: dict[str, float]) -> None:
    boto3.client("cloudwatch", region_name=REGION).put_metric_data(
        Namespace=namespace,
        MetricData=[
            {"MetricName": metric, "Dimensions": [{"Name": dimension, "Value": key}],
             "Timestamp": utcnow() - timedelta(minutes=2), "Value": value}
            for key, value in value_for.items()
        ],
    )  # fmt: skip


def test_ec2_status_and_metrics_in_one_metric_request(moto) -> None:
    ids = sorted(_instances(3))
    _put("AWS/EC2", "CPUUtilization", "InstanceId", {ids[0]: 99.0, ids[1]: 20.0})
    cloudwatch = client("cloudwatch")
    calls = count_calls(cloudwatch)
    now = utcnow()
    (finding,) = Ec2Source(client("ec2"), cloudwatch).collect(
        Targets(instances=ids), now - timedelta(minutes=30), now, Deadline.after(30)
    )
    assert calls["GetMetricData"] == 1
    assert finding.message == "status checks pass on 3 of 3 instances"
    (cause,) = finding.causes
    assert (cause.code, cause.scope, cause.resources) == ("ec2.cpu_exhausted", "1 of 3 instances",
                                                          [ids[0]])  # fmt: skip


def _network() -> dict[str, str]:
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    app_subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24",
                                   AvailabilityZone=f"{REGION}a")["Subnet"]["SubnetId"]  # fmt: skip
    db_subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{n}.0/24",
                          AvailabilityZone=f"{REGION}{az}")["Subnet"]["SubnetId"]
        for n, az in ((2, "a"), (3, "b"))
    ]  # fmt: skip
    app_sg = ec2.create_security_group(GroupName="app", Description="app", VpcId=vpc)["GroupId"]
    db_sg = ec2.create_security_group(GroupName="db", Description="db", VpcId=vpc)["GroupId"]
    rds = boto3.client("rds", region_name=REGION)
    rds.create_db_subnet_group(DBSubnetGroupName="db", DBSubnetGroupDescription="db",
                               SubnetIds=db_subnets)  # fmt: skip
    rds.create_db_instance(
        DBInstanceIdentifier="orders-db", DBInstanceClass="db.t3.micro", Engine="postgres",
        AllocatedStorage=20, MasterUsername="admin", MasterUserPassword="password123",
        VpcSecurityGroupIds=[db_sg], DBSubnetGroupName="db", Port=5432,
        EnablePerformanceInsights=True,
    )  # fmt: skip
    (instance,) = _instances(1, SubnetId=app_subnet, SecurityGroupIds=[app_sg])
    return {"instance": instance, "app_sg": app_sg, "db_sg": db_sg}


def test_network_names_the_rule_that_blocks_the_database_port(moto) -> None:
    net = _network()
    targets = Targets(instances=[net["instance"]], db_instances=["orders-db"])
    source = NetworkSource(lambda service, region=None: client(service))
    (finding,) = source.collect(targets, Deadline.after(30))
    (path,) = finding.summary["paths"]
    assert (path["from"], path["to"], path["port"]) == (f"ec2:{net['instance']}",
                                                        "rds:orders-db", 5432)  # fmt: skip
    assert path["problems"] == [f"security groups {net['db_sg']} of rds:orders-db allow no "
                                f"inbound tcp/5432 from ec2:{net['instance']}"]  # fmt: skip
    assert finding.causes[0].code == "network.blocked"

    boto3.client("ec2", region_name=REGION).authorize_security_group_ingress(
        GroupId=net["db_sg"],
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
                        "UserIdGroupPairs": [{"GroupId": net["app_sg"]}]}],
    )  # fmt: skip
    (finding,) = source.collect(targets, Deadline.after(30))
    assert finding.summary["paths"][0]["problems"] == []
    # What is left is the subnet's missing way out, which counts only given a symptom.
    (cause,) = finding.causes
    assert cause.code == "network.no_internet_route"
    assert cause.requires == ["network.connect_timeout", "ecs.image_pull"]


# moto drops PerformanceInsightsEnabled: DescribeDBInstances answers through Stubber here.
DB = {"DBInstanceIdentifier": "orders-db", "DBInstanceStatus": "storage-full",
      "Engine": "postgres", "AllocatedStorage": 20, "PerformanceInsightsEnabled": True,
      "DbiResourceId": "db-M5ENSHXFPU6XHZ4G4ZEI5QIO2U"}  # fmt: skip


def _rds_source(pi: object) -> tuple[RdsSource, Stubber]:
    rds = client("rds")
    stub = Stubber(rds)
    stub.add_response("describe_db_instances", {"DBInstances": [DB]})
    return RdsSource(rds, client("cloudwatch"), pi), stub


def test_rds_status_metrics_and_performance_insights_unavailable(moto) -> None:
    _put("AWS/RDS", "FreeStorageSpace", "DBInstanceIdentifier", {"orders-db": 1.0 * 1024**3})
    now = utcnow()
    source, stub = _rds_source(client("pi"))  # moto has no Performance Insights: 404
    with stub:
        (finding,) = source.collect(
            Targets(db_instances=["orders-db"]), now - timedelta(minutes=30), now,
            Deadline.after(30),
        )  # fmt: skip
    assert finding.status == "ok"
    assert finding.summary["performance_insights"].startswith("unavailable:")
    causes = {c.code: c for c in finding.causes}
    assert "storage" in causes["rds.storage-full"].fix
    assert "1.0 GiB of 20 GiB" in causes["rds.low_storage"].evidence[0]


def test_rds_performance_insights_top_waits_and_sql(moto) -> None:
    pi = client("pi")
    now = utcnow()
    common = {"ServiceType": "RDS", "Identifier": DB["DbiResourceId"], "StartTime": ANY,
              "EndTime": ANY, "Metric": "db.load.avg"}  # fmt: skip
    source, rds_stub = _rds_source(pi)
    with rds_stub, Stubber(pi) as stub:
        stub.add_response("get_resource_metrics", {
            "Identifier": DB["DbiResourceId"], "MetricList": [{"Key": {"Metric": "db.load.avg"},
            "DataPoints": [{"Timestamp": datetime(2024, 5, 1), "Value": 4.5}]}]},
            {"ServiceType": "RDS", "Identifier": DB["DbiResourceId"], "StartTime": ANY,
             "EndTime": ANY, "MetricQueries": [{"Metric": "db.load.avg"}],
             "PeriodInSeconds": 60})  # fmt: skip
        stub.add_response("describe_dimension_keys", {
            "AlignedStartTime": datetime(2024, 5, 1), "AlignedEndTime": datetime(2024, 5, 1),
            "Keys": [{"Dimensions": {"db.wait_event.name": "IO:DataFileRead",
                                     "db.wait_event.type": "IO"}, "Total": 3.25}]},
            {**common, "GroupBy": {"Group": "db.wait_event", "Limit": 5}})  # fmt: skip
        stub.add_response("describe_dimension_keys", {
            "Keys": [{"Dimensions": {"db.sql_tokenized.statement": "SELECT * FROM orders WHERE "
                                     "sku = ?"}, "Total": 2.5}]},
            {**common, "GroupBy": {"Group": "db.sql_tokenized", "Limit": 5}})  # fmt: skip
        (finding,) = source.collect(
            Targets(db_instances=["orders-db"]), now - timedelta(minutes=30), now,
            Deadline.after(30),
        )  # fmt: skip
    insights = finding.summary["performance_insights"]
    assert insights["db_load_max"] == 4.5
    assert insights["top_wait_events"] == [{"name": "IO:DataFileRead", "type": "IO", "load": 3.25}]
    assert insights["top_sql"][0]["statement"].startswith("SELECT * FROM orders")
