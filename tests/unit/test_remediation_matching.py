"""Rule matching and parameter filling (functions/remediation/matching.py): the first rule whose
every condition holds is proposed, with parameters filled from the incident and the diagnosis,
AutomationAssumeRole always the stack's role; anything that cannot be filled is "no proposal"
with the reason, never a later rule in its place."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from incidents.model import Incident, Resource
from remediation.matching import in_scope, propose, resource_key
from remediation.observed import Observation, ObservedCause
from remediation.proposal import NoProposal, Proposal, client_token
from remediation.rules import RemediationConfig, load_section

ROLE = "arn:aws:iam::123456789012:role/IncidentRunbook-RemediationRole"
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
ACCOUNT = "123456789012"
REGION = "eu-west-1"
WEB = [("AWS::EC2::Instance", "i-0aaaaaaaaaaaaaaa1"), ("AWS::EC2::Instance", "i-0bbbbbbbbbbbbbbb2")]
RESTART: dict[str, Any] = {
    "id": "ec2-system-status",
    "match": {
        "domain": ["aws", "infrastructure"],
        "cause": "ec2.system_status_*",
        "resourceType": "AWS::EC2::Instance",
        "alarmName": "^web-",
        "severity": ["critical", "high"],
    },
    "document": "AWS-RestartEC2Instance",
    "parameters": {"InstanceId": ["{resource.id}"]},
}
REBOOT: dict[str, Any] = {
    "id": "rds-reboot",
    "match": {"cause": ["rds.incompatible-parameters", "rds.incompatible-network"]},
    "document": "AWS-RebootRdsInstance",
    "parameters": {"InstanceId": "{resource.id}"},
    "autoApprove": ["standard"],
    "approvers": ["U0DBA0001"],
}


def _config(*rules: dict[str, Any]) -> RemediationConfig:
    return load_section({"rules": list(rules)}).config


def _incident(
    resources: list[tuple[str, str]] = WEB, severity: str = "high", **fields: Any
) -> Incident:
    base: dict[str, Any] = {
        "incident_id": "inc-20260302-web",
        "title": "web down",
        "severity": severity,
        "alarm_name": "web-5xx",
        "account": ACCOUNT,
        "region": REGION,
        "opened_at": "2026-03-02T09:55:00Z",
        "resources": [Resource(type=t, id=i) for t, i in resources],
    }
    return Incident(**{**base, **fields})


def _observation(domain: str = "aws", *causes: ObservedCause) -> Observation:
    return Observation(domain=domain, headline=f"{domain} side", causes=causes)


def _system(*instances: str, source: str = "ec2") -> ObservedCause:
    return ObservedCause(
        code="ec2.system_status_impaired",
        domain="aws",
        title="System status check failed",
        resources=tuple(instances),
        source=source,
    )


def _propose(config: RemediationConfig, incident: Incident, observation: Observation, **kw: Any):
    return propose(
        config,
        incident,
        observation,
        automation_role_arn=ROLE,
        now=NOW,
        home_account=ACCOUNT,
        home_region=REGION,
        **kw,
    )


def test_an_ec2_system_status_incident_proposes_the_restart_of_the_impaired_instance() -> None:
    observation = _observation("aws", _system("i-0bbbbbbbbbbbbbbb2"))
    proposal = _propose(_config(RESTART), _incident(), observation, responders=["U0ALICE01"])
    assert isinstance(proposal, Proposal)
    assert proposal.rule_id == "ec2-system-status"
    assert proposal.document_name == "AWS-RestartEC2Instance"
    # Only the instance the diagnosis blames, not every instance of the alarm.
    assert proposal.parameters == {
        "InstanceId": ["i-0bbbbbbbbbbbbbbb2"],
        "AutomationAssumeRole": [ROLE],
    }
    assert proposal.targets == ["i-0bbbbbbbbbbbbbbb2"]
    assert proposal.causes == ["ec2.system_status_impaired"]
    assert "verdict aws" in proposal.reason and "ec2.system_status_impaired" in proposal.reason
    assert proposal.approvers == ["U0ALICE01"]  # the configured responders: the rule names none
    assert not proposal.auto_approved
    assert proposal.proposed_at == "2026-03-02T10:00:00Z"
    assert proposal.expires_at == "2026-03-02T10:15:00Z"
    assert proposal.client_token == client_token("inc-20260302-web", "ec2-system-status")


def test_a_string_list_gets_one_value_per_resource_in_scope() -> None:
    # A cause naming no resources: the incident's own instances are in scope.
    observation = _observation("aws", _system())
    proposal = _propose(_config(RESTART), _incident(), observation)
    assert isinstance(proposal, Proposal)
    assert proposal.parameters["InstanceId"] == ["i-0aaaaaaaaaaaaaaa1", "i-0bbbbbbbbbbbbbbb2"]


def test_blamed_resources_outside_the_alarm_are_used_when_they_have_the_types_shape() -> None:
    # A target group's alarm; the diagnosis names the stopped instance behind it and an IP.
    rule = {
        "id": "start-stopped-target",
        "match": {"cause": "elb.target_invalid_state", "resourceType": "AWS::EC2::Instance"},
        "document": "AWS-StartEC2Instance",
        "parameters": {"InstanceId": ["{resource.id}"]},
    }
    cause = ObservedCause(
        code="elb.target_invalid_state", resources=("i-0ccccccccccccccc3", "10.0.1.7"), source="elb"
    )
    incident = _incident([("AWS::ElasticLoadBalancingV2::TargetGroup", "targetgroup/web/abc")])
    proposal = _propose(_config(rule), incident, _observation("infrastructure", cause))
    assert isinstance(proposal, Proposal)
    assert proposal.parameters["InstanceId"] == ["i-0ccccccccccccccc3"]


def test_arns_are_reduced_to_the_ids_the_runbooks_take() -> None:
    assert resource_key("AWS::ARN", "arn:aws:ec2:eu-west-1:1:instance/i-0aaaaaaaaaaaaaaa1") == (
        "AWS::EC2::Instance",
        "i-0aaaaaaaaaaaaaaa1",
    )
    assert resource_key("AWS::RDS::DBInstance", "arn:aws:rds:eu-west-1:1:db:orders") == (
        "AWS::RDS::DBInstance",
        "orders",
    )
    incident = _incident([("AWS::ARN", "arn:aws:rds:eu-west-1:1:db:orders")])
    config = _config(REBOOT)
    observation = _observation(
        "infrastructure", ObservedCause(code="rds.incompatible-parameters", resources=("orders",))
    )
    assert in_scope(config.rules[0], incident, observation) == ["orders"]


@pytest.mark.parametrize(
    ("incident", "observation"),
    [
        (_incident(severity="standard"), _observation("aws", _system())),  # severity
        (_incident(alarm_name="api-5xx"), _observation("aws", _system())),  # alarm name
        (_incident(alarm_name=None), _observation("aws", _system())),  # no alarm at all
        (_incident(), _observation("application", _system())),  # verdict domain
        (_incident(), _observation("aws", ObservedCause(code="ec2.instance_status_impaired"))),
        (_incident(resources=[("AWS::Lambda::Function", "web")]), _observation("aws", _system())),
    ],
    ids=["severity", "alarm-name", "no-alarm", "domain", "cause", "resource-type"],
)
def test_every_condition_must_hold(incident: Incident, observation: Observation) -> None:
    outcome = _propose(_config(RESTART), incident, observation)
    assert isinstance(outcome, NoProposal)
    assert outcome.rule_id == ""
    assert outcome.reason.startswith("no remediation rule matches (of 1): verdict ")


def test_cause_globs_and_lists() -> None:
    config = _config(REBOOT)
    incident = _incident([("AWS::RDS::DBInstance", "orders")], severity="standard")
    network = ObservedCause(code="rds.incompatible-network", resources=("orders",))
    assert isinstance(_propose(config, incident, _observation("infrastructure", network)), Proposal)
    other = ObservedCause(code="rds.storage-full", resources=("orders",))
    assert isinstance(_propose(config, incident, _observation("infrastructure", other)), NoProposal)


def test_first_match_wins() -> None:
    fallback = {**RESTART, "id": "fallback", "match": {"resourceType": "AWS::EC2::Instance"}}
    config = _config(RESTART, fallback)
    proposal = _propose(config, _incident(), _observation("aws", _system()))
    assert isinstance(proposal, Proposal) and proposal.rule_id == "ec2-system-status"
    later = _propose(config, _incident(severity="standard"), _observation("aws", _system()))
    assert isinstance(later, Proposal) and later.rule_id == "fallback"


def test_a_one_value_runbook_with_two_databases_in_scope_is_no_proposal_not_the_next_rule() -> None:
    anything = {
        "id": "any-db",
        "match": {"resourceType": "AWS::RDS::DBInstance"},
        "document": "AWS-StartRdsInstance",
        "parameters": {"InstanceId": "{resource.id}"},
    }
    incident = _incident(
        [("AWS::RDS::DBInstance", "orders"), ("AWS::RDS::DBInstance", "billing")],
        severity="standard",
    )
    cause = ObservedCause(code="rds.incompatible-network", resources=("orders", "billing"))
    outcome = _propose(_config(REBOOT, anything), incident, _observation("infrastructure", cause))
    assert isinstance(outcome, NoProposal)
    assert outcome.rule_id == "rds-reboot"
    assert (
        "AWS-RebootRdsInstance takes one InstanceId, but 2 resources are in scope" in outcome.reason
    )
    assert "(orders, billing)" in outcome.reason


def test_auto_approval_follows_the_rules_severities_and_its_approvers_win() -> None:
    incident = _incident([("AWS::RDS::DBInstance", "orders")], severity="standard")
    cause = ObservedCause(code="rds.incompatible-parameters", resources=("orders",))
    proposal = _propose(
        _config(REBOOT), incident, _observation("infrastructure", cause), responders=["U0ALICE01"]
    )
    assert isinstance(proposal, Proposal)
    assert proposal.auto_approved
    assert proposal.approvers == ["U0DBA0001"]
    assert proposal.parameters == {"InstanceId": ["orders"], "AutomationAssumeRole": [ROLE]}
    high = _propose(
        _config(REBOOT),
        _incident([("AWS::RDS::DBInstance", "orders")], severity="high"),
        _observation("infrastructure", cause),
    )
    assert isinstance(high, Proposal) and not high.auto_approved


def _team_config(
    parameters: dict[str, Any], match: dict[str, Any] | None = None
) -> RemediationConfig:
    document = {
        "schemaVersion": "0.3",
        "assumeRole": "{{ AutomationAssumeRole }}",
        "parameters": {
            "AutomationAssumeRole": {"type": "String", "default": ""},
            "Services": {"type": "StringList"},
            "Reason": {"type": "String", "default": ""},
            "Region": {
                "type": "String",
                "allowedPattern": "^[a-z]{2}-[a-z]+-[0-9]$",
                "default": "x",
            },
        },
        "mainSteps": [{"name": "Restart", "action": "aws:executeAwsApi"}],
    }
    section = {
        "documents": {"restart-services": {"file": "d.yaml", "resourceType": "AWS::ECS::Service"}},
        "rules": [
            {
                "id": "services",
                "match": match or {"alarmName": "^web-"},
                "document": "restart-services",
                "parameters": parameters,
            }
        ],
    }
    return load_section(section, lambda _relative: document).config


def test_every_placeholder_is_filled_from_the_incident() -> None:
    config = _team_config(
        {
            "Services": ["{resource.id}", "sidecar"],
            "Reason": "{alarm.name} on {incident.id} in {incident.account}/{incident.region} "
            "({resource.type}) {{literal}}",
            "Region": "{incident.region}",
        }
    )
    incident = _incident(
        [("AWS::ECS::Service", "web/api"), ("AWS::ECS::Service", "web/worker")], severity="standard"
    )
    proposal = _propose(config, incident, _observation("application"))
    assert isinstance(proposal, Proposal)
    assert proposal.document_name == "IncidentRunbook-restart-services"
    assert proposal.parameters == {
        "Services": ["web/api", "web/worker", "sidecar"],
        "Reason": [
            "web-5xx on inc-20260302-web in 123456789012/eu-west-1 (AWS::ECS::Service) {literal}"
        ],
        "Region": ["eu-west-1"],
        "AutomationAssumeRole": [ROLE],
    }


def test_a_missing_alarm_name_is_no_proposal_with_the_reason() -> None:
    config = _team_config(
        {"Services": ["x"], "Reason": "{alarm.name}"}, match={"resourceType": "AWS::ECS::Service"}
    )
    incident = _incident([("AWS::ECS::Service", "web/api")], alarm_name=None)
    outcome = _propose(config, incident, _observation("application"))
    assert isinstance(outcome, NoProposal)
    assert outcome.reason == (
        "rule services (IncidentRunbook-restart-services): Reason needs {alarm.name}, but no "
        "alarm opened the incident"
    )


def test_a_value_the_document_forbids_is_no_proposal() -> None:
    config = _team_config({"Services": ["x"], "Region": "{incident.region}"})
    incident = _incident([("AWS::ECS::Service", "web/api")], region="moon-base")
    outcome = propose(
        config, incident, _observation("application"), automation_role_arn=ROLE, now=NOW
    )
    assert isinstance(outcome, NoProposal)
    assert "Region='moon-base' does not match" in outcome.reason


def test_an_incident_in_another_account_or_region_gets_no_proposal() -> None:
    observation = _observation("aws", _system())
    elsewhere = _propose(_config(RESTART), _incident(account="210987654321"), observation)
    assert isinstance(elsewhere, NoProposal)
    assert "account 210987654321" in elsewhere.reason and elsewhere.rule_id == "ec2-system-status"
    other_region = _propose(_config(RESTART), _incident(region="us-east-1"), observation)
    assert isinstance(other_region, NoProposal) and "us-east-1" in other_region.reason


def test_no_rules_is_no_proposal() -> None:
    outcome = _propose(RemediationConfig(), _incident(), _observation("aws", _system()))
    assert isinstance(outcome, NoProposal)
    assert "of 0" in outcome.reason


def test_a_second_attempt_gets_a_new_client_token() -> None:
    observation = _observation("aws", _system())
    first = _propose(_config(RESTART), _incident(), observation)
    second = _propose(_config(RESTART), _incident(), observation, attempt=2)
    assert isinstance(first, Proposal) and isinstance(second, Proposal)
    assert first.client_token != second.client_token
    # Same incident, rule and attempt: the same token (a retried start is the same execution).
    assert first.client_token == _propose(_config(RESTART), _incident(), observation).client_token
