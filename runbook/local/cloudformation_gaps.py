"""Finish, through the services' own APIs, what moto's CloudFormation skips or gets wrong.

moto 5.2.5's CloudFormation silently skips some resource types (S3 BucketPolicy, SNS
TopicPolicy and Subscription, SQS QueuePolicy, SecretsManager Secret, CloudWatch Alarm), ignores
Lambda's LoggingConfig, and creates state machines in its non-executing Step Functions backend
(and cannot read DefinitionS3Location at all). After the stack is created, this module creates
those pieces from the same synthesised template, with intrinsic functions resolved by moto's own
CloudFormation resolver against the deployed stack, so that physical ids match what the stack
reports.
"""

from __future__ import annotations

import copy
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from moto.cloudformation.models import cloudformation_backends
from moto.cloudformation.parsing import clean_json

LOGGER = logging.getLogger(__name__)

# CloudFormation property names of AWS::CloudWatch::Alarm that PutMetricAlarm takes as-is.
_ALARM_PARAMETERS = (
    "AlarmName",
    "AlarmDescription",
    "ActionsEnabled",
    "AlarmActions",
    "OKActions",
    "InsufficientDataActions",
    "MetricName",
    "Namespace",
    "Statistic",
    "ExtendedStatistic",
    "Dimensions",
    "Period",
    "Unit",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
    "EvaluateLowSampleCountPercentile",
    "Metrics",
    "ThresholdMetricId",
)


@dataclass
class GapContext:
    """Clients, the moto stack whose resource map resolves intrinsics, and what was done."""

    clients: Callable[[str], Any]
    account: str
    region: str
    stack_name: str
    moto_stack: Any
    created: dict[str, str] = field(default_factory=dict)
    """Logical id -> physical id of what this module created."""
    log_groups: dict[str, str] = field(default_factory=dict)
    """Function name -> log group (LoggingConfig.LogGroup)."""
    functions: list[str] = field(default_factory=list)
    """Names of the stack's Lambda functions."""
    state_machines: dict[str, str] = field(default_factory=dict)
    """Logical id -> ARN of the executable state machine."""

    def resolve(self, fragment: Any) -> Any:
        return clean_json(copy.deepcopy(fragment), self.moto_stack.resource_map)

    def physical_id(self, logical_id: str) -> str:
        resource = self.moto_stack.resource_map[logical_id]
        return str(getattr(resource, "physical_resource_id", resource))


def moto_stack(account: str, region: str, stack_name: str) -> Any:
    backend = cloudformation_backends[account][region]
    for stack in backend.stacks.values():
        if stack.name == stack_name and not stack.status.startswith("DELETE"):
            return stack
    raise LookupError(f"stack {stack_name} is not deployed on the emulator")


