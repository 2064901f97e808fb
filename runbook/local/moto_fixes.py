"""Small corrections to moto 5.2.5 bugs that a CDK-synthesised template runs into.

Each fix is narrow, names the bug it works around, and is removed again when the emulator
stops, so moto behaves as shipped for anything else in the process. The template itself is
deployed unchanged.
"""

from __future__ import annotations

import copy
import json
import math
import re
import threading
import warnings
from collections.abc import Callable
from functools import partial
from typing import Any

from moto.cloudwatch.exceptions import CloudWatchException
from moto.cloudwatch.models import Statistics
from moto.cloudwatch.responses import CloudWatchResponse
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.responses import DynamoHandler
from moto.iam.access_control import IAMPolicyStatement, PermissionResult
from moto.kms.models import Key
from moto.s3.models import FakeBucket
from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackEndpoint, HeartbeatEndpoint
from moto.xray.models import SegmentCollection

_installed: list[Callable[[], None]] = []


def _patch_classmethod(owner: type, name: str, replacement: Callable[..., Any]) -> None:
    original = owner.__dict__[name]
    setattr(owner, name, classmethod(replacement))
    _installed.append(lambda: setattr(owner, name, original))


def _kms_key_from_cloudformation() -> None:
    """AWS::KMS::Key: moto passes CloudFormation's ``Tags`` ({Key, Value}) to a tagger that
    expects KMS's {TagKey, TagValue} (KeyError: 'TagKey'), and stores ``KeyPolicy`` as the
    template's object where the KMS API returns a JSON string."""
    original = Key.__dict__["create_from_cloudformation_json"].__func__

    def create(
        cls: type,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        fixed = copy.deepcopy(cloudformation_json)
        properties = fixed.setdefault("Properties", {})
        properties["Tags"] = [
            {
                "TagKey": tag.get("Key", tag.get("TagKey")),
                "TagValue": tag.get("Value", tag.get("TagValue")),
            }
            for tag in properties.get("Tags", [])
        ]
        if not isinstance(properties.get("KeyPolicy", ""), str):
            properties["KeyPolicy"] = json.dumps(properties["KeyPolicy"])
        return original(cls, resource_name, fixed, account_id, region_name, **kwargs)

    _patch_classmethod(Key, "create_from_cloudformation_json", create)


# What AWS knows about every request to the emulator: its endpoints only speak HTTPS.
REQUEST_CONTEXT = {"aws:securetransport": "true"}
_CONDITION_OPERATORS: dict[str, Callable[[list[str], str], bool]] = {
    "Bool": lambda expected, actual: actual.lower() in [e.lower() for e in expected],
    "StringEquals": lambda expected, actual: actual in expected,
    "StringNotEquals": lambda expected, actual: actual not in expected,
}


def condition_holds(condition: dict[str, dict[str, Any]]) -> bool:
    """Whether a policy statement's Condition holds for an emulator request. A key or operator
    the emulator cannot evaluate counts as not holding: the statement then does not apply."""
    for operator, tests in condition.items():
        check = _CONDITION_OPERATORS.get(operator)
        if check is None:
            return False
        for key, expected in tests.items():
            actual = REQUEST_CONTEXT.get(key.lower())
            values = [str(v) for v in (expected if isinstance(expected, list) else [expected])]
            if actual is None or not check(values, actual):
                return False
    return True


def bucket_permission(policy: dict[str, Any], action: str, resource: str) -> PermissionResult:
    """Evaluate a bucket policy: an explicit Deny wins, then an Allow, else neutral."""
    statements = policy.get("Statement", [])
    permitted = False
    for statement in statements if isinstance(statements, list) else [statements]:
        condition = statement.get("Condition")
        if condition is not None:
            if not condition_holds(condition):
                continue
            statement = {k: v for k, v in statement.items() if k != "Condition"}
        result = IAMPolicyStatement(statement).is_action_permitted(action, resource)
        if result == PermissionResult.DENIED:
            return result
        permitted = permitted or result == PermissionResult.PERMITTED
    return PermissionResult.PERMITTED if permitted else PermissionResult.NEUTRAL


def _s3_bucket_policy_conditions() -> None:
    """S3 bucket policies: moto treats a condition it cannot evaluate (``Bool``) as holding and
    an unmet condition as a Deny, so CDK's ``enforceSSL`` statement (Deny unless
    aws:SecureTransport) refuses every request, though the emulator stands in for HTTPS
    endpoints. Conditions are evaluated here instead, against REQUEST_CONTEXT."""
    original = FakeBucket.__dict__["get_permission"]

    def get_permission(self: FakeBucket, action: str, resource: str) -> Any:
        if self.policy is None:
            return PermissionResult.NEUTRAL
        return bucket_permission(json.loads(self.policy.decode()), action, resource)

    FakeBucket.get_permission = get_permission  # type: ignore[method-assign]
    _installed.append(lambda: setattr(FakeBucket, "get_permission", original))


def _callback_outcome_before_heartbeat_wait() -> None:
    """waitForTaskToken with HeartbeatSeconds: moto sets up the task's heartbeat endpoint only
    after the invoked Lambda returns, and ``CallbackEndpoint.notify`` wakes the heartbeat wait
    only if that endpoint exists. A SendTaskSuccess made while the Lambda runs (MonitorRecovery
    resuming at once because the alarm went OK before the wait began) is stored but never
    seen: the task waits on for a heartbeat and times out. The endpoint set up after an
    outcome arrived starts notified, so the wait picks the outcome up at once."""
    original = CallbackEndpoint.__dict__["setup_heartbeat_endpoint"]

    def setup_heartbeat_endpoint(self: CallbackEndpoint, heartbeat_seconds: int) -> Any:
        endpoint: HeartbeatEndpoint = original(self, heartbeat_seconds)
        if self.get_outcome() is not None:
            endpoint.notify()
        return endpoint

    CallbackEndpoint.setup_heartbeat_endpoint = setup_heartbeat_endpoint  # type: ignore[method-assign]
    _installed.append(lambda: setattr(CallbackEndpoint, "setup_heartbeat_endpoint", original))


def percentile(values: list[float], p: float) -> float | None:
    """Nearest rank: the smallest value with at least p % of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def _cloudwatch_percentiles() -> None:
    """GetMetricData with a percentile stat (``p99``): moto computes only Sum/Average/Minimum/
    Maximum/SampleCount and answers None, which its serializer turns into a 500 once the
    metric has data points (the emulator's Lambdas give Duration data points)."""
    original = Statistics.__dict__["get_statistics_for_type"]

    def get_statistics_for_type(self: Statistics, stat: str) -> Any:
        value = original(self, stat)
        match = re.fullmatch(r"p(\d+(?:\.\d+)?)", stat or "")
        if value is None and match:
            return percentile(self.metric_single_values_list, float(match.group(1)))
        return value

    Statistics.get_statistics_for_type = get_statistics_for_type  # type: ignore[method-assign]
    _installed.append(lambda: setattr(Statistics, "get_statistics_for_type", original))


def _xray_filter_without_traces() -> None:
    """GetTraceSummaries with a FilterExpression: moto answers InternalFailure ("Not implemented
    yet"). The emulator's functions run untraced, so with no trace stored nothing can match:
    answer the empty result AWS would give; with traces stored, moto's error stands."""
    original = SegmentCollection.__dict__["summary"]

    def summary(
        self: SegmentCollection, start_time: Any, end_time: Any, filter_expression: Any = None
    ) -> Any:
        if filter_expression is not None and not self._traces:
            return original(self, start_time, end_time, None)
        return original(self, start_time, end_time, filter_expression)

    SegmentCollection.summary = summary  # type: ignore[method-assign]
    _installed.append(lambda: setattr(SegmentCollection, "summary", original))


class MetricGraphsNotRendered(CloudWatchException):
    """What the emulator answers for GetMetricWidgetImage: a clear client error."""

    code = "UnsupportedOperation"
    message = "The local emulator does not render metric graphs; open the CloudWatch console."


def _cloudwatch_widget_image_refused() -> None:
    """GetMetricWidgetImage: moto raises NotImplementedError, which its server turns into a
    500 that botocore retries and the server logs as a crash. Answer a 400 client error at
    once, so callers take their documented fallback (a console link) without retries."""

    def get_metric_widget_image(self: CloudWatchResponse) -> Any:
        raise MetricGraphsNotRendered()

    CloudWatchResponse.get_metric_widget_image = get_metric_widget_image  # type: ignore[attr-defined]
    # The code is ours, not in CloudWatch's model; moto's serializer says so on every call.
    warnings.filterwarnings("ignore", message=r"Exception\(MetricGraphsNotRendered\)")
    _installed.append(lambda: delattr(CloudWatchResponse, "get_metric_widget_image"))


_DYNAMODB_OPERATIONS = (
    "put_item",
    "update_item",
    "delete_item",
    "get_item",
    "query",
    "scan",
    "transact_write_items",
)


def serialise_dynamodb_requests() -> Callable[[], None]:
    """moto checks a ConditionExpression and then writes without a lock, so two concurrent
    conditional writes can both succeed; DynamoDB applies each request atomically. One lock
    around moto's table operations restores that guarantee (ingest's correlation relies on it).
    Returns the undo; the concurrency tests use it too.

    The lock covers the whole API request (DynamoHandler.call_action), not only the backend
    call: moto turns a returned item into its response after the backend returns, reading the
    live item another thread may be updating ("dictionary changed size during iteration").
    The backend methods take the same lock for callers that bypass the API (CloudFormation)."""
    lock = threading.RLock()
    undo: list[Callable[[], None]] = []
    targets = [(DynamoHandler, "call_action")] + [
        (DynamoDBBackend, name) for name in _DYNAMODB_OPERATIONS
    ]
    for owner, name in targets:
        original = owner.__dict__[name]

        def locked(self: Any, *args: Any, __original: Any = original, **kwargs: Any) -> Any:
            with lock:
                return __original(self, *args, **kwargs)

        setattr(owner, name, locked)
        undo.append(partial(setattr, owner, name, original))

    def restore() -> None:
        for step in undo:
            step()

    return restore


def install_moto_fixes() -> None:
    if not _installed:
        _installed.append(serialise_dynamodb_requests())
        _cloudwatch_widget_image_refused()
        _kms_key_from_cloudformation()
        _s3_bucket_policy_conditions()
        _cloudwatch_percentiles()
        _xray_filter_without_traces()
        _callback_outcome_before_heartbeat_wait()


def remove_moto_fixes() -> None:
    while _installed:
        _installed.pop()()
