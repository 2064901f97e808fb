"""`make demo`: a whole incident on the local emulator, narrated as it happens.

A Lambda function `orders-api` starts failing (error logs and an Errors metric are seeded), its
critical alarm fires, and the runbook does the rest: page, diagnostics, the incident waiting for
recovery; then the alarm returns to OK and the postmortem is written. It ends with the
postmortem's S3 URI, the local copy saved in the workdir (the emulator, and its bucket, stop with
the demo) and its summary.
"""

from __future__ import annotations

import io
import json
import tempfile
import time
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from botocore.exceptions import ClientError

from runbook.context import Context
from runbook.errors import CliError

T = TypeVar("T")
FUNCTION = "payments-api"  # the example declaration pages the payments rotation for it


def alarm_name(function: str) -> str:
    return f"{function}-errors"


ACCOUNT = "123456789012"


def _say(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


def wait_for(
    what: str, probe: Callable[[], T | None], timeout: float = 120.0, every: float = 0.5
) -> T:
    """Poll `probe` until it returns something truthy; fail with a clear message on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(every)
    raise CliError(f"demo: timed out after {timeout:.0f}s waiting for {what}")


def _function_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    raise RuntimeError('boom')\n")
    return buffer.getvalue()


def at_iso(epoch_ms: int) -> str:
    """Lambda's Python runtime stamps log lines like 2026-11-22T03:15:00.123Z."""
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def seed_failing_function(ctx: Context, function: str = FUNCTION) -> None:
    """A Lambda function with error logs and an Errors metric, as a real outage leaves them."""
    iam = ctx.client("iam")
    role = iam.create_role(
        RoleName=f"{function}-role",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    ctx.client("lambda").create_function(
        FunctionName=function,
        Runtime="python3.13",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": _function_zip()},
        MemorySize=512,
        Timeout=15,
    )
    logs = ctx.client("logs")
    group = f"/aws/lambda/{function}"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="2026/11/22/[$LATEST]demo")
    now = datetime.now(UTC)
    events = []
    for i in range(12):
        at = int((now - timedelta(minutes=12 - i)).timestamp() * 1000)
        request = f"7d1c5f3e-{i:04d}-4f0a-9b1e-3c2d1e0f{i:04d}"
        events += [
            {"timestamp": at, "message": f"START RequestId: {request} Version: $LATEST"},
            {
                "timestamp": at + 10,
                "message": f"[ERROR]\t{at_iso(at)}\t{request}\tConnectTimeout: "
                "HTTPSConnectionPool(host='payments.internal', port=443): Max retries exceeded "
                "(Caused by ConnectTimeoutError(connection to payments.internal timed out))",
            },
            {
                "timestamp": at + 20,
                "message": f"REPORT RequestId: {request}\tDuration: 15000.00 ms\t"
                "Billed Duration: 15000 ms\tMemory Size: 512 MB\t"
                "Max Memory Used: 498 MB",
            },
        ]
    logs.put_log_events(
        logGroupName=group, logStreamName="2026/11/22/[$LATEST]demo", logEvents=events
    )
    metrics = [
        {
            "MetricName": name,
            "Dimensions": [{"Name": "FunctionName", "Value": function}],
            "Timestamp": now - timedelta(minutes=m),
            "Value": value,
            "Unit": unit,
        }
        for m in range(10)
        for name, value, unit in (
            ("Errors", 5.0 + m, "Count"),
            ("Invocations", 20.0, "Count"),
            ("Throttles", 0.0, "Count"),
            ("Duration", 15000.0, "Milliseconds"),
        )
    ]
    ctx.client("cloudwatch").put_metric_data(Namespace="AWS/Lambda", MetricData=metrics)


def create_alarm(ctx: Context, function: str = FUNCTION) -> None:
    ctx.client("cloudwatch").put_metric_alarm(
        AlarmName=alarm_name(function),
        AlarmDescription=f"{function} is throwing errors",
        Namespace="AWS/Lambda",
        MetricName="Errors",
        Dimensions=[{"Name": "FunctionName", "Value": function}],
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1.0,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        Tags=[{"Key": "Severity", "Value": "critical"}],
    )


def subscribe_queue(ctx: Context, topic_arn: str, name: str) -> str:
    """An SQS queue on the paging topic, so the demo can show the page as a phone would get it."""
    sqs = ctx.client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    ctx.client("sns").subscribe(
        TopicArn=topic_arn, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "false"}
    )
    return str(url)


