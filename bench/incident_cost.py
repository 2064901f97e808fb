"""Benchmark: what one critical incident costs in Step Functions and Lambda, at on-demand prices.

    .venv/bin/python bench/incident_cost.py [--settings '{"stabilisationSeconds": 3}'] [--keep]

Runs the demo's incident (runbook/demo.py `run_scenario`: a failing Lambda function, its
critical alarm to ALARM, page, diagnostics, the wait for recovery, the alarm back to OK, the
postmortem) on the embedded emulator with its local settings (`--settings` overrides them, as
LocalEmulator's settings_overrides), then counts what AWS would bill:

- State transitions, from the execution's GetExecutionHistory: every `*StateEntered` event,
  plus one per retry (a Task scheduled again without being entered again). Step Functions
  "counts a state transition each time a step of your workflow is executed ... including
  retries" (https://aws.amazon.com/step-functions/pricing/). Whatever the workflow does
  (escalations, stabilisation waits, flaps) is counted as it happens.
- Lambda requests and billed duration, from the REPORT line each invocation writes to the
  emulator's lambda.log (the state machine's tasks, and ingest and recovery started by
  EventBridge): duration plus, on a cold start, the init duration (billed for ZIP functions
  on managed runtimes since 1 August 2025: https://aws.amazon.com/blogs/compute/
  aws-lambda-standardizes-billing-for-init-phase/), rounded up to 1 ms, times the function's
  MemorySize from the template. The scheduled recovery_watch runs every minute whether or
  not there is an incident: its cost is reported per month, not per incident.

Prices (us-east-1, on-demand, first tier): Step Functions Standard $0.025 per 1,000 state
transitions (https://aws.amazon.com/step-functions/pricing/); Lambda arm64 $0.0000133334 per
GB-second and $0.20 per 1M requests (https://aws.amazon.com/lambda/pricing/). Free tiers are
ignored. SNS, DynamoDB, S3, CloudWatch and X-Ray charges are not counted (a few requests each).
Durations are this machine's against moto, not Graviton against AWS: read them as an order of
magnitude. Goal (issue 7): under $0.002 per incident; exit code 1 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import re
import shutil
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "functions"), str(ROOT)]

from runbook.context import Context  # noqa: E402
from runbook.demo import run_scenario  # noqa: E402
from runbook.local.emulator import LocalEmulator  # noqa: E402
from runbook.local.server import free_port  # noqa: E402

PRICE_PER_TRANSITION = 0.025 / 1000
PRICE_PER_GB_SECOND_ARM = 0.0000133334
PRICE_PER_REQUEST = 0.20 / 1_000_000
GOAL_PER_INCIDENT = 0.002
SCHEDULED_STEPS = frozenset({"recovery_watch"})
MINUTES_PER_MONTH = 30 * 24 * 60
REPORT = re.compile(
    r"^\S+ (?P<function>\S+) REPORT RequestId: \S+\tDuration: (?P<duration>[\d.]+) ms\t"
    r".*Memory Size: (?P<memory>\d+) MB(?:\tInit Duration: (?P<init>[\d.]+) ms)?"
)


@dataclass(frozen=True)
class Invocation:
    step: str
    duration_ms: float
    init_ms: float
    memory_mb: int

    @property
    def billed_ms(self) -> int:
        return math.ceil(self.duration_ms + self.init_ms)

    @property
    def gb_seconds(self) -> float:
        return self.memory_mb / 1024 * self.billed_ms / 1000


def history(ctx: Context, execution_arn: str) -> list[dict[str, Any]]:
    """Every event of the execution, oldest first."""
    sfn = ctx.client("stepfunctions")
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**kwargs)
        events += page["events"]
        if not page.get("nextToken"):
            return events
        kwargs["nextToken"] = page["nextToken"]


def transitions(events: list[dict[str, Any]]) -> tuple[Counter[str], int]:
    """State entries by state type, and retries (Tasks scheduled more often than entered)."""
    entered: Counter[str] = Counter()
    tasks_entered = scheduled = 0
    for event in events:
        kind = str(event["type"])
        if kind.endswith("StateEntered"):
            entered[kind.removesuffix("StateEntered")] += 1
            tasks_entered += kind == "TaskStateEntered"
        elif kind in ("TaskScheduled", "LambdaFunctionScheduled"):
            scheduled += 1
    return entered, max(0, scheduled - tasks_entered)


def step_names(ctx: Context) -> dict[str, str]:
    """Function name -> step (`handlers.<step>.lambda_handler`) for the stack's functions."""
    names: dict[str, str] = {}
    for page in ctx.client("lambda").get_paginator("list_functions").paginate():
        for fn in page["Functions"]:
            handler = str(fn.get("Handler", ""))
            if handler.startswith("handlers."):
                names[fn["FunctionName"]] = handler.split(".")[1]
    return names


