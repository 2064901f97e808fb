"""Polling and execution-history helpers for tests that watch asynchronous work finish."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def wait_for(
    what: str, probe: Callable[[], T | None], timeout: float = 60, every: float = 0.25
) -> T:
    """Poll ``probe`` until it returns something truthy; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


def history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**kwargs)
        events.extend(page["events"])
        if not page.get("nextToken"):
            return events
        kwargs["nextToken"] = page["nextToken"]


def entered_states(events: list[dict[str, Any]]) -> list[str]:
    """Names of the states the execution entered, in order."""
    return [
        e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e
    ]


def failed_tasks(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e["taskFailedEventDetails"] for e in events if e["type"] == "TaskFailed"]


def waiting_at(sfn: Any, execution_arn: str, state: str) -> bool:
    """True while the execution is RUNNING and is in ``state`` (entered more often than
    exited: other branches of a Parallel, the remediation's, may have moved on since)."""
    if sfn.describe_execution(executionArn=execution_arn)["status"] != "RUNNING":
        return False
    events = history(sfn, execution_arn)
    entered = entered_states(events)
    exited = [
        e["stateExitedEventDetails"]["name"] for e in events if "stateExitedEventDetails" in e
    ]
    return entered.count(state) > exited.count(state)


def finished(sfn: Any, execution_arn: str) -> dict[str, Any] | None:
    described: dict[str, Any] = sfn.describe_execution(executionArn=execution_arn)
    return None if described["status"] == "RUNNING" else described


def output_of(described: dict[str, Any]) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(described.get("output") or "{}")
    return loaded


def s3_keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
    return [item["Key"] for item in listed.get("Contents", [])]


def drain(sqs: Any, queue_url: str, wait_seconds: int = 1) -> list[dict[str, Any]]:
    """All messages currently on the queue (deleted as they are read)."""
    messages: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=wait_seconds,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not batch:
            return messages
        for message in batch:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        messages.extend(batch)


def page_for(messages: list[dict[str, Any]], incident_id: str) -> dict[str, Any] | None:
    """The SNS notification (as delivered to SQS) that pages for ``incident_id``."""
    for message in messages:
        body = json.loads(message["Body"])
        attributes = body.get("MessageAttributes", {})
        if attributes.get("incident_id", {}).get("Value") == incident_id:
            return dict(body)
    return None


def run_scenario(script: Path, workdir: Path, timeout: float = 600) -> dict[str, Any]:
    """Run a scenario module in a process of its own (one emulator per process: the scenarios
    need settings of their own) and return the JSON document it prints last."""
    root = script.resolve().parents[2]
    pythonpath = os.pathsep.join([str(root), str(root / "functions")])
    completed = subprocess.run(
        [sys.executable, str(script), str(workdir)],
        cwd=root,
        env={**os.environ, "PYTHONPATH": pythonpath},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-4000:]
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result
