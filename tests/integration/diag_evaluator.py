"""Logs Insights with query semantics inside moto: the local emulator's evaluator
(runbook/local/logs_insights.py) answers StartQuery, so the shipped queries run for real over
log lines put into moto, and StartQuery refuses a missing log group as AWS does."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from runbook.local.logs_insights import install_logs_insights, remove_logs_insights
from shared.timeutil import utcnow

from .diag_stubs import REGION


@pytest.fixture
def evaluator(moto: None) -> Iterator[None]:
    """moto's StartQuery replaced by the emulator's evaluator for this test only."""
    install_logs_insights()
    try:
        yield
    finally:
        remove_logs_insights()


def put_lines(group: str, *messages: str, stream: str = "2024/05/01/[$LATEST]0a1b2c") -> None:
    """A log group (created if need be) with these lines, one second apart, a minute ago."""
    logs = boto3.client("logs", region_name=REGION)
    if not logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]:
        logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    start = int(utcnow().timestamp() * 1000) - 60_000
    events: list[dict[str, Any]] = [
        {"timestamp": start + 1000 * n, "message": message} for n, message in enumerate(messages)
    ]
    logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)


def report(request_id: str, duration_ms: float, size_mb: int, used_mb: int) -> str:
    """A Lambda REPORT line as the platform writes it."""
    return (
        f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
        f"Billed Duration: {int(duration_ms) + 1} ms\tMemory Size: {size_mb} MB\t"
        f"Max Memory Used: {used_mb} MB\t\n"
    )