def _json(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _bucket_policy(ctx: GapContext, logical_id: str, props: dict[str, Any]) -> None:
    bucket = ctx.resolve(props["Bucket"])
    policy = ctx.resolve(props["PolicyDocument"])
    ctx.clients("s3").put_bucket_policy(Bucket=bucket, Policy=_json(policy))
    ctx.created[logical_id] = bucket


def _topic_policy(ctx: GapContext, logical_id: str, props: dict[str, Any]) -> None:
    policy = _json(ctx.resolve(props["PolicyDocument"]))
    for topic in ctx.resolve(props["Topics"]):
        ctx.clients("sns").set_topic_attributes(
            TopicArn=topic, AttributeName="Policy", AttributeValue=policy
        )
    ctx.created[logical_id] = logical_id


def _queue_policy(ctx: GapContext, logical_id: str, props: dict[str, Any]) -> None:
    policy = _json(ctx.resolve(props["PolicyDocument"]))
    for queue_url in ctx.resolve(props["Queues"]):
        ctx.clients("sqs").set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": policy})
    ctx.created[logical_id] = logical_id


def _subscription(ctx: GapContext, logical_id: str, props: dict[str, Any]) -> None:
    resolved = ctx.resolve(props)
    attributes = {
        key: _json(resolved[key])
        for key in ("FilterPolicy", "FilterPolicyScope", "RawMessageDelivery", "RedrivePolicy")
        if key in resolved
    }
    if "RawMessageDelivery" in attributes:
        attributes["RawMessageDelivery"] = str(resolved["RawMessageDelivery"]).lower()
    response = ctx.clients("sns").subscribe(
        TopicArn=resolved["TopicArn"],
        Protocol=resolved["Protocol"],
        Endpoint=resolved["Endpoint"],
        Attributes=attributes,
        ReturnSubscriptionArn=True,
    )
    ctx.created[logical_id] = response["SubscriptionArn"]


def _secret(ctx: GapContext, logical_id: str, props: dict[str, Any]) -> None:
    resolved = ctx.resolve(props)
    name = resolved.get("Name") or f"{ctx.stack_name}-{logical_id}"
    value = resolved.get("SecretString")
    generate = resolved.get("GenerateSecretString")
    if value is None:
        generated = secrets.token_urlsafe(24)
        if generate and generate.get("SecretStringTemplate") and generate.get("GenerateStringKey"):
            template = json.loads(generate["SecretStringTemplate"])
            template[generate["GenerateStringKey"]] = generated
            value = json.dumps(template)
        else:
            value = generated
    params: dict[str, Any] = {"Name": name, "SecretString": value}
    if resolved.get("Description"):
        params["Description"] = resolved["Description"]
    secrets_manager = ctx.clients("secretsmanager")
    try:
        arn = secrets_manager.create_secret(**params)["ARN"]
    except secrets_manager.exceptions.ResourceExistsException:  # a redeploy keeps its value
        arn = secrets_manager.describe_secret(SecretId=name)["ARN"]
    ctx.created[logical_id] = arn


def _alarm(ctx: GapContext, logical_id: str, props: dict[str, Any]) -> None:
    resolved = ctx.resolve(props)
    params = {key: resolved[key] for key in _ALARM_PARAMETERS if key in resolved}
    params.setdefault("AlarmName", f"{ctx.stack_name}-{logical_id}")
    ctx.clients("cloudwatch").put_metric_alarm(**params)
    ctx.created[logical_id] = params["AlarmName"]


def _lambda_function(ctx: GapContext, logical_id: str, props: dict[str, Any]) -> None:
    """moto ignores LoggingConfig: remember the log group so the function's logs land there."""
    name = ctx.physical_id(logical_id)
    ctx.functions.append(name)
    log_group = (props.get("LoggingConfig") or {}).get("LogGroup")
    if log_group is not None:
        ctx.log_groups[name] = str(ctx.resolve(log_group))


def _definition(ctx: GapContext, props: dict[str, Any]) -> str:
    if "DefinitionString" in props:
        return str(ctx.resolve(props["DefinitionString"]))
    if "Definition" in props:
        return json.dumps(ctx.resolve(props["Definition"]))
    location = ctx.resolve(props["DefinitionS3Location"])
    params = {"Bucket": location["Bucket"], "Key": location["Key"]}
    if location.get("Version"):
        params["VersionId"] = location["Version"]
    body: bytes = ctx.clients("s3").get_object(**params)["Body"].read()
    return body.decode("utf-8")


def _state_machine(ctx: GapContext, logical_id: str, props: dict[str, Any]) -> None:
    """The executable twin of the state machine moto's CloudFormation created: same name (so
    the same ARN, which the stack's outputs already report) and the synthesised definition
    with DefinitionSubstitutions resolved to the deployed physical ids."""
    definition = _definition(ctx, props)
    for key, value in ctx.resolve(props.get("DefinitionSubstitutions") or {}).items():
        definition = definition.replace("${" + key + "}", str(value))
    json.loads(definition)  # a substitution must never break the JSON
    stack_copy = ctx.moto_stack.resource_map[logical_id]
    sfn = ctx.clients("stepfunctions")
    role_arn = str(ctx.resolve(props.get("RoleArn", "")))
    try:
        sfn.describe_state_machine(stateMachineArn=stack_copy.arn)
    except sfn.exceptions.StateMachineDoesNotExist:
        tags = [{"key": t["Key"], "value": t["Value"]} for t in ctx.resolve(props.get("Tags", []))]
        created = sfn.create_state_machine(
            name=stack_copy.name,
            definition=definition,
            roleArn=role_arn,
            type=props.get("StateMachineType", "STANDARD"),
            tags=tags,
        )
        arn = created["stateMachineArn"]
    else:
        sfn.update_state_machine(
            stateMachineArn=stack_copy.arn, definition=definition, roleArn=role_arn
        )
        arn = stack_copy.arn
    if arn != stack_copy.arn:
        raise RuntimeError(
            f"executable state machine {arn} differs from the stack's {stack_copy.arn}"
        )
    ctx.state_machines[logical_id] = arn


def _event_invoke_config(ctx: GapContext, logical_id: str, props: dict[str, Any]) -> None:
    """Async retry and on-failure destination of a function (CDK's onFailure/retryAttempts)."""
    resolved = ctx.resolve(props)
    kwargs: dict[str, Any] = {
        "FunctionName": resolved["FunctionName"],
        "Qualifier": resolved.get("Qualifier", "$LATEST"),
    }
    for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig"):
        if key in resolved:
            kwargs[key] = resolved[key]
    ctx.clients("lambda").put_function_event_invoke_config(**kwargs)
    ctx.created[logical_id] = f"{resolved['FunctionName']}:{kwargs['Qualifier']}"


GAP_FILLERS: dict[str, Callable[[GapContext, str, dict[str, Any]], None]] = {
    "AWS::S3::BucketPolicy": _bucket_policy,
    "AWS::SNS::TopicPolicy": _topic_policy,
    "AWS::SNS::Subscription": _subscription,
    "AWS::SQS::QueuePolicy": _queue_policy,
    "AWS::SecretsManager::Secret": _secret,
    "AWS::CloudWatch::Alarm": _alarm,
    "AWS::Lambda::Function": _lambda_function,
    "AWS::Lambda::EventInvokeConfig": _event_invoke_config,
    "AWS::StepFunctions::StateMachine": _state_machine,
}


class ExpectedGapsFilter(logging.Filter):
    """Drop moto's "No Moto CloudFormation support for X" for the types filled here; any other
    unsupported type still shows, because nothing creates it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == "No Moto CloudFormation support for %s" and record.args:
            return str(record.args[0]) not in GAP_FILLERS  # type: ignore[index]
        return True


def fill_gaps(ctx: GapContext, template: dict[str, Any]) -> GapContext:
    """Apply every filler to the template's resources, in template order."""
    resources: dict[str, Any] = template.get("Resources", {})
    for logical_id, resource in resources.items():
        filler = GAP_FILLERS.get(resource.get("Type", ""))
        if filler is None:
            continue
        condition = resource.get("Condition")
        if condition and not ctx.moto_stack.resource_map.lazy_condition_map[condition]:
            continue
        filler(ctx, logical_id, resource.get("Properties") or {})
        LOGGER.debug("filled %s (%s)", logical_id, resource["Type"])
    return ctx
