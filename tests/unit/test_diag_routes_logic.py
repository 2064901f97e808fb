"""Route logic without AWS: which table a subnet uses, where its default route leads, which
findings are faults as they stand and which only given a symptom (the verdict's `requires`)."""

from __future__ import annotations

from typing import Any

from diagnostics.finding import APPLICATION, INFRASTRUCTURE, OK, Cause, Finding
from diagnostics.routes import Egress, causes_for, egress_for, route_table_for
from diagnostics.verdict import decide, standing

VPC = "vpc-1"


def _table(name: str, route: dict[str, Any] | None, subnet: str = "", main: bool = False):
    routes = [{"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local", "State": "active"}]
    if route is not None:
        routes.append({"DestinationCidrBlock": "0.0.0.0/0", "State": "active", **route})
    association = {"Main": main, **({"SubnetId": subnet} if subnet else {})}
    return {"RouteTableId": name, "VpcId": VPC, "Associations": [association], "Routes": routes}


def test_a_subnet_without_its_own_table_uses_the_main_one() -> None:
    tables = [_table("rtb-main", None, main=True), _table("rtb-a", None, subnet="subnet-a")]
    assert route_table_for("subnet-a", VPC, tables)["RouteTableId"] == "rtb-a"
    assert route_table_for("subnet-b", VPC, tables)["RouteTableId"] == "rtb-main"


def test_default_routes_followed_one_hop() -> None:
    nats = {
        "nat-ok": {"NatGatewayId": "nat-ok", "State": "available", "SubnetId": "subnet-pub"},
        "nat-private": {"State": "available", "ConnectivityType": "private"},
        "nat-failed": {"State": "failed", "FailureMessage": "Elastic IP address is in use"},
    }
    tables = [
        _table("rtb-pub", {"GatewayId": "igw-1"}, subnet="subnet-pub"),
        _table("rtb-nat", {"NatGatewayId": "nat-ok"}, subnet="subnet-nat"),
        _table("rtb-priv", {"NatGatewayId": "nat-private"}, subnet="subnet-priv"),
        _table("rtb-fail", {"NatGatewayId": "nat-failed"}, subnet="subnet-fail"),
        _table("rtb-hole", {"NatGatewayId": "nat-gone", "State": "blackhole"}, "subnet-hole"),
        _table("rtb-tgw", {"TransitGatewayId": "tgw-1"}, subnet="subnet-tgw"),
    ]

    def egress(subnet: str, client: str = "lambda:orders", public_ip: bool = False) -> Egress:
        return egress_for(client, public_ip, subnet, VPC, tables, nats)

    assert (egress("subnet-nat").via, egress("subnet-nat").problem) == ("nat-ok", "")
    assert egress("subnet-tgw").problem == ""  # beyond this VPC: not followed
    assert egress("subnet-pub", "ec2:i-1", public_ip=True).problem == ""
    assert "no public IP address" in egress("subnet-pub", "ec2:i-1").problem
    private = egress("subnet-priv")
    assert not private.broken and "private NAT gateway nat-private" in private.problem
    failed = egress("subnet-fail")
    assert failed.broken and failed.problem.endswith("is failed: Elastic IP address is in use")
    hole = egress("subnet-hole")
    assert hole.broken and "(blackhole)" in hole.problem


def test_broken_and_missing_routes_become_two_causes_with_scope() -> None:
    egress = [
        Egress("lambda:a", "subnet-1", "rtb-1", "", "no route", False),
        Egress("lambda:b", "subnet-2", "rtb-2", "nat-1", "NAT gone", True),
        Egress("lambda:b", "subnet-3", "rtb-3", "nat-2"),
    ]
    broken, missing = causes_for(egress, ["s3", "sqs"])
    assert (broken.code, broken.requires, broken.scope) == ("network.egress_broken", [],
                                                            "1 of 3 subnets")  # fmt: skip
    assert missing.code == "network.no_internet_route"
    assert missing.requires == ["network.connect_timeout", "ecs.image_pull"]
    assert missing.fix.endswith("(this VPC has: s3, sqs).")
    assert missing.resources == ["lambda:a", "subnet-1"]


def test_the_verdict_counts_a_conditional_cause_only_with_its_symptom() -> None:
    route = Cause("network.no_internet_route", INFRASTRUCTURE, "No route",
                  requires=["network.connect_timeout"])  # fmt: skip
    crash = Cause("application.exception", APPLICATION, "Unhandled exception")
    network = Finding("network", "paths", OK, causes=[route])
    logs = Finding("logs_insights", "log groups", OK, causes=[crash])

    assert standing([network, logs]) == [crash]
    verdict = decide([network, logs])
    assert verdict["domain"] == "application"
    assert "no security group or network ACL blocks the paths checked" in verdict["ruled_out"]

    logs.causes.append(Cause("network.connect_timeout", INFRASTRUCTURE, "Connect timeout"))
    verdict = decide([network, logs])
    assert verdict["domain"] == "infrastructure"
    assert verdict["headline"] == "Your infrastructure: No route"
    assert "requires" not in verdict["causes"][0]
