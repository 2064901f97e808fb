"""create_postmortem's permissions: publish to the notification topic (and use its key), read
only the diagnostics evidence, describe this account's alarms, render metric graphs (Resource *
because GetMetricWidgetImage has no resource-level permissions, acknowledged with a reason)."""

from __future__ import annotations

from typing import Any

from stacks.functions import STEPS

from .conftest import Synth
from .test_iam import _actions, _as_list, _role_statements


def _statement(synth: Synth, action: str) -> dict[str, Any]:
    (statement,) = [
        s for s in _role_statements(synth, "create_postmortem") if action in _as_list(s["Action"])
    ]
    return statement


def _topics(synth: Synth) -> dict[str, str]:
    """Logical id of each topic by its output (CriticalTopicArn, NotificationTopicArn, ...);
    PagingTopicArn is left out: it names the critical topic again, under its contract name."""
    return {
        name.removesuffix("TopicArn").lower(): output["Value"]["Ref"]
        for name, output in synth.template["Outputs"].items()
        if name.endswith("TopicArn") and name != "PagingTopicArn"
    }


def _postmortem(synth: Synth) -> dict[str, Any]:
    (function,) = [
        f["Properties"]
        for f in synth.resources("AWS::Lambda::Function").values()
        if f["Properties"]["Handler"] == "handlers.create_postmortem.lambda_handler"
    ]
    return function


def test_notification_topic_arn_is_in_the_environment(synth: Synth) -> None:
    env = _postmortem(synth)["Environment"]["Variables"]
    assert env["NOTIFICATION_TOPIC_ARN"] == {"Ref": _topics(synth)["notification"]}


def test_publishes_to_the_notification_topic_only(synth: Synth) -> None:
    topics = _topics(synth)
    assert set(topics) == {"critical", "high", "notification", "escalation", "drill"}
    statement = _statement(synth, "sns:Publish")
    assert statement["Resource"] == {"Ref": topics["notification"]}
    assert _as_list(statement["Action"]) == ["sns:Publish"]


def test_uses_the_topic_and_bucket_key(synth: Synth) -> None:
    (key_id,) = synth.resources("AWS::KMS::Key")
    actions = set()
    for statement in _role_statements(synth, "create_postmortem"):
        if statement["Resource"] == {"Fn::GetAtt": [key_id, "Arn"]}:
            actions |= set(_as_list(statement["Action"]))
    assert {"kms:Decrypt", "kms:GenerateDataKey*"} <= actions


def test_reads_only_the_diagnostics_evidence(synth: Synth) -> None:
    statement = _statement(synth, "s3:GetObject")
    assert statement["Action"] == "s3:GetObject"
    join = statement["Resource"]["Fn::Join"][1]
    assert join[-1] == "/incidents/*/diagnostics.json"
    assert not any(
        a.startswith("s3:List") for a in _actions(_role_statements(synth, "create_postmortem"))
    )


def test_describes_this_accounts_alarms_and_renders_widgets(synth: Synth) -> None:
    describe = _statement(synth, "cloudwatch:DescribeAlarms")
    assert describe["Resource"] == "arn:aws:cloudwatch:us-east-1:123456789012:alarm:*"
    widget = _statement(synth, "cloudwatch:GetMetricWidgetImage")
    assert widget["Resource"] == "*"
    # CDK merges it with the X-Ray writes of active tracing, the other Resource * actions.
    assert set(_as_list(widget["Action"])) == {
        "cloudwatch:GetMetricWidgetImage",
        "xray:PutTelemetryRecords",
        "xray:PutTraceSegments",
    }


def test_resource_star_is_acknowledged_for_the_widget_api(synth: Synth) -> None:
    reasons = [
        reason
        for path, rule, reason in synth.acknowledgements()
        if "CreatePostmortem" in path and rule == "AwsSolutions-IAM5[Resource::*]"
    ]
    assert any("GetMetricWidgetImage (the postmortem" in r for r in reasons)


def test_other_steps_cannot_render_graphs_or_read_evidence(synth: Synth) -> None:
    (bucket,) = [b for b in synth.resources("AWS::S3::Bucket") if "Artifact" in b]
    for step in set(STEPS) - {"create_postmortem"}:
        statements = _role_statements(synth, step)
        assert "cloudwatch:GetMetricWidgetImage" not in _actions(statements)
        if step == "remediate":  # compares evidence before/after (test_remediation_access.py)
            continue
        for statement in statements:
            if "s3:GetObject" in _as_list(statement["Action"]):
                # Only the response declaration's object in the asset bucket, never evidence.
                assert bucket not in str(statement["Resource"]), step
