"""A throwaway Lambda function for the e2e tests: echoes its environment and context, fails,
sleeps, writes to S3 or records the EventBridge events it is sent, as the event asks."""

from __future__ import annotations

import io
import zipfile

PROBE_HANDLER = """
import json
import os
import time

import boto3


class TransientDependencyError(Exception):
    pass


def lambda_handler(event, context):
    if "detail-type" in event:  # delivered by an EventBridge rule: leave a trace in S3
        boto3.client("s3").put_object(
            Bucket=os.environ["PROBE_BUCKET"],
            Key=f"events/{event['source']}/{event['id']}.json",
            Body=json.dumps(event).encode(),
        )
        return {"recorded": event["id"]}
    action = event.get("action", "echo")
    if action == "fail":
        raise TransientDependencyError(event.get("message", "boom"))
    if action == "sleep":
        time.sleep(event["seconds"])
    if action == "put":
        s3 = boto3.client("s3")
        s3.put_object(Bucket=os.environ["PROBE_BUCKET"], Key=event["key"], Body=b"1")
    return {
        "pid": os.getpid(),
        "value": os.environ.get("PROBE_VALUE"),
        "function_name": context.function_name,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "invoked_function_arn": context.invoked_function_arn,
        "aws_request_id": context.aws_request_id,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "endpoint": os.environ.get("AWS_ENDPOINT_URL"),
        "region": os.environ.get("AWS_REGION"),
        "trace_disabled": os.environ.get("POWERTOOLS_TRACE_DISABLED"),
    }
"""


def probe_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handlers/__init__.py", "")
        archive.writestr("handlers/probe.py", PROBE_HANDLER)
    return buffer.getvalue()
