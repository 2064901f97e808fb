"""The `remediation` section's validation (functions/remediation/rules.py): every kind of
mistake is reported with its field path relative to the section and names what is wrong; a
valid section compiles to the config the functions use, and that config survives JSON."""

from __future__ import annotations

from typing import Any

import pytest

from remediation.documents import SHIPPED
from remediation.problems import Problem, RemediationConfigError
from remediation.rules import (
    check_section,
    decode_config,
    encode_config,
    load_section,
    parse_duration,
    validate_section,
)

RESTART = {
    "id": "ec2-system-status",
    "match": {"domain": ["aws"], "cause": "ec2.system_status_*", "severity": ["critical", "high"]},
    "document": "AWS-RestartEC2Instance",
    "parameters": {"InstanceId": ["{resource.id}"]},
}
TEAM_DOCUMENT: dict[str, Any] = {
    "schemaVersion": "0.3",
    "description": "Restart the orders service\nForces a new ECS deployment.",
    "assumeRole": "{{ AutomationAssumeRole }}",
    "parameters": {
        "AutomationAssumeRole": {"type": "String", "default": ""},
        "Service": {"type": "String"},
        "Mode": {"type": "String", "default": "rolling", "allowedValues": ["rolling", "all"]},
        "Count": {"type": "Integer", "default": 1},
    },
    "mainSteps": [{"name": "Restart", "action": "aws:executeAwsApi", "inputs": {}}],
}


def _rule(**changes: Any) -> dict[str, Any]:
    return {**RESTART, **changes}


def _messages(section: Any, read_file: Any = None) -> dict[str, str]:
    return {p.path: p.message for p in validate_section(section, read_file)}


def _reader(content: Any) -> Any:
    def read(relative: str) -> Any:
        assert relative == "remediation/orders.yaml"
        return content

    return read


def _with_team(rule: dict[str, Any], document: Any = TEAM_DOCUMENT) -> tuple[dict[str, Any], Any]:
    section = {"documents": {"orders": {"file": "remediation/orders.yaml"}}, "rules": [rule]}
    return section, _reader(document)


def test_the_briefs_example_is_valid_and_compiles() -> None:
    loaded = load_section({"rules": [_rule(autoApprove=["standard"], approvalTimeout="15m")]})
    (rule,) = loaded.config.rules
    assert rule.id == "ec2-system-status"
    assert rule.match.domains == ("aws",)
    assert rule.match.causes == ("ec2.system_status_*",)
    # The document's own resource type when the rule does not say.
    assert rule.match.resource_type == "AWS::EC2::Instance"
    assert rule.parameters == {"InstanceId": ("{resource.id}",)}
    assert rule.auto_approve == ("standard",)
    assert rule.approval_timeout_seconds == 900
    assert rule.execution_timeout_seconds == 1800  # the default
    assert loaded.config.documents == {"AWS-RestartEC2Instance": SHIPPED["AWS-RestartEC2Instance"]}


def test_an_absent_section_is_no_rules() -> None:
    loaded, problems = check_section(None)
    assert problems == []
    assert loaded is not None and loaded.config.rules == ()


def test_an_unknown_parameter_names_itself_and_the_known_ones() -> None:
    messages = _messages({"rules": [_rule(parameters={"InstanceIds": ["{resource.id}"]})]})
    assert messages["rules[0].parameters.InstanceIds"] == (
        "unknown parameter of AWS-RestartEC2Instance (known: AutomationAssumeRole, InstanceId)"
    )
    assert messages["rules[0].parameters"] == (
        "missing required parameter InstanceId of AWS-RestartEC2Instance"
    )


def test_an_unknown_document_names_itself_and_the_known_ones() -> None:
    messages = _messages({"rules": [_rule(document="AWS-RestartEc2Instance")]})
    message = messages["rules[0].document"]
    assert message.startswith("unknown document 'AWS-RestartEc2Instance' (known: ")
    assert "AWS-RestartEC2Instance" in message and "AWS-RebootRdsInstance" in message


def test_an_unknown_placeholder_names_itself_and_the_known_ones() -> None:
    messages = _messages({"rules": [_rule(parameters={"InstanceId": ["{resource.arn}"]})]})
    assert messages["rules[0].parameters.InstanceId"].startswith(
        "unknown placeholder {resource.arn} (known: {resource.id}, {resource.type}"
    )
    unmatched = _messages({"rules": [_rule(parameters={"InstanceId": ["{resource.id"]})]})
    assert "unmatched '{'" in unmatched["rules[0].parameters.InstanceId"]


