"""Resources of the synthesised IncidentRunbook stack and their properties."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match

from stacks.functions import SPECS, STEPS
from stacks.incident_runbook_stack import SLACK_STEPS
from stacks.settings import TOPICS

from .conftest import Synth

# The topic outputs, each naming the topic its severity (or escalation) publishes to.
TOPIC_OUTPUTS = {
    "CriticalTopicArn": "critical",
    "HighTopicArn": "high",
    "NotificationTopicArn": "standard",
    "EscalationTopicArn": "escalation",
}
OUTPUTS = {
    "StateMachineArn",
    "IncidentTableName",
    "ArtifactBucketName",
    "PagingTopicArn",
    *TOPIC_OUTPUTS,
    "ResponseConfigUri",
    "OnCallTableName",
    "DrillTopicArn",
    "DrillTarget",
}

# docs/contracts.md, "Lambda environment" (and "Paging, escalation and operator actions"):
# variable -> the steps that receive it.
CONTRACT_ENV = {
    "INCIDENT_TABLE_NAME": set(STEPS),
    "ARTIFACT_BUCKET_NAME": {"collect_diagnostics", "create_postmortem"},
    "STATE_MACHINE_ARN": {"ingest"},
    "SEVERITY_POLICY": {"classify", "ingest"},
    "INGEST_POLICY": {"ingest"},
    "IGNORED_ALARM_PREFIX": {"ingest"},
    "DIAGNOSTICS_LOOKBACK_MINUTES": {"collect_diagnostics"},
    "SLACK_SECRET_NAME": set(SLACK_STEPS),
    "SLACK_RESPONDERS": {"create_channel", "remediate"},
    "TIMEZONE": {
        "ingest",
        "classify",
        "create_channel",
        "engage",
        "escalate",
        "create_postmortem",
        "remediate",
    },
    "NOTIFICATION_TOPIC_ARN": {"create_postmortem"},
    "ESCALATION_TOPIC_ARN": {"escalate"},
    "MAX_ESCALATIONS": {"escalate"},
    "CRITICAL_TOPIC_ARN": {"ingest", "remediate"},
    "HIGH_TOPIC_ARN": {"ingest", "remediate"},
    "ECS_EVENTS_LOG_GROUP": {"collect_diagnostics"},
    # People (docs/oncall.md).
    "RESPONSE_CONFIG_URI": {"classify", "create_channel", "engage", "escalate"},
    "ONCALL_TABLE_NAME": {"engage", "escalate"},
    "CONTACT_TOPIC_PREFIX": {"engage", "escalate"},
    "REMEDIATION_CONFIG_URI": {"remediate"},
    "REMEDIATION_ROLE_ARN": {"remediate"},
}
# The steps CONTRACT_ENV describes in full; a step added later (the Slack actions function)
# is held to the variables of the contract but not to an exact set until it is listed here.
DESCRIBED_STEPS = {
    "ingest",
    "classify",
    "collect_diagnostics",
    "create_channel",
    "engage",
    "monitor_recovery",
    "recovery",
    "escalate",
    "check_stability",
    "recovery_watch",
    "create_postmortem",
    "remediate",
} | ({"slack_actions"} & set(STEPS))
POWERTOOLS_ENV = {
    "POWERTOOLS_SERVICE_NAME": "incident-runbook",
    "POWERTOOLS_METRICS_NAMESPACE": "IncidentRunbook",
}


def _functions_by_step(synth: Synth) -> dict[str, dict[str, Any]]:
    by_step = {}
    for resource in synth.resources("AWS::Lambda::Function").values():
        handler = resource["Properties"]["Handler"]
        step = handler.removeprefix("handlers.").removesuffix(".lambda_handler")
        by_step[step] = resource["Properties"]
    return by_step


def _logical_id(synth: Synth, ref: dict[str, Any]) -> str:
    if "Ref" in ref:
        return str(ref["Ref"])
    return str(ref["Fn::GetAtt"][0])


def test_outputs_are_exactly_the_contract(synth: Synth) -> None:
    assert set(synth.template["Outputs"]) == OUTPUTS


def test_outputs_point_at_the_right_resources(synth: Synth) -> None:
    outputs = synth.template["Outputs"]
    kinds = {
        "StateMachineArn": "AWS::StepFunctions::StateMachine",
        "IncidentTableName": "AWS::DynamoDB::Table",
        "ArtifactBucketName": "AWS::S3::Bucket",
        **dict.fromkeys(TOPIC_OUTPUTS, "AWS::SNS::Topic"),
    }
    for name, kind in kinds.items():
        logical_id = _logical_id(synth, outputs[name]["Value"])
        assert synth.template["Resources"][logical_id]["Type"] == kind, name
    # PagingTopicArn (the architecture's contract name) is the critical paging topic.
    assert _logical_id(synth, outputs["PagingTopicArn"]["Value"]) == _logical_id(
        synth, outputs["CriticalTopicArn"]["Value"]
    )
    # One topic per output: nothing pages on a topic meant for another severity.
    topic_ids = {_logical_id(synth, outputs[name]["Value"]) for name in TOPIC_OUTPUTS}
    drill_topic = _logical_id(synth, outputs["DrillTopicArn"]["Value"])
    assert topic_ids | {drill_topic} == set(synth.resources("AWS::SNS::Topic"))
    assert len(topic_ids) == len(TOPIC_OUTPUTS) == len(TOPICS)
    assert set(TOPIC_OUTPUTS.values()) == set(TOPICS)


def test_stack_has_an_explicit_environment(synth: Synth) -> None:
    assert synth.stack.stack_name == "IncidentRunbook"
    assert (synth.stack.account, synth.stack.region) == ("123456789012", "us-east-1")
    manifest = json.loads((synth.outdir / "manifest.json").read_text())
    assert manifest["artifacts"]["IncidentRunbook"]["environment"] == "aws://123456789012/us-east-1"


def test_deployable_synth_checks_the_bootstrap_version(synth: Synth) -> None:
    assert "BootstrapVersion" in synth.template["Parameters"]
    assert "CheckBootstrapVersion" in synth.template["Rules"]


def test_one_function_per_contract_step(synth: Synth) -> None:
    assert set(_functions_by_step(synth)) == set(STEPS)
    assert len(_functions_by_step(synth)) == len(SPECS) == len(set(STEPS))
    # The steps of the workflow and of paging/escalation are all there.
    assert set(STEPS) >= DESCRIBED_STEPS


@pytest.mark.parametrize("step", STEPS)
def test_function_runtime_and_observability(synth: Synth, step: str) -> None:
    props = _functions_by_step(synth)[step]
    assert props["Runtime"] == "python3.13"
    assert props["Architectures"] == ["arm64"]
    assert props["Handler"] == f"handlers.{step}.lambda_handler"
    assert props["TracingConfig"] == {"Mode": "Active"}
    logging = props["LoggingConfig"]
    assert logging["LogFormat"] == "JSON"
    assert logging["ApplicationLogLevel"] == "INFO"
    assert logging["SystemLogLevel"] == "INFO"
    log_group = synth.template["Resources"][logging["LogGroup"]["Ref"]]
    assert log_group["Type"] == "AWS::Logs::LogGroup"
    assert log_group["Properties"]["RetentionInDays"] == 30
    assert 256 <= props["MemorySize"] <= 512
    assert 3 < props["Timeout"] <= 120
    layers = props["Layers"]
    assert len(layers) == 1
    assert ":017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:27" in str(layers[0])


def test_every_function_has_its_own_log_group(synth: Synth) -> None:
    groups = [p["LoggingConfig"]["LogGroup"]["Ref"] for p in _functions_by_step(synth).values()]
    assert len(set(groups)) == len(STEPS)


def test_collect_diagnostics_has_the_longest_timeout(synth: Synth) -> None:
    functions = _functions_by_step(synth)
    assert functions["collect_diagnostics"]["Timeout"] == 120


def test_all_functions_share_one_code_asset(synth: Synth) -> None:
    codes = {str(p["Code"]) for p in _functions_by_step(synth).values()}
    assert len(codes) == 1
    assert "S3Key" in next(iter(_functions_by_step(synth).values()))["Code"]


@pytest.mark.parametrize("step", STEPS)
def test_function_environment_follows_the_contract(synth: Synth, step: str) -> None:
    env = _functions_by_step(synth)[step]["Environment"]["Variables"]
    for name, value in POWERTOOLS_ENV.items():
        assert env[name] == value
    assert env["POWERTOOLS_LOG_LEVEL"] in {"DEBUG", "INFO", "WARNING", "ERROR"}
    variables = set(env) - set(POWERTOOLS_ENV) - {"POWERTOOLS_LOG_LEVEL"}
    if step in DESCRIBED_STEPS:
        assert variables == {name for name, steps in CONTRACT_ENV.items() if step in steps}
    else:
        assert "INCIDENT_TABLE_NAME" in variables
        assert variables <= set(CONTRACT_ENV)


def test_escalate_environment_values(synth: Synth) -> None:
    env = _functions_by_step(synth)["escalate"]["Environment"]["Variables"]
    assert env["MAX_ESCALATIONS"] == "2"
    assert env["ESCALATION_TOPIC_ARN"] == synth.template["Outputs"]["EscalationTopicArn"]["Value"]
    responders = _functions_by_step(synth)["create_channel"]["Environment"]["Variables"]
    assert json.loads(responders["SLACK_RESPONDERS"]) == []


def test_environment_values(synth: Synth) -> None:
    functions = _functions_by_step(synth)
    ingest = functions["ingest"]["Environment"]["Variables"]
    assert ingest["STATE_MACHINE_ARN"].endswith(":stateMachine:IncidentRunbook-incident-response")
    diagnostics = functions["collect_diagnostics"]["Environment"]["Variables"]
    assert diagnostics["DIAGNOSTICS_LOOKBACK_MINUTES"] == "30"
    table_ref = functions["classify"]["Environment"]["Variables"]["INCIDENT_TABLE_NAME"]
    assert synth.template["Resources"][table_ref["Ref"]]["Type"] == "AWS::DynamoDB::Table"


def test_incident_table(synth: Synth) -> None:
    synth.assertions.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": [{"AttributeName": "incident_id", "KeyType": "HASH"}],
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {"SSEEnabled": True},
            "GlobalSecondaryIndexes": Match.array_equals(
                [
                    Match.object_like(
                        {
                            "IndexName": "by_alarm",
                            "KeySchema": [
                                {"AttributeName": "alarm_arn", "KeyType": "HASH"},
                                {"AttributeName": "opened_at", "KeyType": "RANGE"},
                            ],
                        }
                    ),
                    Match.object_like(
                        {
                            "IndexName": "by_status",
                            "KeySchema": [
                                {"AttributeName": "status", "KeyType": "HASH"},
                                {"AttributeName": "opened_at", "KeyType": "RANGE"},
                            ],
                        }
                    ),
                ]
            ),
        },
    )
    # The incidents and the rotation overrides (below).
    synth.assertions.resource_count_is("AWS::DynamoDB::Table", 2)
    synth.assertions.resource_count_is("AWS::DynamoDB::GlobalTable", 0)


def test_overrides_table(synth: Synth) -> None:
    synth.assertions.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": [
                {"AttributeName": "rotation", "KeyType": "HASH"},
                {"AttributeName": "override_id", "KeyType": "RANGE"},
            ],
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {"SSEEnabled": True},
            "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
        },
    )


def test_incident_data_is_retained_on_aws(synth: Synth) -> None:
    for kind in ("AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::KMS::Key"):
        for logical_id, resource in synth.resources(kind).items():
            assert resource.get("DeletionPolicy") == "Retain", logical_id


def _artifact_bucket(synth: Synth) -> tuple[str, dict[str, Any]]:
    ref = synth.template["Outputs"]["ArtifactBucketName"]["Value"]["Ref"]
    return ref, synth.template["Resources"][ref]["Properties"]


def test_artifact_bucket_is_encrypted_versioned_private_and_logged(synth: Synth) -> None:
    logical_id, props = _artifact_bucket(synth)
    rule = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    log_target = props["LoggingConfiguration"]["DestinationBucketName"]["Ref"]
    assert log_target != logical_id
    assert synth.template["Resources"][log_target]["Type"] == "AWS::S3::Bucket"


def _denies_insecure_transport(document: dict[str, Any]) -> bool:
    return any(
        statement["Effect"] == "Deny"
        and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for statement in document["Statement"]
    )


@pytest.mark.parametrize(
    ("policy_type", "target_key", "resource_type"),
    [
        ("AWS::S3::BucketPolicy", "Bucket", "AWS::S3::Bucket"),
        ("AWS::SNS::TopicPolicy", "Topics", "AWS::SNS::Topic"),
        ("AWS::SQS::QueuePolicy", "Queues", "AWS::SQS::Queue"),
    ],
)
def test_every_bucket_topic_and_queue_is_ssl_only(
    synth: Synth, policy_type: str, target_key: str, resource_type: str
) -> None:
    protected = set()
    for policy in synth.resources(policy_type).values():
        props = policy["Properties"]
        if _denies_insecure_transport(props["PolicyDocument"]):
            targets = (
                props[target_key] if isinstance(props[target_key], list) else [props[target_key]]
            )
            protected |= {_logical_id(synth, t) for t in targets}
    assert protected == set(synth.resources(resource_type))


def test_topics_are_encrypted_with_the_rotating_customer_key(synth: Synth) -> None:
    keys = synth.resources("AWS::KMS::Key")
    assert len(keys) == 1
    ((key_id, key),) = keys.items()
    assert key["Properties"]["EnableKeyRotation"] is True
    topics = synth.resources("AWS::SNS::Topic")
    assert len(topics) == len(TOPICS) + 1  # and the drill topic
    for topic in topics.values():
        assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}


@pytest.mark.parametrize("output", sorted(TOPIC_OUTPUTS))
def test_each_topic_is_kms_encrypted_and_ssl_only(synth: Synth, output: str) -> None:
    topic_id = _logical_id(synth, synth.template["Outputs"][output]["Value"])
    topic = synth.template["Resources"][topic_id]["Properties"]
    (key_id,) = synth.resources("AWS::KMS::Key")
    assert topic["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert topic["DisplayName"].startswith("Incident Runbook - ")
    policies = [
        p["Properties"]["PolicyDocument"]
        for p in synth.resources("AWS::SNS::TopicPolicy").values()
        if {"Ref": topic_id} in p["Properties"]["Topics"]
    ]
    assert policies
    assert any(_denies_insecure_transport(document) for document in policies)
    # With the defaults (cdk.json), nobody is subscribed yet.
    assert not [
        s
        for s in synth.resources("AWS::SNS::Subscription").values()
        if s["Properties"]["TopicArn"] == {"Ref": topic_id}
    ]


def test_topic_display_names_are_distinct(synth: Synth) -> None:
    names = [t["Properties"]["DisplayName"] for t in synth.resources("AWS::SNS::Topic").values()]
    assert len(set(names)) == len(names)
    for name in names:
        assert len(name) <= 100  # SNS's limit for a display name


def test_state_machine_is_standard_logged_and_traced(synth: Synth) -> None:
    (props,) = [
        r["Properties"] for r in synth.resources("AWS::StepFunctions::StateMachine").values()
    ]
    assert props["StateMachineType"] == "STANDARD"
    assert props["StateMachineName"] == "IncidentRunbook-incident-response"
    assert props["TracingConfiguration"] == {"Enabled": True}
    logging = props["LoggingConfiguration"]
    assert logging["Level"] == "ALL"
    assert logging["IncludeExecutionData"] is True
    (destination,) = logging["Destinations"]
    log_group = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
    assert synth.template["Resources"][log_group]["Type"] == "AWS::Logs::LogGroup"


@pytest.mark.parametrize(("state", "step"), [("ALARM", "ingest"), ("OK", "recovery")])
def test_alarm_rules_route_to_their_function_with_dlq_and_retries(
    synth: Synth, state: str, step: str
) -> None:
    rules = [
        r["Properties"]
        for r in synth.resources("AWS::Events::Rule").values()
        if r["Properties"].get("EventPattern", {}).get("detail", {}).get("state")
        == {"value": [state]}
    ]
    assert len(rules) == 1
    rule = rules[0]
    assert rule["EventPattern"]["source"] == ["aws.cloudwatch"]
    assert rule["EventPattern"]["detail-type"] == ["CloudWatch Alarm State Change"]
    assert "EventBusName" not in rule  # the default bus
    (target,) = rule["Targets"]
    function = synth.template["Resources"][target["Arn"]["Fn::GetAtt"][0]]
    assert function["Properties"]["Handler"] == f"handlers.{step}.lambda_handler"
    queue = synth.template["Resources"][target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]]
    assert queue["Type"] == "AWS::SQS::Queue"
    assert queue["Properties"].get("SqsManagedSseEnabled") or queue["Properties"].get(
        "KmsMasterKeyId"
    )
    retry = target["RetryPolicy"]
    assert retry["MaximumRetryAttempts"] >= 1
    assert 60 <= retry["MaximumEventAgeInSeconds"] <= 86400


def test_each_rule_has_its_own_dead_letter_queue(synth: Synth) -> None:
    queues = [
        r["Properties"]["Targets"][0]["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
        for r in synth.resources("AWS::Events::Rule").values()
        if "EventPattern" in r["Properties"]
    ]
    # ALARM, OK, AWS Health, ECS task stopped, CodeDeploy failure (tests/infrastructure/
    # test_triggers.py checks each pattern), and every stopped ECS task to its log group
    # (test_ecs_task_events.py), and drills.
    assert len(queues) == len(set(queues)) == 7


def test_no_custom_resources_or_docker_needed(synth: Synth) -> None:
    kinds = {r["Type"] for r in synth.template["Resources"].values()}
    assert not any(
        k.startswith("Custom::") or k == "AWS::CloudFormation::CustomResource" for k in kinds
    )
    # Only the python3.13 step functions: no provider or log-retention Lambdas.
    assert len(synth.resources("AWS::Lambda::Function")) == len(STEPS)
