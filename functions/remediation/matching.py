"""Which rule applies to a diagnosed incident (first match wins) and the parameters it runs
with, filled from the incident.

A rule matches when every condition it gives holds: the incident's severity, its alarm name
(a regular expression, searched), the verdict's fault domain, a cause code seen in the
findings (globs), and at least one resource of the rule's type in scope. The resources in
scope are those the diagnosis blames (the resources of the matching causes, when the rule
matches on causes and they name resources of that type), else the incident's own resources of
that type: restarting the one impaired instance of three, not all three. `{resource.id}` in
a list parameter gives one value per resource in scope; in a single-valued one it needs
exactly one. AutomationAssumeRole is always the stack's automation role.

The first matching rule is the proposal; if its parameters cannot be filled (no alarm name
for `{alarm.name}`, two databases for a one-database runbook, a value the document forbids)
the answer is no proposal with that reason, never a later rule in its place. The automation
role and the team's documents live in the runbook's own account and region, so an incident
elsewhere gets no proposal either, with that reason.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from incidents.model import Incident
from remediation import placeholders
from remediation.documents import ASSUME_ROLE, EC2_INSTANCE, RDS_INSTANCE, DocumentSpec
from remediation.observed import Observation, ObservedCause
from remediation.proposal import NoProposal, Proposal, new_proposal
from remediation.rules import CompiledRule, RemediationConfig, cause_matches

ARN_TYPE = "AWS::ARN"
# SSM limit on one parameter value (StartAutomationExecution: 1-512 characters).
MAX_VALUE_LENGTH = 512
# What a resource id of a type looks like, to take blamed resources from the causes only
# where it is unambiguous (a target group's targets may be IPs or Lambda ARNs).
_ID_SHAPES = {
    EC2_INSTANCE: re.compile(r"^i-[0-9a-f]{8}(?:[0-9a-f]{9})?$"),
    RDS_INSTANCE: re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,62}$"),
}


class NotFilled(Exception):
    """The matching rule's parameters cannot be filled for this incident; says why."""


def resource_key(resource_type: str, resource_id: str) -> tuple[str, str]:
    """(type, id) with ARNs reduced to the id the runbooks take: an instance id from an EC2
    ARN, a DB identifier from an RDS ARN, whether typed as such or as `AWS::ARN`."""
    rid = resource_id
    if rid.startswith("arn:"):
        parts = rid.split(":", 5)
        if len(parts) == 6:
            service, rest = parts[2], parts[5]
            if service == "ec2" and rest.startswith("instance/"):
                return EC2_INSTANCE, rest.split("/", 1)[1]
            if service == "rds" and rest.startswith("db:"):
                return RDS_INSTANCE, rest[3:]
    return resource_type, rid


def incident_resources(incident: Incident, resource_type: str) -> list[str]:
    """The incident's resources of `resource_type`, in order, once each."""
    found: list[str] = []
    for resource in incident.resources:
        kind, rid = resource_key(resource.type, resource.id)
        if kind == resource_type and rid not in found:
            found.append(rid)
    return found


def matching_causes(rule: CompiledRule, observation: Observation) -> list[ObservedCause]:
    """The causes seen whose code matches one of the rule's cause globs."""
    return [
        cause
        for cause in observation.causes
        if any(cause_matches(pattern, cause.code) for pattern in rule.match.causes)
    ]


def in_scope(rule: CompiledRule, incident: Incident, observation: Observation) -> list[str]:
    """The resources the rule acts on (see the module's docstring)."""
    kind = rule.match.resource_type
    if not kind:
        return []
    shape = _ID_SHAPES.get(kind)
    blamed: list[str] = []
    if rule.match.causes and shape is not None:
        for cause in matching_causes(rule, observation):
            for raw in cause.resources or ():
                rtype, rid = resource_key(kind, raw)
                if rtype == kind and shape.fullmatch(rid) and rid not in blamed:
                    blamed.append(rid)
    return blamed or incident_resources(incident, kind)


def matches(rule: CompiledRule, incident: Incident, observation: Observation) -> bool:
    """Every condition the rule gives holds for this incident and its diagnosis."""
    match = rule.match
    if match.severities and incident.severity not in match.severities:
        return False
    if match.alarm_name and not re.search(match.alarm_name, incident.alarm_name or ""):
        return False
    if match.domains and observation.domain not in match.domains:
        return False
    if match.causes and not matching_causes(rule, observation):
        return False
    return not match.resource_type or bool(in_scope(rule, incident, observation))


def _values(incident: Incident, rule: CompiledRule, region: str, account: str) -> dict[str, str]:
    values = {
        placeholders.INCIDENT_ID: incident.incident_id,
        placeholders.RESOURCE_TYPE: rule.match.resource_type,
    }
    for name, value in (
        (placeholders.INCIDENT_REGION, incident.region or region),
        (placeholders.INCIDENT_ACCOUNT, incident.account or account),
        (placeholders.ALARM_NAME, incident.alarm_name or ""),
    ):
        if value:
            values[name] = value
    return values


_MISSING = {
    placeholders.ALARM_NAME: "no alarm opened the incident",
    placeholders.INCIDENT_REGION: "the incident's region is not known",
    placeholders.INCIDENT_ACCOUNT: "the incident's account is not known",
}