def test_automation_assume_role_is_the_runbooks_to_set() -> None:
    messages = _messages(
        {"rules": [_rule(parameters={"InstanceId": ["i-1"], "AutomationAssumeRole": "arn:x"})]}
    )
    assert "set by the runbook" in messages["rules[0].parameters.AutomationAssumeRole"]


def test_a_single_valued_parameter_takes_one_value() -> None:
    rule = _rule(
        id="rds",
        match={"cause": "rds.*"},
        document="AWS-RebootRdsInstance",
        parameters={"InstanceId": ["db-a", "db-b"]},
    )
    messages = _messages({"rules": [rule]})
    assert messages["rules[0].parameters.InstanceId"] == (
        "InstanceId of AWS-RebootRdsInstance is a String: give one value"
    )


def test_unknown_keys_are_errors_everywhere_all_reported() -> None:
    section = {
        "rule": [],
        "rules": [
            {**_rule(), "autoAprove": ["standard"], "matches": {}},
            _rule(id="two", match={"domian": "aws", "severity": ["high"]}),
        ],
    }
    messages = _messages(section)
    assert messages["rule"].startswith("unknown key (known: documents, rules, permissions)")
    assert messages["rules[0].autoAprove"].startswith("unknown key (known: approvalTimeout, ")
    assert "rules[0].matches" in messages
    assert messages["rules[1].match.domian"].startswith("unknown key (known: alarmName, cause, ")


def test_enumerations_say_what_is_allowed() -> None:
    messages = _messages(
        {"rules": [_rule(match={"domain": "aws-side"}), _rule(id="b", autoApprove=["low"])]}
    )
    assert messages["rules[0].match.domain"] == (
        "Invalid enum value 'aws-side' (known: aws, infrastructure, application, outside)"
    )
    assert messages["rules[1].autoApprove[0]"] == (
        "Invalid enum value 'low' (known: critical, high, standard)"
    )


def test_a_rule_must_say_when_it_applies() -> None:
    messages = _messages({"rules": [_rule(match={})]})
    assert "give at least one condition" in messages["rules[0].match"]
    assert (
        "required"
        in _messages({"rules": [{k: v for k, v in RESTART.items() if k != "match"}]})[
            "rules[0].match"
        ]
    )


@pytest.mark.parametrize(
    ("change", "path", "needle"),
    [
        ({"id": "EC2 restart"}, "rules[0].id", "[a-z0-9][a-z0-9_-]{0,62}"),
        ({"match": {"alarmName": "web-("}}, "rules[0].match.alarmName", "not a regular expression"),
        ({"match": {"cause": "EC2 status"}}, "rules[0].match.cause", "a cause code or glob"),
        (
            {"match": {"resourceType": "EC2::Instance"}},
            "rules[0].match.resourceType",
            "CloudFormation",
        ),
        (
            {"match": {"resourceType": "AWS::RDS::DBInstance"}},
            "rules[0].match.resourceType",
            "acts on AWS::EC2::Instance, not AWS::RDS::DBInstance",
        ),
        ({"approvers": ["alice"]}, "rules[0].approvers[0]", "a Slack user id"),
        ({"approvalTimeout": "15 minutes"}, "rules[0].approvalTimeout", "is not a duration"),
        ({"approvalTimeout": "25h"}, "rules[0].approvalTimeout", "at most 24h"),
        ({"executionTimeout": "0s"}, "rules[0].executionTimeout", "at least one second"),
        (
            {"executionTimeout": True},
            "rules[0].executionTimeout",
            "Expected `int | str`, got `bool`",
        ),
        (
            {"parameters": {"InstanceId": {"a": 1}}},
            "rules[0].parameters.InstanceId",
            "a value (string",
        ),
        ({"parameters": {"InstanceId": []}}, "rules[0].parameters.InstanceId", "or a list of them"),
    ],
)
def test_each_kind_of_mistake_is_named(change: dict[str, Any], path: str, needle: str) -> None:
    messages = _messages({"rules": [_rule(**change)]})
    assert needle in messages[path], messages


