"""The network source's routes in moto: a VPC Lambda's subnet without a way to the internet (a
fault only once connections time out), a NAT gateway that is gone (a fault as it stands), a
public subnet a VPC function cannot use, an instance with and without a public IP, and a
failure to read routes that leaves the rule checks standing."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from diagnostics.finding import OK, Finding
from diagnostics.network import NetworkSource
from diagnostics.paging import Deadline
from diagnostics.signatures import causes_in
from diagnostics.targets import Targets
from diagnostics.verdict import decide

from .diag_stubs import REGION, client, count_calls

CONNECT_TIMEOUT = (
    "[ERROR] ConnectTimeoutError: Connect timeout on endpoint URL: "
    '"https://sqs.us-east-1.amazonaws.com/"'
)


class Vpc:
    """A VPC with a public subnet (route to an internet gateway) and helpers to add more."""

    def __init__(self) -> None:
        self.ec2 = boto3.client("ec2", region_name=REGION)
        self.id = self.ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        self.igw = self.ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
        self.ec2.attach_internet_gateway(InternetGatewayId=self.igw, VpcId=self.id)
        self.sg = self.ec2.create_security_group(GroupName="app", Description="app",
                                                 VpcId=self.id)["GroupId"]  # fmt: skip
        self._n = 0
        self.public = self.subnet(GatewayId=self.igw)

    def subnet(self, **default_route: str) -> str:
        """A subnet with its own route table; `default_route` is the 0.0.0.0/0 target, if any."""
        self._n += 1
        created = self.ec2.create_subnet(VpcId=self.id, CidrBlock=f"10.0.{self._n}.0/24",
                                         AvailabilityZone=f"{REGION}a")  # fmt: skip
        subnet = created["Subnet"]["SubnetId"]
        table = self.ec2.create_route_table(VpcId=self.id)["RouteTable"]["RouteTableId"]
        if default_route:
            self.ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0",
                                  **default_route)  # fmt: skip
        self.ec2.associate_route_table(RouteTableId=table, SubnetId=subnet)
        return subnet

    def nat(self, subnet: str | None = None) -> str:
        allocation = self.ec2.allocate_address(Domain="vpc")["AllocationId"]
        created = self.ec2.create_nat_gateway(SubnetId=subnet or self.public,
                                              AllocationId=allocation)  # fmt: skip
        return str(created["NatGateway"]["NatGatewayId"])


def _function(name: str, subnet: str, sg: str) -> None:
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("app.py", "def handler(event, context):\n    return {}\n")
    boto3.client("lambda", region_name=REGION).create_function(
        FunctionName=name, Runtime="python3.13", Role=role, Handler="app.handler",
        Code={"ZipFile": archive.getvalue()},
        VpcConfig={"SubnetIds": [subnet], "SecurityGroupIds": [sg]},
    )  # fmt: skip


def _collect(targets: Targets, ec2: Any = None) -> Finding:
    clients = {"ec2": ec2} if ec2 is not None else {}
    source = NetworkSource(lambda service, region=None: clients.get(service) or client(service))
    (finding,) = source.collect(targets, Deadline.after(30))
    return finding


def _logs(*lines: str) -> Finding:
    return Finding("logs_insights", "log groups", OK, "",
                   causes=causes_in(("/aws/lambda/orders", line) for line in lines))  # fmt: skip


def test_private_subnet_without_a_route_out_is_the_cause_once_connections_time_out(moto) -> None:
    vpc = Vpc()
    private = vpc.subnet()
    _function("orders", private, vpc.sg)
    ec2 = client("ec2")
    calls = count_calls(ec2)
    finding = _collect(Targets(functions=["orders"]), ec2)

    assert calls["DescribeRouteTables"] == 1 and calls["DescribeVpcEndpoints"] == 1
    assert f"no working route to the internet from {private}" in finding.message
    (egress,) = finding.summary["egress"]
    assert (egress["client"], egress["subnet"], egress["broken"]) == ("lambda:orders", private,
                                                                      False)  # fmt: skip
    cause = next(c for c in finding.causes if c.code == "network.no_internet_route")
    assert cause.title == f"No route to the internet from {private}"
    assert cause.resources == ["lambda:orders", private]

    # Alone, a private subnet is a design choice: the verdict does not blame it.
    assert decide([finding])["domain"] == "undetermined"
    verdict = decide([finding, _logs(CONNECT_TIMEOUT)])
    assert verdict["domain"] == "infrastructure"
    assert verdict["headline"] == f"Your infrastructure: No route to the internet from {private}"
    assert [c["code"] for c in verdict["causes"]] == ["network.no_internet_route",
                                                      "network.connect_timeout"]  # fmt: skip


def test_endpoints_the_vpc_has_are_named_in_the_fix(moto) -> None:
    vpc = Vpc()
    private = vpc.subnet()
    vpc.ec2.create_vpc_endpoint(VpcId=vpc.id, ServiceName=f"com.amazonaws.{REGION}.s3")
    _function("orders", private, vpc.sg)
    cause = next(c for c in _collect(Targets(functions=["orders"])).causes
                 if c.code == "network.no_internet_route")  # fmt: skip
    assert cause.fix.endswith("(this VPC has: s3).")


def test_a_deleted_nat_gateway_is_a_fault_without_any_symptom(moto) -> None:
    vpc = Vpc()
    nat = vpc.nat()
    private = vpc.subnet(NatGatewayId=nat)
    _function("orders", private, vpc.sg)
    assert _collect(Targets(functions=["orders"])).summary["egress"][0]["problem"] == ""

    vpc.ec2.delete_nat_gateway(NatGatewayId=nat)
    finding = _collect(Targets(functions=["orders"]))
    (cause,) = [c for c in finding.causes if c.code.startswith("network.egress")]
    assert cause.code == "network.egress_broken" and cause.requires == []
    assert cause.evidence == [
        f"lambda:orders: {private} routes 0.0.0.0/0 to NAT gateway {nat}, which is deleted"
    ]
    assert decide([finding])["domain"] == "infrastructure"


def test_a_nat_gateway_without_a_way_out_itself_is_broken(moto) -> None:
    vpc = Vpc()
    stranded = vpc.subnet()  # no route to the internet gateway
    nat = vpc.nat(stranded)
    private = vpc.subnet(NatGatewayId=nat)
    _function("orders", private, vpc.sg)
    (egress,) = _collect(Targets(functions=["orders"])).summary["egress"]
    assert egress["broken"] is True
    assert egress["problem"].startswith(f"NAT gateway {nat} sits in {stranded}, whose route table")


def test_a_vpc_function_in_a_public_subnet_has_no_way_out(moto) -> None:
    vpc = Vpc()
    _function("orders", vpc.public, vpc.sg)
    (egress,) = _collect(Targets(functions=["orders"])).summary["egress"]
    assert egress["via"] == vpc.igw
    assert egress["problem"] == (
        f"{vpc.public} routes 0.0.0.0/0 to internet gateway {vpc.igw}, but lambda:orders has no "
        "public IP address (Lambda functions in a VPC never get one)"
    )


@pytest.mark.parametrize("public_ip", [True, False])
def test_an_instance_needs_a_public_ip_behind_an_internet_gateway(moto, public_ip: bool) -> None:
    vpc = Vpc()
    image = vpc.ec2.describe_images()["Images"][0]["ImageId"]
    (instance,) = vpc.ec2.run_instances(
        ImageId=image, MinCount=1, MaxCount=1,
        NetworkInterfaces=[{"DeviceIndex": 0, "SubnetId": vpc.public, "Groups": [vpc.sg],
                            "AssociatePublicIpAddress": public_ip}],
    )["Instances"]  # fmt: skip
    finding = _collect(Targets(instances=[instance["InstanceId"]]))
    (egress,) = finding.summary["egress"]
    assert bool(egress["problem"]) is not public_ip


def test_routes_that_cannot_be_read_leave_the_rule_checks(moto) -> None:
    vpc = Vpc()
    _function("orders", vpc.subnet(), vpc.sg)
    ec2 = client("ec2")

    def deny(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "UnauthorizedOperation", "Message": "no"}},
                          "DescribeRouteTables")  # fmt: skip

    ec2.meta.events.register("before-call.ec2.DescribeRouteTables", deny)
    finding = _collect(Targets(functions=["orders"]), ec2)
    assert finding.status == "ok"
    assert finding.summary["routes_error"] == "routes not read: UnauthorizedOperation"
    assert finding.summary["paths"][0]["to"] == "AWS APIs / internet"