def _fill_item(item: str, values: dict[str, str], targets: Sequence[str], name: str) -> list[str]:
    used = placeholders.names_in(item)
    for placeholder in used:
        if placeholder in _MISSING and placeholder not in values:
            raise NotFilled(f"{name} needs {{{placeholder}}}, but {_MISSING[placeholder]}")
    if placeholders.RESOURCE_ID not in used:
        return [placeholders.fill(item, values)]
    return [placeholders.fill(item, {**values, placeholders.RESOURCE_ID: t}) for t in targets]


def fill_parameters(
    rule: CompiledRule,
    document: DocumentSpec,
    incident: Incident,
    targets: Sequence[str],
    *,
    automation_role_arn: str,
    region: str = "",
    account: str = "",
) -> dict[str, list[str]]:
    """The StartAutomationExecution Parameters; raises NotFilled with the reason."""
    values = _values(incident, rule, region, account)
    filled: dict[str, list[str]] = {}
    for name, items in rule.parameters.items():
        spec = document.parameter(name)
        out: list[str] = []
        for item in items:
            out += [v for v in _fill_item(item, values, targets, name) if v not in out]
        if spec is not None and spec.single and len(out) != 1:
            listed = ", ".join(targets)
            raise NotFilled(
                f"{document.name} takes one {name}, but {len(out)} resources are in scope "
                f"({listed}): narrow the rule (alarmName, cause) or use a runbook that takes a list"
            )
        if not out:
            raise NotFilled(f"no value for {name}: no resource of the rule's type is in scope")
        for value in out:
            if len(value) > MAX_VALUE_LENGTH:
                raise NotFilled(f"{name}: a value longer than SSM's {MAX_VALUE_LENGTH} characters")
            if spec is not None and spec.allowed_values and value not in spec.allowed_values:
                raise NotFilled(f"{name}={value!r} is not one of {', '.join(spec.allowed_values)}")
            if (
                spec is not None
                and spec.allowed_pattern
                and not re.fullmatch(spec.allowed_pattern, value)
            ):
                raise NotFilled(f"{name}={value!r} does not match {spec.allowed_pattern}")
        filled[name] = out
    if document.parameter(ASSUME_ROLE) is not None:
        filled[ASSUME_ROLE] = [automation_role_arn]
    return filled


def _reason(
    rule: CompiledRule, incident: Incident, observation: Observation, causes: list[ObservedCause]
) -> str:
    parts = [f"rule {rule.id}"]
    if rule.match.domains:
        parts.append(f"verdict {observation.domain}")
    if causes:
        parts.append("cause " + ", ".join(sorted({c.code for c in causes})))
    if rule.match.severities:
        parts.append(f"severity {incident.severity}")
    if rule.match.alarm_name:
        parts.append(f"alarm {incident.alarm_name}")
    return "; ".join(parts)


def _no_rule(incident: Incident, observation: Observation, count: int) -> NoProposal:
    codes = ", ".join(sorted(observation.codes)) or "none"
    return NoProposal(
        incident_id=incident.incident_id,
        reason=(
            f"no remediation rule matches (of {count}): verdict {observation.domain}, causes "
            f"{codes}, severity {incident.severity}"
        ),
    )


def propose(
    config: RemediationConfig,
    incident: Incident,
    observation: Observation,
    *,
    automation_role_arn: str,
    now: datetime,
    responders: Sequence[str] = (),
    home_account: str = "",
    home_region: str = "",
    attempt: int = 1,
) -> Proposal | NoProposal:
    """The remediation to propose for this incident, or why there is none.

    `responders` are the configured Slack responders, the approvers of a rule that names
    none; `home_account` and `home_region` are where the runbook (and its automation role)
    runs; `attempt` numbers a second proposal for the same incident and rule (a new client
    token)."""
    rule = next((r for r in config.rules if matches(r, incident, observation)), None)
    if rule is None:
        return _no_rule(incident, observation, len(config.rules))

    def refuse(reason: str) -> NoProposal:
        return NoProposal(incident_id=incident.incident_id, rule_id=rule.id, reason=reason)

    if home_account and incident.account and incident.account != home_account:
        return refuse(
            f"the incident is in account {incident.account}: remediation runs only in the "
            f"runbook's account {home_account}"
        )
    if home_region and incident.region and incident.region != home_region:
        return refuse(
            f"the incident is in {incident.region}: remediation runs only in the runbook's "
            f"region {home_region}"
        )
    document = config.document(rule)
    targets = in_scope(rule, incident, observation)
    try:
        parameters = fill_parameters(
            rule,
            document,
            incident,
            targets,
            automation_role_arn=automation_role_arn,
            region=home_region,
            account=home_account,
        )
    except (NotFilled, placeholders.PlaceholderError) as exc:
        return refuse(f"rule {rule.id} ({document.name}): {exc}")
    causes = matching_causes(rule, observation) if rule.match.causes else []
    return new_proposal(
        incident_id=incident.incident_id,
        rule_id=rule.id,
        description=rule.description,
        document=rule.document,
        document_name=document.name,
        parameters=parameters,
        resource_type=rule.match.resource_type,
        targets=targets,
        causes=sorted({c.code for c in causes}),
        reason=_reason(rule, incident, observation, causes),
        severity=incident.severity,
        approvers=list(rule.approvers or responders),
        auto_approved=incident.severity in rule.auto_approve,
        approval_timeout_seconds=rule.approval_timeout_seconds,
        execution_timeout_seconds=rule.execution_timeout_seconds,
        now=now,
        attempt=attempt,
    )
