"""Egress: can a client's subnet reach the internet (and public AWS endpoints)?

A subnet uses the route table associated with it, else its VPC's main table. Its 0.0.0.0/0
route decides: to an available public NAT gateway that itself sits in a subnet routing to an
internet gateway (works); straight to an internet gateway (works only with a public IP, which
Lambda functions in a VPC never get); to a transit gateway, peering or appliance (beyond this
VPC, not followed); or nowhere.

A subnet without a route out is often deliberate (private by design, VPC endpoints instead),
so that finding only counts once some source sees what it causes (`REQUIRES`: outbound
connect timeouts, ECS image pulls failing). A route that is broken (blackhole, a NAT gateway
that is not available or has no way out itself) is a fault whatever the symptoms.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from diagnostics.finding import INFRASTRUCTURE, Cause
from diagnostics.paging import Deadline, paginate

ANYWHERE = "0.0.0.0/0"
# Symptoms (cause codes of other sources) that a missing route to the internet explains.
REQUIRES = ["network.connect_timeout", "ecs.image_pull"]


@dataclass
class Egress:
    """How one client leaves one subnet; `problem` in plain words, `broken` if it is a fault
    whatever the symptoms."""

    client: str
    subnet: str
    route_table: str = ""
    via: str = ""
    problem: str = ""
    broken: bool = False

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def route_table_for(subnet: str, vpc: str, tables: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The subnet's explicitly associated table, else its VPC's main one."""
    for table in tables:
        if any(a.get("SubnetId") == subnet for a in table.get("Associations", [])):
            return table
    for table in tables:
        if table.get("VpcId", vpc) == vpc and any(
            a.get("Main") for a in table.get("Associations", [])
        ):
            return table
    return None


def default_route(table: dict[str, Any] | None) -> dict[str, Any] | None:
    for route in (table or {}).get("Routes", []):
        if route.get("DestinationCidrBlock") == ANYWHERE:
            return route
    return None


def _target(route: dict[str, Any]) -> str:
    for key in (
        "NatGatewayId",
        "GatewayId",
        "TransitGatewayId",
        "NetworkInterfaceId",
        "InstanceId",
        "VpcPeeringConnectionId",
        "CarrierGatewayId",
        "LocalGatewayId",
        "CoreNetworkArn",
    ):
        if route.get(key):
            return str(route[key])
    return "?"


def egress_for(
    client: str,
    public_ip: bool,
    subnet: str,
    vpc: str,
    tables: list[dict[str, Any]],
    nats: dict[str, dict[str, Any]],
) -> Egress:
    """Follow the subnet's default route one hop (and the NAT gateway's own subnet)."""
    table = route_table_for(subnet, vpc, tables)
    found = Egress(client, subnet, (table or {}).get("RouteTableId", ""))
    route = default_route(table)
    if table is None:
        return found
    if route is None:
        found.problem = (
            f"no route to the internet from {subnet}: route table {found.route_table} has no "
            f"{ANYWHERE} route"
        )
        return found
    found.via = _target(route)
    if route.get("State") == "blackhole":
        found.problem = (
            f"the {ANYWHERE} route of {found.route_table} ({subnet}) points to {found.via}, "
            "which no longer exists (blackhole)"
        )
        found.broken = True
    elif found.via.startswith("nat-"):
        _through_nat(found, nats.get(found.via), vpc, tables)
    elif found.via.startswith("igw-") and not public_ip:
        why = "Lambda functions in a VPC never get one" if client.startswith("lambda:") else ""
        found.problem = (
            f"{subnet} routes {ANYWHERE} to internet gateway {found.via}, but {client} has no "
            f"public IP address{f' ({why})' if why else ''}"
        )
    return found