def test_duplicate_rule_ids() -> None:
    messages = _messages({"rules": [_rule(), _rule()]})
    assert messages["rules[1].id"] == "duplicate rule id 'ec2-system-status'"


def test_several_rules_report_their_own_mistakes_at_once() -> None:
    problems = validate_section(
        {"rules": [_rule(document="nope"), _rule(id="b", parameters={"Bogus": "x"})]}
    )
    paths = [p.path for p in problems]
    assert "rules[0].document" in paths
    assert "rules[1].parameters.Bogus" in paths


def test_a_rule_using_resources_with_a_typeless_document_must_name_the_type() -> None:
    section, read = _with_team(
        {
            "id": "orders",
            "match": {"alarmName": "^orders-"},
            "document": "orders",
            "parameters": {"Service": "{resource.id}"},
        }
    )
    messages = _messages(section, read)
    assert "say which resources" in messages["rules[0].match.resourceType"]


def test_a_team_document_compiles_with_its_parameters_and_steps() -> None:
    section, read = _with_team(
        {
            "id": "orders",
            "match": {"alarmName": "^orders-", "resourceType": "AWS::ECS::Service"},
            "document": "orders",
            "parameters": {"Service": "{resource.id}", "Mode": "all", "Count": 2},
        }
    )
    loaded = load_section(section, read, prefix="Ops")
    spec = loaded.config.document(loaded.config.rules[0])
    assert spec.name == "Ops-orders"
    assert spec.owner == "team"
    assert spec.title == "Restart the orders service"
    assert spec.required == ("Service",)
    assert [s.name for s in spec.steps] == ["Restart"]
    assert loaded.config.rules[0].parameters["Count"] == ("2",)
    (team,) = loaded.team_documents
    assert team.content["schemaVersion"] == "0.3"


def test_a_team_documents_constants_are_checked_against_it() -> None:
    section, read = _with_team(
        {
            "id": "orders",
            "match": {"alarmName": "^orders-"},
            "document": "orders",
            "parameters": {"Service": "orders-api", "Mode": "everything", "Count": "two"},
        }
    )
    messages = _messages(section, read)
    assert messages["rules[0].parameters.Mode"] == "'everything' is not one of rolling, all"
    assert messages["rules[0].parameters.Count"] == "'two': Count is an Integer"


@pytest.mark.parametrize(
    ("document", "needle"),
    [
        (
            {**TEAM_DOCUMENT, "schemaVersion": "2.2"},
            "schemaVersion: '2.2': Automation documents are \"0.3\"",
        ),
        ({**TEAM_DOCUMENT, "assumeRole": "arn:aws:iam::1:role/x"}, "assumeRole: must be"),
        (
            {**TEAM_DOCUMENT, "parameters": {"Service": {"type": "String"}}},
            "parameters.AutomationAssumeRole: declare it",
        ),
        (
            {
                **TEAM_DOCUMENT,
                "parameters": {**TEAM_DOCUMENT["parameters"], "X": {"type": "Strin"}},
            },
            "parameters.X.type: 'Strin': one of String, StringList",
        ),
        (
            {
                **TEAM_DOCUMENT,
                "parameters": {
                    **TEAM_DOCUMENT["parameters"],
                    "X": {"type": "String", "defualt": 1},
                },
            },
            "parameters.X.defualt: unknown key",
        ),
        ({**TEAM_DOCUMENT, "mainSteps": []}, "mainSteps: must be a non-empty list"),
        (
            {
                **TEAM_DOCUMENT,
                "mainSteps": [
                    {"name": "A", "action": "aws:sleep"},
                    {"name": "A", "action": "aws:sleep"},
                ],
            },
            "mainSteps[1].name: duplicate step name 'A'",
        ),
        ({**TEAM_DOCUMENT, "mainSteps": [{"name": "A", "action": "sleep"}]}, "mainSteps[0].action"),
        ({**TEAM_DOCUMENT, "mainstep": []}, "mainstep: unknown top-level key"),
        (["not", "a", "mapping"], "an Automation document is a mapping"),
    ],
)
def test_team_document_mistakes_name_the_file_and_the_field(document: Any, needle: str) -> None:
    section, read = _with_team(
        {
            "id": "orders",
            "match": {"alarmName": "^o"},
            "document": "orders",
            "parameters": {"Service": "s"},
        },
        document,
    )
    messages = _messages(section, read)
    assert needle in messages["documents.orders.file"], messages
    assert messages["documents.orders.file"].startswith("remediation/orders.yaml")
    assert "has mistakes (see documents.orders)" in messages["rules[0].document"]