def invocations(log: Path, steps: dict[str, str]) -> list[Invocation]:
    """One entry per REPORT line of the stack's functions in the emulator's lambda.log."""
    found = []
    for line in log.read_text(encoding="utf-8").splitlines():
        match = REPORT.match(line)
        if match and match["function"] in steps:
            found.append(
                Invocation(
                    step=steps[match["function"]],
                    duration_ms=float(match["duration"]),
                    init_ms=float(match["init"] or 0.0),
                    memory_mb=int(match["memory"]),
                )
            )
    return found


def execution_of(ctx: Context) -> str:
    """The one execution the scenario started (the emulator is fresh)."""
    sfn = ctx.client("stepfunctions")
    listed = sfn.list_executions(stateMachineArn=ctx.output("StateMachineArn"))["executions"]
    if len(listed) != 1:
        raise SystemExit(f"expected one execution, found {len(listed)}")
    return str(listed[0]["executionArn"])


def report(entered: Counter[str], retries: int, calls: list[Invocation]) -> float:
    """Print the breakdown; the price per incident."""
    count = sum(entered.values()) + retries
    sfn_cost = count * PRICE_PER_TRANSITION
    print("\nStep Functions (Standard)")
    kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(entered.items()))
    print(f"  state transitions   {count:>6}   ({kinds}; retries {retries})")
    print(f"  cost                ${sfn_cost:.6f}")

    incident = [c for c in calls if c.step not in SCHEDULED_STEPS]
    print("\nLambda (arm64)      invocations  cold  billed ms  memory MB   GB-s")
    by_step: dict[str, list[Invocation]] = {}
    for call in incident:
        by_step.setdefault(call.step, []).append(call)
    for step, group in sorted(by_step.items()):
        print(
            f"  {step:<20}{len(group):>9}{sum(1 for c in group if c.init_ms):>6}"
            f"{sum(c.billed_ms for c in group):>11}{group[0].memory_mb:>11}"
            f"{sum(c.gb_seconds for c in group):>9.3f}"
        )
    gb_seconds = sum(c.gb_seconds for c in incident)
    requests_cost = len(incident) * PRICE_PER_REQUEST
    duration_cost = gb_seconds * PRICE_PER_GB_SECOND_ARM
    print(f"  requests            {len(incident):>6}   ${requests_cost:.6f}")
    print(f"  duration            {gb_seconds:>6.3f} GB-s ${duration_cost:.6f}")

    total = sfn_cost + requests_cost + duration_cost
    print(f"\nper incident: ${total:.6f} (goal < ${GOAL_PER_INCIDENT})")

    scheduled = [c for c in calls if c.step in SCHEDULED_STEPS]
    if scheduled:
        warm = [c for c in scheduled if not c.init_ms] or scheduled
        mean_gbs = sum(c.gb_seconds for c in warm) / len(warm)
        monthly = MINUTES_PER_MONTH * (PRICE_PER_REQUEST + mean_gbs * PRICE_PER_GB_SECOND_ARM)
        print(
            f"fixed: {', '.join(sorted({c.step for c in scheduled}))} once a minute, "
            f"{len(scheduled)} runs seen here, ~${monthly:.4f} per month (not per incident)"
        )
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--settings", default="{}", help="JSON merged over the emulator's local settings"
    )
    parser.add_argument("--keep", action="store_true", help="keep the emulator's workdir")
    parser.add_argument("--verbose", action="store_true", help="show the demo's narration")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="runbook-cost-"))
    emulator = LocalEmulator(
        port=free_port(), workdir=workdir, settings_overrides=json.loads(args.settings)
    )
    print("starting the emulator and deploying the stack (synth included)...", flush=True)
    emulator.start()
    try:
        emulator.deploy()
        ctx = Context(endpoint_url=emulator.endpoint_url)
        print("running one critical incident to recovery...", flush=True)
        narration = io.StringIO()
        with contextlib.redirect_stdout(sys.stdout if args.verbose else narration):
            result = run_scenario(ctx)
        print(f"incident {result['incident_id']}: execution {result['status']}")
        execution_arn = execution_of(ctx)
        entered, retries = transitions(history(ctx, execution_arn))
        calls = invocations(emulator.log_dir / "lambda.log", step_names(ctx))
    finally:
        emulator.stop()
        if args.keep:
            print(f"workdir kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    total = report(entered, retries, calls)
    passed = result["status"] == "SUCCEEDED" and total < GOAL_PER_INCIDENT
    print(f"overall: {'PASS' if passed else 'FAIL'}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
