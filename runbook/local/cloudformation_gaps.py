"""Finish, through the services' own APIs, what moto's CloudFormation skips or gets wrong.

moto 5.2.5's CloudFormation silently skips some resource types (S3 BucketPolicy, SNS
TopicPolicy and Subscription, SQS QueuePolicy, SecretsManager Secret, CloudWatch Alarm,
EventBridge Scheduler Schedule and ScheduleGroup), ignores Lambda's LoggingConfig, and creates
state machines in its non-executing Step Functions backend (and cannot read
DefinitionS3Location at all). After the stack is created, this module creates those pieces from
the same synthesised template, with intrinsic functions resolved by moto's own CloudFormation
resolver against the deployed stack, so that physical ids match what the stack reports. A
``Ref``/``Fn::GetAtt ... Arn`` to a resource moto skipped resolves to what this module created
for it (moto's resolver knows nothing of it), so schedule groups are created before schedules.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import logging
import re
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
    alarms: list[str] = field(default_factory=list)
    """Names of the stack's CloudWatch alarms (the ones the emulator evaluates)."""
    arns: dict[str, str] = field(default_factory=dict)
    """Logical id -> ARN (``Fn::GetAtt X.Arn``) of what this module created."""

    def resolve(self, fragment: Any) -> Any:
        filled = self._filled(copy.deepcopy(fragment))
        return clean_json(filled, self.moto_stack.resource_map)

    def _skipped_by_moto(self, logical_id: str) -> bool:
        return logical_id in self.created and self.moto_stack.resource_map[logical_id] is None

    def _filled(self, fragment: Any) -> Any:
        """References to resources moto skipped, replaced by what this module created."""
        if isinstance(fragment, list):
            return [self._filled(item) for item in fragment]
        if not isinstance(fragment, dict):
            return fragment
        if set(fragment) == {"Ref"} and self._skipped_by_moto(str(fragment["Ref"])):
            return self.created[str(fragment["Ref"])]
        if set(fragment) == {"Fn::GetAtt"}:
            target = fragment["Fn::GetAtt"]
            logical, _, attribute = (
                ".".join(target) if isinstance(target, list) else str(target)
            ).partition(".")
            if attribute == "Arn" and logical in self.arns and self._skipped_by_moto(logical):
                return self.arns[logical]
        if set(fragment) == {"Fn::Sub"}:
            sub = fragment["Fn::Sub"]
            if isinstance(sub, str):
                return {"Fn::Sub": self._filled_sub(sub)}
            return {"Fn::Sub": [self._filled_sub(str(sub[0])), self._filled(sub[1])]}
        return {key: self._filled(value) for key, value in fragment.items()}

    def _filled_sub(self, template: str) -> str:
        """``${X}`` / ``${X.Arn}`` of resources moto skipped, replaced in a Sub template."""

        def replace(found: re.Match[str]) -> str:
            logical, _, attribute = found.group(1).partition(".")
            if not self._skipped_by_moto(logical) or attribute not in ("", "Arn"):
                return found.group(0)
            if attribute == "Arn":
                return self.arns.get(logical, found.group(0))
            return self.created[logical]

        return re.sub(r"\$\{([A-Za-z0-9]+(?:\.[A-Za-z]+)?)\}", replace, template)

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
    ctx.arns[logical_id] = (
        f"arn:aws:cloudwatch:{ctx.region}:{ctx.account}:alarm:{params['AlarmName']}"
    )
    ctx.alarms.append(params["AlarmName"])


def _generated_name(ctx: GapContext, logical_id: str) -> str:
    """A name as CloudFormation makes one for an unnamed resource (stack-logical-SUFFIX); the
    suffix is derived, not random, so that a redeploy finds the resource it made before."""
    suffix = hashlib.sha256(f"{ctx.stack_name}/{logical_id}".encode()).hexdigest()[:12].upper()
    return f"{ctx.stack_name}-{logical_id}"[:51] + f"-{suffix}"


def _schedule_group(ctx: GapContext, logical_id: str, props: dict[str, Any]) -> None:
    resolved = ctx.resolve(props)
    name = resolved.get("Name") or _generated_name(ctx, logical_id)
    scheduler = ctx.clients("scheduler")
    try:  # a redeploy keeps the group (moto's CreateScheduleGroup would empty it)
        arn = scheduler.get_schedule_group(Name=name)["Arn"]
    except scheduler.exceptions.ResourceNotFoundException:
        tags = resolved.get("Tags", [])
        arn = scheduler.create_schedule_group(Name=name, Tags=tags)["ScheduleGroupArn"]
    ctx.created[logical_id] = name
    ctx.arns[logical_id] = arn


_SCHEDULE_PARAMETERS = (
    "GroupName",
    "Description",
    "ScheduleExpression",
    "ScheduleExpressionTimezone",
    "FlexibleTimeWindow",
    "State",
    "KmsKeyArn",
    "Target",
    "ActionAfterCompletion",
)


def _schedule(ctx: GapContext, logical_id: str, props: dict[str, Any]) -> None:
    """AWS::Scheduler::Schedule through CreateSchedule (UpdateSchedule on a redeploy)."""
    resolved = ctx.resolve(props)
    params = {key: resolved[key] for key in _SCHEDULE_PARAMETERS if key in resolved}
    for key in ("StartDate", "EndDate"):  # ISO-8601 strings in the template
        if resolved.get(key):
            params[key] = dt.datetime.fromisoformat(str(resolved[key]).replace("Z", "+00:00"))
    params["Name"] = resolved.get("Name") or _generated_name(ctx, logical_id)
    scheduler = ctx.clients("scheduler")
    try:
        arn = scheduler.create_schedule(**params)["ScheduleArn"]
    except scheduler.exceptions.ConflictException:
        params.pop("ActionAfterCompletion", None)
        arn = scheduler.update_schedule(**params)["ScheduleArn"]
    ctx.created[logical_id] = params["Name"]
    ctx.arns[logical_id] = arn


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
    "AWS::Scheduler::ScheduleGroup": _schedule_group,
    "AWS::Scheduler::Schedule": _schedule,
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


# Created before the others, whatever the template order: what the others refer to.
_FIRST = ("AWS::Scheduler::ScheduleGroup",)


def fill_gaps(ctx: GapContext, template: dict[str, Any]) -> GapContext:
    """Apply every filler to the template's resources, in template order (schedule groups
    first, since schedules name them)."""
    resources: dict[str, Any] = template.get("Resources", {})
    ordered = sorted(resources.items(), key=lambda item: item[1].get("Type") not in _FIRST)
    for logical_id, resource in ordered:
        filler = GAP_FILLERS.get(resource.get("Type", ""))
        if filler is None:
            continue
        condition = resource.get("Condition")
        if condition and not ctx.moto_stack.resource_map.lazy_condition_map[condition]:
            continue
        filler(ctx, logical_id, resource.get("Properties") or {})
        LOGGER.debug("filled %s (%s)", logical_id, resource["Type"])
    return ctx