def _through_nat(
    found: Egress, nat: dict[str, Any] | None, vpc: str, tables: list[dict[str, Any]]
) -> None:
    state = (nat or {}).get("State", "gone")
    if nat is None or state != "available":
        failure = (nat or {}).get("FailureMessage", "")
        found.problem = (
            f"{found.subnet} routes {ANYWHERE} to NAT gateway {found.via}, which is {state}"
            + (f": {failure}" if failure else "")
        )
        found.broken = True
        return
    if nat.get("ConnectivityType") == "private":
        found.problem = (
            f"{found.subnet} routes {ANYWHERE} to private NAT gateway {found.via}, which has no "
            "way to the internet"
        )
        return
    home = route_table_for(nat.get("SubnetId", ""), vpc, tables)
    out = default_route(home)
    if not (out and str(out.get("GatewayId", "")).startswith("igw-")):
        found.problem = (
            f"NAT gateway {found.via} sits in {nat.get('SubnetId')}, whose route table "
            f"{(home or {}).get('RouteTableId', '?')} has no {ANYWHERE} route to an internet "
            "gateway"
        )
        found.broken = True


def causes_for(egress: list[Egress], endpoints: list[str]) -> list[Cause]:
    """A broken route (a fault as it stands) and a missing one (a fault given the symptoms)."""
    causes = []
    subnets = sorted({e.subnet for e in egress})
    for broken in (True, False):
        hits = [e for e in egress if e.problem and e.broken == broken]
        if not hits:
            continue
        where = ", ".join(sorted({e.subnet for e in hits}))
        clients = sorted({e.client for e in hits})
        if broken:
            cause = Cause(
                "network.egress_broken",
                INFRASTRUCTURE,
                f"The route to the internet from {where} is broken",
                "Point the subnets' 0.0.0.0/0 route at an available NAT gateway that sits in a "
                "public subnet (one whose route table sends 0.0.0.0/0 to an internet gateway); "
                "replace a failed or deleted NAT gateway.",
                ongoing=True,
            )
        else:
            cause = Cause(
                "network.no_internet_route",
                INFRASTRUCTURE,
                f"No route to the internet from {where}",
                "Route 0.0.0.0/0 from these subnets to a NAT gateway in a public subnet, or "
                "reach the AWS services the code calls through VPC endpoints"
                + (f" (this VPC has: {', '.join(endpoints)})" if endpoints else "")
                + ".",
                requires=list(REQUIRES),
            )
        cause.scope = f"{len({e.subnet for e in hits})} of {len(subnets)} subnets"
        cause.resources = clients + sorted({e.subnet for e in hits})
        cause.evidence = [f"{e.client}: {e.problem}" for e in hits[:3]]
        causes.append(cause)
    return causes


def read_tables(ec2: Any, vpcs: list[str], deadline: Deadline) -> list[dict[str, Any]]:
    """Every route table of these VPCs in one listing (subnets fall back to the main one)."""
    if not vpcs:
        return []
    return paginate(
        ec2, "describe_route_tables", "RouteTables", deadline,
        Filters=[{"Name": "vpc-id", "Values": vpcs}],
    ).items  # fmt: skip


def read_nats(ec2: Any, tables: list[dict[str, Any]], deadline: Deadline) -> dict[str, Any]:
    """The NAT gateways default routes point at; a filter (not ids) so a deleted one is simply
    absent instead of failing the call."""
    ids = sorted({str(r["NatGatewayId"]) for t in tables if (r := default_route(t))
                  and r.get("NatGatewayId")})  # fmt: skip
    if not ids:
        return {}
    listing = paginate(
        ec2, "describe_nat_gateways", "NatGateways", deadline,
        Filters=[{"Name": "nat-gateway-id", "Values": ids}],
    )  # fmt: skip
    return {n["NatGatewayId"]: n for n in listing.items}


def read_endpoints(ec2: Any, vpcs: list[str], deadline: Deadline) -> list[str]:
    """Short service names of the VPCs' endpoints (`s3`, `sqs`, ...), for the fix."""
    listing = paginate(
        ec2, "describe_vpc_endpoints", "VpcEndpoints", deadline,
        Filters=[{"Name": "vpc-id", "Values": vpcs}],
    )  # fmt: skip
    return sorted({str(e.get("ServiceName", "")).rsplit(".", 1)[-1] for e in listing.items})
