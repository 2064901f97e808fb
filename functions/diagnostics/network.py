"""Network: the security-group and network-ACL rules on the failing path, and what denies it;
and each client subnet's way to the internet (routes.py).

Paths come from the incident's resources: each client (a Lambda function in a VPC, an ECS
service, an EC2 instance) to each database it may use (RDS, on its endpoint port), and a VPC
Lambda function to AWS APIs (tcp/443, through a NAT or a VPC endpoint). Security groups are
stateful (an allowed request's reply is allowed); network ACLs are stateless and evaluated
lowest rule number first, so the reply on ephemeral ports needs its own allow rule.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from diagnostics import routes
from diagnostics.finding import (
    INFRASTRUCTURE,
    OK,
    Cause,
    Finding,
    finding_from_client_error,
    is_throttle,
)
from diagnostics.paging import Deadline, batches, paginate
from diagnostics.routes import Egress
from diagnostics.targets import Targets
from shared.errors import error_code

SOURCE = "network"
ANYWHERE = "0.0.0.0/0"
HTTPS = 443
# Representative ephemeral ports for replies (Linux, Windows/NAT gateway ranges).
EPHEMERAL = (1024, 32768, 49152, 65535)


@dataclass
class Endpoint:
    """One end of a path: its security groups, subnets and their CIDRs (empty = outside), and
    whether it has a public IP address (an internet gateway route needs one)."""

    name: str
    groups: list[str] = field(default_factory=list)
    subnets: list[str] = field(default_factory=list)
    cidrs: list[str] = field(default_factory=list)
    public_ip: bool = False


def _overlaps(a: str, b: str) -> bool:
    try:
        return ipaddress.ip_network(a, strict=False).overlaps(ipaddress.ip_network(b, strict=False))
    except ValueError:
        return False


def _port_in(rule: dict[str, Any], port: int) -> bool:
    if str(rule.get("IpProtocol", rule.get("Protocol"))) == "-1":
        return True
    low = rule.get("FromPort", rule.get("PortRange", {}).get("From"))
    high = rule.get("ToPort", rule.get("PortRange", {}).get("To"))
    return low is None or (low <= port <= high)


def sg_allows(groups: list[dict[str, Any]], egress: bool, port: int, peer: Endpoint) -> bool:
    """Does any rule of these groups allow tcp/`port` to or from `peer`?"""
    peer_cidrs = peer.cidrs or [ANYWHERE]
    for group in groups:
        for rule in group.get("IpPermissionsEgress" if egress else "IpPermissions", []):
            if str(rule.get("IpProtocol")) not in ("-1", "tcp", "6") or not _port_in(rule, port):
                continue
            if any(p.get("GroupId") in peer.groups for p in rule.get("UserIdGroupPairs", [])):
                return True
            for ip_range in rule.get("IpRanges", []):
                cidr = ip_range.get("CidrIp", "")
                if cidr == ANYWHERE or any(_contains(cidr, c) for c in peer_cidrs):
                    return True
    return False


def _contains(outer: str, inner: str) -> bool:
    try:
        return ipaddress.ip_network(inner, strict=False).subnet_of(
            ipaddress.ip_network(outer, strict=False)  # type: ignore[arg-type]
        )
    except (ValueError, TypeError):
        return False


def nacl_decision(
    acl: dict[str, Any], egress: bool, port: int, peer_cidrs: list[str]
) -> tuple[str, int]:
    """(allow|deny, rule number) of the first matching entry, lowest number first."""
    entries = sorted(
        (e for e in acl.get("Entries", []) if bool(e.get("Egress")) == egress),
        key=lambda e: e["RuleNumber"],
    )
    for entry in entries:
        if str(entry.get("Protocol")) not in ("-1", "6") or not _port_in(entry, port):
            continue
        if any(_overlaps(entry.get("CidrBlock", ""), c) for c in peer_cidrs or [ANYWHERE]):
            return entry.get("RuleAction", "deny"), entry["RuleNumber"]
    return "deny", 32767  # the default rule (*) denies


def path_problems(
    src: Endpoint,
    dst: Endpoint,
    port: int,
    groups: dict[str, dict[str, Any]],
    acls: dict[str, dict[str, Any]],
) -> list[str]:
    """Every rule that stops tcp/`port` from src to dst (and the reply), in plain words."""
    problems = []
    src_groups = [groups[g] for g in src.groups if g in groups]
    dst_groups = [groups[g] for g in dst.groups if g in groups]
    if src_groups and not sg_allows(src_groups, True, port, dst):
        problems.append(
            f"security groups {', '.join(src.groups)} of {src.name} allow no "
            f"outbound tcp/{port} to {dst.name}"
        )
    if dst_groups and not sg_allows(dst_groups, False, port, src):
        problems.append(
            f"security groups {', '.join(dst.groups)} of {dst.name} allow no "
            f"inbound tcp/{port} from {src.name}"
        )
    checks = (
        (src, False, True, [port], dst, "outbound"),
        (dst, True, False, [port], src, "inbound"),
        (dst, False, True, list(EPHEMERAL), src, "outbound reply"),
        (src, True, False, list(EPHEMERAL), dst, "inbound reply"),
    )
    for end, _inbound, egress, ports, peer, what in checks:
        for subnet in end.subnets:
            acl = acls.get(subnet)
            if acl is None:
                continue
            for p in ports:
                action, number = nacl_decision(acl, egress, p, peer.cidrs)
                if action == "deny":
                    rule = "the default rule (*)" if number == 32767 else f"rule {number}"
                    problems.append(
                        f"network ACL {acl.get('NetworkAclId')} of {subnet} "
                        f"({end.name}) denies {what} tcp/{p} with {rule}"
                    )
                    break
    return problems


class NetworkSource:
    """Resolves the path's endpoints and reads their rules through injected clients."""

    def __init__(self, clients: Any) -> None:
        self._ec2 = clients("ec2")
        self._rds = clients("rds")
        self._lambda = clients("lambda")
        self._ecs = clients("ecs")

    def collect(self, targets: Targets, deadline: Deadline) -> list[Finding]:
        try:
            clients, databases = self._endpoints(targets, deadline)
            ends = clients + [d for d, _ in databases]
            groups = self._groups(sorted({g for e in ends for g in e.groups}), deadline)
            acls, cidrs, vpcs = self._subnets(
                sorted({s for e in ends for s in e.subnets}), deadline
            )
        except ClientError as exc:
            return [finding_from_client_error(SOURCE, "paths", exc)]
        for endpoint in ends:
            endpoint.cidrs = [cidrs[s] for s in endpoint.subnets if s in cidrs]
        paths = [(c, d, port) for c in clients for d, port in databases]
        paths += [
            (c, Endpoint("AWS APIs / internet"), HTTPS)
            for c in clients
            if c.name.startswith("lambda:") and c.groups
        ]
        results, causes = _check(paths, groups, acls)
        egress, endpoints, routes_failed = self._egress(clients, vpcs, deadline)
        causes += routes.causes_for(egress, endpoints)
        if not paths and not egress:
            if routes_failed is not None:
                # The routes were all there was to check, and they could not be read.
                failed = finding_from_client_error(SOURCE, "paths", routes_failed)
                failed.message = f"routes not read: {failed.message}"
                return [failed]
            return [
                Finding(SOURCE, "paths", OK, "no network path between the incident's resources")
            ]
        routes_error = _routes_error(routes_failed)
        blocked = sum(1 for r in results if r["problems"])
        message = f"{blocked} of {len(paths)} network paths blocked by rules"
        cut_off = sorted({e.subnet for e in egress if e.problem})
        if cut_off:
            message += f"; no working route to the internet from {', '.join(cut_off)}"
        summary: dict[str, Any] = {"paths": results, "egress": [e.to_dict() for e in egress]}
        if routes_error:
            message += f"; {routes_error}"
            summary["routes_error"] = routes_error
        evidence = {
            "paths": results,
            "egress": summary["egress"],
            "vpc_endpoints": endpoints,
            "security_groups": list(groups.values()),
            "network_acls": list({a["NetworkAclId"]: a for a in acls.values()}.values()),
        }
        return [Finding(SOURCE, "paths", OK, message, summary, evidence, causes)]

    def _egress(
        self, clients: list[Endpoint], vpcs: dict[str, str], deadline: Deadline
    ) -> tuple[list[Egress], list[str], ClientError | None]:
        """Each client subnet's way out; a failure here is noted, the rule checks still stand."""
        ids = sorted({vpcs[s] for c in clients for s in c.subnets if s in vpcs})
        try:
            tables = routes.read_tables(self._ec2, ids, deadline)
            nats = routes.read_nats(self._ec2, tables, deadline)
            egress = [
                routes.egress_for(c.name, c.public_ip, s, vpcs[s], tables, nats)
                for c in clients
                for s in c.subnets
                if s in vpcs
            ]
            missing = any(e.problem and not e.broken for e in egress)
            endpoints = routes.read_endpoints(self._ec2, ids, deadline) if missing else []
        except ClientError as exc:
            return [], [], exc
        return egress, endpoints, None

    def _endpoints(
        self, targets: Targets, deadline: Deadline
    ) -> tuple[list[Endpoint], list[tuple[Endpoint, int]]]:
        clients: list[Endpoint] = []
        for name in targets.functions:
            try:
                config = self._lambda.get_function_configuration(FunctionName=name)
            except ClientError as exc:
                if error_code(exc) == "ResourceNotFoundException":
                    continue  # the function is gone; the other sources say so
                raise
            vpc = config.get("VpcConfig", {})
            if vpc.get("SubnetIds"):
                clients.append(
                    Endpoint(
                        f"lambda:{name}", vpc.get("SecurityGroupIds", []), vpc.get("SubnetIds", [])
                    )
                )
        for cluster, service in targets.ecs_services:
            for svc in self._ecs.describe_services(cluster=cluster, services=[service]).get(
                "services", []
            ):
                awsvpc = svc.get("networkConfiguration", {}).get("awsvpcConfiguration", {})
                if awsvpc:
                    clients.append(
                        Endpoint(
                            f"ecs:{cluster}/{service}",
                            awsvpc.get("securityGroups", []),
                            awsvpc.get("subnets", []),
                            public_ip=awsvpc.get("assignPublicIp") == "ENABLED",
                        )
                    )
        if targets.instances:
            reservations = paginate(
                self._ec2,
                "describe_instances",
                "Reservations",
                deadline,
                InstanceIds=targets.instances,
            ).items
            for instance in (i for r in reservations for i in r.get("Instances", [])):
                clients.append(
                    Endpoint(
                        f"ec2:{instance['InstanceId']}",
                        [g["GroupId"] for g in instance.get("SecurityGroups", [])],
                        [instance["SubnetId"]] if instance.get("SubnetId") else [],
                        public_ip=bool(instance.get("PublicIpAddress")),
                    )
                )
        databases: list[tuple[Endpoint, int]] = []
        if targets.db_instances:
            dbs = paginate(
                self._rds,
                "describe_db_instances",
                "DBInstances",
                deadline,
                Filters=[{"Name": "db-instance-id", "Values": targets.db_instances}],
            ).items
            for db in dbs:
                subnets = [
                    s["SubnetIdentifier"] for s in db.get("DBSubnetGroup", {}).get("Subnets", [])
                ]
                groups = [g["VpcSecurityGroupId"] for g in db.get("VpcSecurityGroups", [])]
                port = int(db.get("Endpoint", {}).get("Port") or db.get("DbInstancePort") or 0)
                if port:
                    databases.append(
                        (Endpoint(f"rds:{db['DBInstanceIdentifier']}", groups, subnets), port)
                    )
        return clients, databases

    def _groups(self, ids: list[str], deadline: Deadline) -> dict[str, dict[str, Any]]:
        groups: dict[str, dict[str, Any]] = {}
        for batch in batches(ids, 200):
            for group in paginate(
                self._ec2, "describe_security_groups", "SecurityGroups", deadline, GroupIds=batch
            ).items:
                groups[group["GroupId"]] = group
        return groups

    def _subnets(
        self, ids: list[str], deadline: Deadline
    ) -> tuple[dict[str, dict[str, Any]], dict[str, str], dict[str, str]]:
        """Network ACL, CIDR and VPC of each subnet."""
        if not ids:
            return {}, {}, {}
        subnets = paginate(self._ec2, "describe_subnets", "Subnets", deadline, SubnetIds=ids).items
        cidrs = {s["SubnetId"]: s["CidrBlock"] for s in subnets}
        vpcs = {s["SubnetId"]: s["VpcId"] for s in subnets}
        acls: dict[str, dict[str, Any]] = {}
        for acl in paginate(
            self._ec2,
            "describe_network_acls",
            "NetworkAcls",
            deadline,
            Filters=[{"Name": "association.subnet-id", "Values": ids}],
        ).items:
            for association in acl.get("Associations", []):
                if association.get("SubnetId") in ids:
                    acls[association["SubnetId"]] = acl
        return acls, cidrs, vpcs


def _routes_error(error: ClientError | None) -> str:
    if error is None:
        return ""
    why = f"throttled by AWS ({error_code(error)})" if is_throttle(error) else error_code(error)
    return f"routes not read: {why}"


def _check(
    paths: list[tuple[Endpoint, Endpoint, int]],
    groups: dict[str, dict[str, Any]],
    acls: dict[str, dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[Cause]]:
    """Each path's problems, and a cause for each blocked one."""
    results = []
    causes = []
    for src, dst, port in paths:
        problems = path_problems(src, dst, port, groups, acls)
        results.append({"from": src.name, "to": dst.name, "port": port, "problems": problems})
        if problems:
            causes.append(
                Cause(
                    "network.blocked",
                    INFRASTRUCTURE,
                    f"tcp/{port} from {src.name} to {dst.name} is blocked",
                    "Add the missing allow rule (security groups: inbound on the target, "
                    "outbound on the client; network ACLs: both directions, including the "
                    "reply's ephemeral ports 1024-65535).",
                    f"1 of {len(paths)} network paths",
                    [src.name, dst.name],
                    problems[:3],
                )
            )
    return results, causes
