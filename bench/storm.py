"""Benchmark: an alarm storm through the ingest path on the local emulator.

    .venv/bin/python bench/storm.py [--alarms 10] [--deliveries 100] [--in-flight 20] [--keep]

Starts the emulator (moto server, the synthesised stack deployed into it, Lambdas in worker
processes), subscribes an SQS queue to the paging topic, then puts 1,000 "CloudWatch Alarm
State Change" events on the default bus with PutEvents, 10 per call: 10 alarms on unrelated
Lambda functions, 100 deliveries each (distinct ALARM transitions plus exact copies of some of
them, the duplicates a redelivering bus produces), all shuffled. EventBridge routes them to
ingest; ingest correlates them. It prints incidents opened, executions started, pages sent
(messages on the queue) and events per second, and pass/fail against exactly one incident,
one execution and one page per alarm.

The emulator runs Lambdas asynchronously without a concurrency limit, so the bench keeps at most
`--in-flight` events between PutEvents and ingest's answer (it counts the answers in the
emulator's lambda.log). The emulator applies each DynamoDB request atomically, as DynamoDB does
(runbook/local/moto_fixes.py), which ingest's conditional writes rely on.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "functions"), str(ROOT)]


from runbook.local.emulator import LocalEmulator  # noqa: E402
from runbook.local.server import free_port  # noqa: E402

ACCOUNT = "123456789012"
REGION = "us-east-1"
DETAIL_TYPE = "CloudWatch Alarm State Change"
INGEST_HANDLER = "handlers.ingest.lambda_handler"
ANSWERS = ('"message":"ingested"', '"message":"incident opened"', '"message":"rejected event"')


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"


def alarm_detail(name: str, function: str, moment: datetime) -> dict[str, Any]:
    """The `detail` of an ALARM transition, as CloudWatch documents it."""
    return {
        "alarmName": name,
        "configuration": {
            "description": f"Errors of {function}",
            "metrics": [
                {
                    "id": "m1",
                    "metricStat": {
                        "metric": {
                            "dimensions": {"FunctionName": function},
                            "name": "Errors",
                            "namespace": "AWS/Lambda",
                        },
                        "period": 60,
                        "stat": "Sum",
                    },
                    "returnData": True,
                }
            ],
        },
        "previousState": {
            "reason": "Threshold Crossed: no datapoints were received.",
            "timestamp": _stamp(moment - timedelta(seconds=30)),
            "value": "OK",
        },
        "state": {
            "reason": "Threshold Crossed: 1 out of the last 1 datapoints was greater than or "
            "equal to the threshold (5.0).",
            "timestamp": _stamp(moment),
            "value": "ALARM",
        },
    }


@dataclass(frozen=True)
class Delivery:
    alarm: str
    entry: dict[str, Any]


def storm(alarms: int, deliveries: int, seed: int) -> list[Delivery]:
    """`deliveries` per alarm: 80 % distinct transitions, the rest exact copies of them."""
    rng = random.Random(seed)
    start = datetime.now(UTC) - timedelta(minutes=20)
    out: list[Delivery] = []
    for n in range(alarms):
        name = f"storm-{n:02d}-critical-errors"  # the default policy pages "critical" names
        function = f"storm-function-{n:02d}"
        arn = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}"
        distinct = max(1, deliveries * 4 // 5)
        entries = []
        for i in range(distinct):
            moment = start + timedelta(seconds=10 * i, milliseconds=rng.randrange(1000))
            entries.append(
                {
                    "Source": "aws.cloudwatch",
                    "DetailType": DETAIL_TYPE,
                    "Detail": json.dumps(alarm_detail(name, function, moment)),
                    "Resources": [arn],
                    "Time": moment,
                }
            )
        copies = [dict(rng.choice(entries)) for _ in range(deliveries - distinct)]
        out += [Delivery(name, e) for e in entries + copies]
    rng.shuffle(out)
    return out


class Answers:
    """Counts ingest's answers in the emulator's lambda.log (one per delivered event)."""

    def __init__(self, log: Path, function_name: str) -> None:
        self._log = log
        self._marker = f" {function_name} "
        self._offset = 0
        self.count = 0

    def refresh(self) -> int:
        if not self._log.exists():
            return self.count
        with self._log.open(encoding="utf-8", errors="replace") as handle:
            handle.seek(self._offset)
            chunk = handle.read()
        complete = chunk[: chunk.rfind("\n") + 1]
        self._offset += len(complete.encode("utf-8", errors="replace"))
        for line in complete.splitlines():
            if self._marker in line and any(a in line for a in ANSWERS):
                self.count += 1
        return self.count


def wait_until(predicate: Callable[[], bool], timeout: float, every: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return predicate()


def subscribe_pager(emulator: LocalEmulator, topic_arn: str) -> str:
    sqs = emulator.client("sqs")
    url: str = sqs.create_queue(QueueName="storm-pager")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    emulator.client("sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn)
    return url


def pages_on(emulator: LocalEmulator, queue_url: str) -> int:
    attributes = emulator.client("sqs").get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(v) for v in attributes.values())


def incidents_in(emulator: LocalEmulator, table: str) -> int:
    dynamodb = emulator.client("dynamodb")
    count, kwargs = 0, {"TableName": table, "ProjectionExpression": "incident_id"}
    while True:
        page = dynamodb.scan(**kwargs)
        count += sum(1 for i in page["Items"] if "#" not in i["incident_id"]["S"])
        if "LastEvaluatedKey" not in page:
            return count
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def executions_of(emulator: LocalEmulator, state_machine_arn: str) -> int:
    sfn = emulator.client("stepfunctions")
    return len(sfn.list_executions(stateMachineArn=state_machine_arn)["executions"])


def ingest_function(emulator: LocalEmulator) -> str:
    for page in emulator.client("lambda").get_paginator("list_functions").paginate():
        for function in page["Functions"]:
            if function.get("Handler") == INGEST_HANDLER:
                return str(function["FunctionName"])
    raise RuntimeError("no ingest function deployed")


def run(args: argparse.Namespace) -> bool:
    workdir = Path(tempfile.mkdtemp(prefix="storm-"))
    emulator = LocalEmulator(free_port(), workdir)
    print(f"emulator: starting in {workdir}", flush=True)
    emulator.start()
    try:
        emulator.deploy()
        outputs = emulator.outputs
        queue = subscribe_pager(emulator, outputs["CriticalTopicArn"])
        answers = Answers(emulator.log_dir / "lambda.log", ingest_function(emulator))
        deliveries = storm(args.alarms, args.deliveries, args.seed)
        events = emulator.client("events")
        print(f"storm: {len(deliveries)} events, {args.alarms} alarms, PutEvents by 10", flush=True)

        started = time.monotonic()
        for first in range(0, len(deliveries), 10):
            batch = deliveries[first : first + 10]
            wait_until(lambda sent=first: answers.refresh() >= sent - args.in_flight, 300, 0.05)
            failed = events.put_events(Entries=[d.entry for d in batch])["FailedEntryCount"]
            if failed:
                raise RuntimeError(f"PutEvents refused {failed} entries")
        all_answered = wait_until(lambda: answers.refresh() >= len(deliveries), 300, 0.05)
        elapsed = time.monotonic() - started

        expected = args.alarms
        wait_until(lambda: pages_on(emulator, queue) >= expected, args.settle)
        time.sleep(3)  # anything extra would show now
        incidents = incidents_in(emulator, outputs["IncidentTableName"])
        executions = executions_of(emulator, outputs["StateMachineArn"])
        pages = pages_on(emulator, queue)
    finally:
        emulator.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)

    rate = len(deliveries) / elapsed if elapsed else 0.0
    print()
    print(f"  events delivered      {len(deliveries):>6}  (answered by ingest: {answers.count})")
    print(f"  incidents opened      {incidents:>6}  (expected {expected})")
    print(f"  executions started    {executions:>6}  (expected {expected})")
    print(f"  pages sent            {pages:>6}  (expected {expected})")
    window = f"{elapsed:.1f} s, at most {args.in_flight} in flight"
    print(f"  events per second     {rate:>9.1f}  ({window})")
    ok = all_answered and incidents == executions == pages == expected
    print()
    print("PASS" if ok else "FAIL", f": exactly {expected} incidents, executions and pages")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alarms", type=int, default=10)
    parser.add_argument("--deliveries", type=int, default=100, help="per alarm")
    parser.add_argument("--in-flight", type=int, default=20, help="events awaiting ingest")
    parser.add_argument("--settle", type=float, default=180.0, help="seconds to wait for pages")
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--keep", action="store_true", help="keep the emulator's workdir (logs)")
    sys.exit(0 if run(parser.parse_args()) else 1)


if __name__ == "__main__":
    main()