def test_an_unreadable_document_file_is_named() -> None:
    def missing(relative: str) -> Any:
        raise FileNotFoundError(2, "No such file or directory", relative)

    section = {"documents": {"orders": {"file": "nope.yaml"}}}
    messages = _messages(section, missing)
    assert messages["documents.orders.file"].startswith("nope.yaml: FileNotFoundError")


def test_document_keys_and_grants_are_checked() -> None:
    section = {
        "documents": {
            "Orders": {"file": "a.yaml"},
            "AWS-RestartEC2Instance": {"file": "a.yaml"},
        },
        "permissions": [
            {"actions": ["kms:*"], "resources": ["arn:aws:kms:us-east-1:1:key/k"]},
            {"actions": ["kms:CreateGrant"], "resources": ["key/k"]},
            {"actions": ["kms:CreateGrant"], "resources": ["arn:aws:kms:us-east-1:1:key/*"]},
        ],
    }
    messages = _messages(section, _reader(TEAM_DOCUMENT))
    assert "[a-z0-9][a-z0-9_-]{0,62}" in messages["documents.Orders"]
    assert "[a-z0-9]" in messages["documents.AWS-RestartEC2Instance"]
    assert "no wildcards" in messages["permissions[0].actions[0]"]
    assert messages["permissions[1].resources[0]"] == "'key/k': an ARN or *"
    assert "needs a reason" in messages["permissions[2].reason"]


def test_a_reasoned_extra_grant_is_kept() -> None:
    grant = {
        "actions": ["kms:CreateGrant"],
        "resources": ["arn:aws:kms:us-east-1:123456789012:key/abc"],
    }
    loaded = load_section({"permissions": [grant], "rules": [_rule()]})
    (kept,) = loaded.permissions
    assert kept.actions == ("kms:CreateGrant",)


def test_load_section_raises_with_every_problem() -> None:
    with pytest.raises(RemediationConfigError) as caught:
        load_section({"rules": [_rule(document="nope"), _rule(id="b", approvalTimeout="x")]})
    assert [p.path for p in caught.value.problems] == [
        "rules[0].document",
        "rules[1].approvalTimeout",
    ]
    assert "rules[0].document: unknown document 'nope'" in str(caught.value)


def test_problems_render_as_path_colon_message() -> None:
    assert str(Problem("rules[0].id", "bad")) == "rules[0].id: bad"
    assert str(Problem("", "bad")) == "bad"


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("90s", 90), ("5m", 300), ("1h30m", 5400), ("2h", 7200), (15, 900), ("1h0m5s", 3605)],
)
def test_durations_follow_the_response_file_rules(value: Any, seconds: int) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["", "5", "5 m", "m5", "1.5h", "30m1h", False, None, 0, "0m"])
def test_bad_durations_are_refused(value: Any) -> None:
    with pytest.raises(ValueError):
        parse_duration(value)


def test_the_config_survives_json() -> None:
    section, read = _with_team(
        {
            "id": "orders",
            "match": {"alarmName": "^orders-", "resourceType": "AWS::ECS::Service"},
            "document": "orders",
            "parameters": {"Service": "{resource.id}"},
        }
    )
    loaded = load_section({**section, "rules": [*section["rules"], _rule()]}, read)
    decoded = decode_config(encode_config(loaded.config))
    assert decoded == loaded.config
    # AWS documents are not copied into the JSON: the functions take them from the catalogue.
    assert b"AWS-RestartEC2Instance" in encode_config(loaded.config)
    assert list(decoded.team_documents) == ["orders"]
    assert decoded.document(decoded.rules[1]) is SHIPPED["AWS-RestartEC2Instance"]


def test_a_malformed_config_is_a_typed_error() -> None:
    with pytest.raises(RemediationConfigError, match="not valid JSON"):
        decode_config(b"{")
    with pytest.raises(RemediationConfigError, match="unknown document 'AWS-Gone'"):
        decode_config(
            b'{"rules": [{"id": "a", "description": "", "match": {}, "document": "AWS-Gone",'
            b' "parameters": {}, "auto_approve": [], "approvers": [],'
            b' "approval_timeout_seconds": 60, "execution_timeout_seconds": 60}]}'
        )
