"""EventBridge scheduled rules on the emulator: moto never fires them, ``schedule.py`` does, every
tick whatever the rate. Probe functions and queues stand in for the runbook's targets; every rule
made here is deleted afterwards, so it stops firing for the tests that follow."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from runbook.local.emulator import LocalEmulator
from runbook.local.schedule import Schedule, parse_schedule

from .helpers import drain, s3_keys, wait_for

pytestmark = pytest.mark.e2e

# The package emulator ticks every 5 s: a background firing shows up well within this.
BACKGROUND_WAIT = 20


@pytest.mark.parametrize(
    ("expression", "parsed"),
    [
        ("rate(1 minute)", Schedule("rate", 60)),
        ("rate(5 minutes)", Schedule("rate", 300)),
        ("rate(2 hours)", Schedule("rate", 7200)),
        ("rate(1 day)", Schedule("rate", 86400)),
        ("cron(0/5 * * * ? *)", Schedule("cron")),
        ("rate(0 minutes)", None),
        ("rate(1 second)", None),
        ("cron(* * *)", None),
        ("at(2030-01-01T00:00:00)", None),
        (None, None),
    ],
)
def test_schedule_expressions(expression: str | None, parsed: Schedule | None) -> None:
    assert parse_schedule(expression) == parsed


@pytest.fixture
def scheduled_rule(aws: Callable[[str], Any]) -> Iterator[Callable[..., str]]:
    """Create a scheduled rule with targets; returns its ARN. Deleted after the test."""
    events = aws("events")
    made: list[tuple[str, list[str]]] = []

    def make(
        name: str, targets: list[dict[str, Any]], expression: str = "rate(1 minute)", **kw: Any
    ) -> str:
        arn: str = events.put_rule(Name=name, ScheduleExpression=expression, **kw)["RuleArn"]
        made.append((name, [t["Id"] for t in targets]))
        events.put_targets(Rule=name, Targets=targets)
        return arn

    yield make
    for name, ids in made:
        events.remove_targets(Rule=name, Ids=ids)
        events.delete_rule(Name=name)


def scheduled_events(s3: Any, bucket: str, rule_arn: str) -> list[dict[str, Any]]:
    """Scheduled Events the probe recorded for ``rule_arn``."""
    found = []
    for key in s3_keys(s3, bucket, "events/aws.events/"):
        event = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        if event["resources"] == [rule_arn]:
            found.append(event)
    return found


def test_enabled_rules_fire_on_their_own_with_the_aws_shape_and_disabled_ones_never(
    aws: Callable[[str], Any],
    emulator: LocalEmulator,
    make_probe: Callable[..., Any],
    probe_bucket: str,
    scheduled_rule: Callable[..., str],
    unique: str,
) -> None:
    function = make_probe(f"e2e-scheduled-{unique}")
    target = [{"Id": "probe", "Arn": function["FunctionArn"]}]
    enabled = scheduled_rule(f"e2e-every-minute-{unique}", target)
    disabled = scheduled_rule(f"e2e-disabled-{unique}", target, State="DISABLED")
    s3 = aws("s3")

    # No explicit tick: the scheduler thread fires it.
    first, *_ = wait_for(
        "a background firing",
        lambda: scheduled_events(s3, probe_bucket, enabled),
        timeout=BACKGROUND_WAIT,
    )
    assert set(first) == {
        "version",
        "id",
        "detail-type",
        "source",
        "account",
        "time",
        "region",
        "resources",
        "detail",
    }
    assert first["version"] == "0"
    assert first["detail-type"] == "Scheduled Event"
    assert first["source"] == "aws.events"
    assert first["account"] == emulator.account
    assert first["region"] == emulator.region
    assert first["resources"] == [enabled]
    assert first["detail"] == {}
    assert uuid.UUID(first["id"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", first["time"])

    sent = emulator.fire_scheduled_rules()
    resources = [event["resources"] for event in sent]
    assert [enabled] in resources
    assert [disabled] not in resources
    wait_for("a second firing", lambda: len(scheduled_events(s3, probe_bucket, enabled)) > 1)
    assert scheduled_events(s3, probe_bucket, disabled) == []

    aws("events").enable_rule(Name=f"e2e-disabled-{unique}")
    assert [disabled] in [event["resources"] for event in emulator.fire_scheduled_rules()]
    wait_for("the enabled rule", lambda: scheduled_events(s3, probe_bucket, disabled))


def test_targets_get_their_input_and_a_failing_target_is_logged(
    aws: Callable[[str], Any],
    emulator: LocalEmulator,
    scheduled_rule: Callable[..., str],
    unique: str,
) -> None:
    sqs = aws("sqs")
    queue_url = sqs.create_queue(QueueName=f"e2e-scheduled-{unique}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    prefix = queue_arn.rsplit(":", 1)[0]
    missing_function = f"arn:aws:lambda:{emulator.region}:{emulator.account}:function:absent"
    constant = {"check": "heartbeats", "run": unique}
    name = f"e2e-cron-{unique}"
    rule = scheduled_rule(
        name,
        [
            {"Id": "missing-queue", "Arn": f"{prefix}:e2e-absent-{unique}"},
            {"Id": "missing-function", "Arn": missing_function},
            {"Id": "constant", "Arn": queue_arn, "Input": json.dumps(constant)},
            {
                "Id": "transformed",
                "Arn": queue_arn,
                "InputTransformer": {
                    "InputPathsMap": {"rule": "$.resources[0]", "kind": "$.detail-type"},
                    "InputTemplate": '{"rule": "<rule>", "kind": "<kind>"}',
                },
            },
        ],
        expression="cron(0/5 * * * ? *)",
    )

    emulator.fire_scheduled_rules()
    bodies = [json.loads(m["Body"]) for m in drain(sqs, queue_url, wait_seconds=1)]
    assert constant in bodies
    assert {"rule": rule, "kind": "Scheduled Event"} in bodies

    schedule_log = [
        json.loads(line)
        for line in (emulator.log_dir / "schedule.log").read_text().splitlines()
        if name in line
    ]
    outcomes = {entry["target"]: entry["outcome"] for entry in schedule_log}
    assert outcomes[f"{prefix}:e2e-absent-{unique}"].startswith("failed:")
    assert outcomes[queue_arn] == "delivered"
    events_log = [
        json.loads(line)
        for line in (emulator.log_dir / "events.log").read_text().splitlines()
        if name in line
    ]
    assert any(
        entry["target"] == missing_function and entry["outcome"].startswith("failed")
        for entry in events_log
    )

    # The failures did not end the scheduler thread: it delivers again on its own.
    wait_for(
        "the next background firing",
        lambda: drain(sqs, queue_url, wait_seconds=1),
        timeout=BACKGROUND_WAIT,
    )