def _receive(ctx: Context, url: str, incident_id: str) -> dict[str, Any] | None:
    """The page for this incident (others on the topic are skipped)."""
    sqs = ctx.client("sqs")
    for message in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", []):
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        body = json.loads(message["Body"])
        if incident_id in str(body.get("Message", "")):
            return dict(body)
    return None


def _incident_for_alarm(ctx: Context, alarm: str) -> dict[str, Any] | None:
    for item in ctx.table().scan().get("Items", []):
        if item.get("alarm_name") == alarm:
            return dict(item)
    return None


def _engaged(ctx: Context, alarm: str) -> dict[str, Any] | None:
    """The incident's escalation plan once its first pages went out (docs/oncall.md)."""
    item = _incident_for_alarm(ctx, alarm) or {}
    engagement = item.get("engagement")
    if isinstance(engagement, dict) and any(
        p.get("status") != "pending" for p in engagement.get("pages", [])
    ):
        return engagement
    return None


def _read_s3(ctx: Context, uri: str) -> str:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return str(ctx.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8"))


def _try_read_s3(ctx: Context, uri: str) -> str | None:
    try:
        return _read_s3(ctx, uri)
    except ClientError as err:
        if err.response["Error"]["Code"] in ("NoSuchKey", "404"):
            return None
        raise


def save_postmortem(ctx: Context, uri: str, document: str, folder: Path) -> tuple[Path, bool]:
    """Copy the document, and the graph it embeds as `metric.png` when one was stored, into
    `folder`: the S3 URI dies with the emulator. Returns the document's path and whether the
    graph came too."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "postmortem.md"
    path.write_text(document, encoding="utf-8")
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    graph_key = key.rsplit("/", 1)[0] + "/metric.png"
    try:
        png = ctx.client("s3").get_object(Bucket=bucket, Key=graph_key)["Body"].read()
    except ClientError as err:
        if err.response["Error"]["Code"] not in ("NoSuchKey", "404"):
            raise
        return path, False
    (folder / "metric.png").write_bytes(png)
    return path, True


def describe_evidence(evidence: dict[str, Any]) -> list[str]:
    """The verdict, its causes and each source's status, as a responder would skim them."""
    verdict = evidence.get("verdict") or {}
    lines = [f"Verdict: {verdict.get('headline', 'none')} (scope: {verdict.get('scope', '-')})"]
    for cause in verdict.get("causes", [])[:3]:
        lines.append(f"  cause: {cause.get('title')} -> {cause.get('fix')}")
        lines.extend(f"    evidence: {str(e)[:110]}" for e in cause.get("evidence", [])[:2])
    for finding in evidence.get("findings", []):
        lines.append(
            f"  {finding.get('source')} [{finding.get('target')}]: {finding.get('status')}"
            + (f" - {str(finding.get('message'))[:80]}" if finding.get("message") else "")
        )
    return lines


def _execution_status(ctx: Context, arn: str) -> str:
    return str(ctx.client("stepfunctions").describe_execution(executionArn=arn)["status"])


def run_scenario(
    ctx: Context, function: str = FUNCTION, workdir: Path | None = None
) -> dict[str, Any]:
    """The incident itself, against any endpoint that has the stack deployed; with `workdir`,
    the postmortem is also saved under `workdir/postmortems/<incident id>/`."""
    outputs = ctx.outputs
    page_queue = subscribe_queue(ctx, outputs["CriticalTopicArn"], f"{function}-pager")
    alarm = alarm_name(function)
    _say(f"Seeding a failing Lambda function '{function}' (error logs, Errors metric)...")
    seed_failing_function(ctx, function)
    create_alarm(ctx, function)
    _say(f"Alarm '{alarm}' (tag Severity=critical) -> ALARM")
    ctx.client("cloudwatch").set_alarm_state(
        AlarmName=alarm,
        StateValue="ALARM",
        StateReason="Threshold Crossed: 1 datapoint [9.0] was >= the threshold (1.0).",
    )
    incident = wait_for("the incident to open", lambda: _incident_for_alarm(ctx, alarm))
    incident_id = incident["incident_id"]
    _say(
        f"Incident {incident_id} opened; execution {incident.get('execution_arn') or '(starting)'}"
    )

    page = wait_for(
        "the page on the paging topic", lambda: _receive(ctx, page_queue, incident_id), timeout=90
    )
    _say(f"PAGE sent: {page.get('Subject')}")
    for line in str(page.get("Message", "")).splitlines()[:8]:
        print(f"    | {line}")

    def monitoring() -> dict[str, Any] | None:
        item = _incident_for_alarm(ctx, alarm)
        return item if item and item.get("status") == "MONITORING" else None

    incident = wait_for("the recovery wait", monitoring, timeout=120)
    engaged = wait_for("the on-call person's page", lambda: _engaged(ctx, alarm), timeout=60)
    plan = engaged["plan"]
    _say(f"People engaged (response plan {engaged['response_plan']}, escalation plan {plan}):")
    for page in engaged["pages"]:
        if page.get("status") == "pending":
            continue
        via = str(page["via"]).replace("rotation:", "on call in rotation ")
        print(
            f"    | PAGED {page['contact_name']} via {page['channel']} "
            f"({page['channel_type']}, stage {int(page['stage']) + 1}, {via}): {page['status']}"
        )
    evidence_uri = f"s3://{outputs['ArtifactBucketName']}/incidents/{incident_id}/diagnostics.json"
    evidence = json.loads(
        wait_for("the diagnostics evidence", lambda: _try_read_s3(ctx, evidence_uri))
    )
    _say(f"Diagnostics written to {evidence_uri}")
    for line in describe_evidence(evidence):
        print(f"    | {line}")
    _say("MonitorRecovery is waiting for the task token (the incident is MONITORING)")

    _say(f"Alarm '{alarm}' -> OK (the fix is out)")
    ctx.client("cloudwatch").set_alarm_state(
        AlarmName=alarm, StateValue="OK", StateReason="Threshold no longer crossed"
    )
    execution_arn = str(incident["execution_arn"])
    _say("The runbook waits out the stabilisation period and re-checks the alarm (flap-safe)...")
    status = wait_for(
        "the execution to finish",
        lambda: (s := _execution_status(ctx, execution_arn)) != "RUNNING" and s,
        timeout=120,
    )
    _say(f"Execution {status}")
    final = _incident_for_alarm(ctx, alarm) or {}
    uri = final.get("postmortem_uri")
    if not uri:
        raise CliError(f"demo: no postmortem recorded (incident status {final.get('status')})")
    document = _read_s3(ctx, str(uri))
    for line in document.split("\n## Timeline")[0].splitlines()[:40]:
        print(f"    | {line}")
    _say(f"Postmortem: {uri}")
    saved = None
    if workdir is not None:
        folder = workdir.resolve() / "postmortems" / incident_id
        saved, with_graph = save_postmortem(ctx, str(uri), document, folder)
        _say(f"Postmortem file: {saved}" + (" (metric.png beside it)" if with_graph else ""))
    _say(f"Summary: {final.get('postmortem_summary', '(none)')}")
    return {
        "incident_id": incident_id,
        "status": status,
        "postmortem_uri": uri,
        "postmortem_file": saved,
    }


def run_demo(port: int, workdir: Path | None = None) -> int:
    from runbook.local.emulator import LocalEmulator

    workdir = workdir or Path(tempfile.mkdtemp(prefix="runbook-demo-"))
    _say(f"Starting the local emulator on 127.0.0.1:{port} (workdir {workdir})")
    emulator = LocalEmulator(port=port, workdir=workdir)
    emulator.start()
    try:
        _say("Synthesising the CDK app and deploying stack IncidentRunbook to the emulator...")
        emulator.deploy()
        ctx = Context(endpoint_url=emulator.endpoint_url)
        _say(f"Deployed. State machine: {ctx.output('StateMachineArn')}")
        result = run_scenario(ctx, workdir=workdir)
        if result["status"] != "SUCCEEDED":
            raise CliError(f"demo: the execution ended {result['status']}")
        _say(
            "Done. To explore by hand, keep an emulator running with `make local` and use "
            "`python -m runbook list --endpoint-url http://127.0.0.1:4599` (see README)."
        )
        return 0
    finally:
        emulator.stop()
