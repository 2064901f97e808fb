"""Read alarm state history from CloudWatch: the responses the replay (and `--save`) use.

Three read-only calls, each paginated as CloudWatch documents it: DescribeAlarmHistory
(`HistoryItemType=StateUpdate`, the window, oldest first, metric alarms), DescribeAlarms for the
alarms seen (100 names per call) and ListTagsForResource per alarm (the `Severity` tag). The
`--alarm` pattern is a regular expression, applied here to the names CloudWatch returns (the
API filters on one exact name only). IAM: cloudwatch:DescribeAlarmHistory, DescribeAlarms and
ListTagsForResource.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from runbook.replay import ReplayError

NAMES_PER_CALL = 100  # DescribeAlarms' AlarmNames limit


def _failure(what: str, exc: Exception) -> ReplayError:
    if isinstance(exc, NoCredentialsError):
        return ReplayError(
            "no AWS credentials to read the alarm history: set AWS_PROFILE/--profile, "
            "or replay a saved file (--from-file)"
        )
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return ReplayError(f"CloudWatch {what}: {error.get('Code')}: {error.get('Message')}")
    return ReplayError(f"CloudWatch {what}: {exc}")


def read_account(
    cloudwatch: Any, start: datetime, end: datetime, alarm_pattern: str | None = None
) -> list[dict[str, Any]]:
    """The responses, as `--save` writes them: history pages (only the matching alarms'
    items), one DescribeAlarms page per 100 alarms, one ListTagsForResource answer (with its
    `ResourceARN`) per alarm found."""
    try:
        matcher = re.compile(alarm_pattern) if alarm_pattern else None
    except re.error as exc:
        raise ReplayError(f"--alarm: invalid regular expression {alarm_pattern!r}: {exc}") from None
    responses: list[dict[str, Any]] = []
    names: set[str] = set()
    try:
        pages = cloudwatch.get_paginator("describe_alarm_history").paginate(
            HistoryItemType="StateUpdate",
            AlarmTypes=["MetricAlarm"],
            StartDate=start,
            EndDate=end,
            ScanBy="TimestampAscending",
        )
        for page in pages:
            items = [
                item
                for item in page.get("AlarmHistoryItems", [])
                if matcher is None or matcher.search(str(item.get("AlarmName", "")))
            ]
            names.update(str(item["AlarmName"]) for item in items if item.get("AlarmName"))
            responses.append({"AlarmHistoryItems": items})
    except (ClientError, BotoCoreError) as exc:
        raise _failure("DescribeAlarmHistory", exc) from None
    ordered = sorted(names)
    arns: list[str] = []
    try:
        paginator = cloudwatch.get_paginator("describe_alarms")
        for offset in range(0, len(ordered), NAMES_PER_CALL):
            chunk = ordered[offset : offset + NAMES_PER_CALL]
            for page in paginator.paginate(AlarmNames=chunk, AlarmTypes=["MetricAlarm"]):
                alarms = page.get("MetricAlarms", [])
                arns += [str(a["AlarmArn"]) for a in alarms if a.get("AlarmArn")]
                responses.append({"MetricAlarms": alarms})
    except (ClientError, BotoCoreError) as exc:
        raise _failure("DescribeAlarms", exc) from None
    for arn in arns:
        try:
            tags = cloudwatch.list_tags_for_resource(ResourceARN=arn).get("Tags", [])
        except (ClientError, BotoCoreError) as exc:
            raise _failure(f"ListTagsForResource {arn}", exc) from None
        responses.append({"ResourceARN": arn, "Tags": tags})
    return responses
