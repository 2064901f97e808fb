"""Benchmark: import time of every Lambda handler in a fresh interpreter, relative to boto3.

    .venv/bin/python bench/coldstart.py [--runs 15] [--only ingest,classify] [--importtime]

A Lambda cold start pays for the handler module's imports once per execution environment.
boto3 has to be imported by every step anyway, so the figure that the code controls is the
import time of `handlers.<step>` divided by that of `import boto3` alone. Each sample is a new
interpreter (subprocess, cwd and PYTHONPATH = functions/, the asset root) that imports boto3
and then the handler, timing both with the CPU clock (`time.process_time()`): the ratio is the
handler's import time (boto3 included) over boto3's, measured in the same process, so the
interpreter's own start-up is charged to neither. The figure is the median of `--runs` such
ratios, samples of all modules interleaved.

Why the same process: this runs on a shared VM whose speed differs by up to 40 % from one
process to the next (boto3 alone: 115-220 ms of CPU in 15 consecutive samples), so medians
taken in different processes moved the ratios by +-0.15 between runs; two figures from one
process share its speed, and the ratio's quartiles stay within about +-0.02. The environment
looks like Lambda's (LAMBDA_TASK_ROOT and AWS_EXECUTION_ENV set, so Powertools' Tracer is
active and patches what it patches on AWS; the POWERTOOLS_* and contract variables the stack
sets).

Goal (issue 7): at most 1.5 for every handler, at most 1.3 for the paging path (ingest,
classify). A "floor" row (boto3 + shared.observability, i.e. Powertools with an active Tracer)
shows what any handler of this design pays before its own code.
Handlers are discovered from functions/handlers/*.py. Exit code 1 on any FAIL. `--importtime`
prints, per handler, the self time of what it imports beyond boto3 summed per top-level package
(`python -X importtime`), to show where the time goes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = ROOT / "functions"
BASELINE = "boto3"
PAGING_PATH = frozenset({"ingest", "classify"})
GOAL = 1.5
GOAL_PAGING = 1.3
# Not judged: what every handler pays before its own code under this design (boto3 and
# Powertools with an active Tracer), so the table shows how much room a goal leaves.
FLOOR = "boto3, shared.observability"

# What the stack sets (stacks/functions.py) plus what Lambda itself sets; values are plausible
# fakes: nothing is called at import time.
ACCOUNT = "123456789012"
REGION = "us-east-1"
LAMBDA_ENV = {
    "LAMBDA_TASK_ROOT": str(FUNCTIONS),
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
    "AWS_LAMBDA_FUNCTION_NAME": "IncidentRunbook-Bench",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
    "POWERTOOLS_SERVICE_NAME": "incident-runbook",
    "POWERTOOLS_METRICS_NAMESPACE": "IncidentRunbook",
    "POWERTOOLS_LOG_LEVEL": "INFO",
    "INCIDENT_TABLE_NAME": "IncidentRunbook-Incidents",
    "ARTIFACT_BUCKET_NAME": "incidentrunbook-artifacts",
    "STATE_MACHINE_ARN": (
        f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:IncidentRunbook-incident-response"
    ),
    "SEVERITY_POLICY": json.dumps({"defaultSeverity": "standard"}),
    "INGEST_POLICY": json.dumps({"correlationWindowMinutes": 5}),
    "DIAGNOSTICS_LOOKBACK_MINUTES": "30",
    "SLACK_SECRET_NAME": "",
    "TIMEZONE": "UTC",
    "NOTIFICATION_TOPIC_ARN": f"arn:aws:sns:{REGION}:{ACCOUNT}:IncidentRunbook-notifications",
}

# One sample: boto3's import time, then the module's (which includes boto3's), same process.
_PROBE = (
    "import time\n"
    "t0 = time.process_time()\n"
    "import boto3\n"
    "t1 = time.process_time()\n"
    "import {module}\n"
    "print(t1 - t0, time.process_time() - t0)\n"
)


def handler_steps() -> list[str]:
    """Every handler module present now (new steps are picked up without editing this)."""
    return sorted(
        path.stem for path in (FUNCTIONS / "handlers").glob("*.py") if path.stem != "__init__"
    )


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "AWS_"))}
    env.update(LAMBDA_ENV)
    env["PYTHONPATH"] = str(FUNCTIONS)
    # The warm-up sample writes bytecode for functions/, as site-packages has it for boto3.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def sample(module: str, env: dict[str, str]) -> tuple[float, float]:
    """Seconds to import boto3, and seconds to import `module` (boto3 included), in one new
    interpreter; raises with stderr on failure."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE.format(module=module)],
        cwd=FUNCTIONS,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr else "failed")
    boto3_s, module_s = done.stdout.strip().splitlines()[-1].split()
    return float(boto3_s), float(module_s)


class Medians:
    """Per module: the median import time, of boto3 in the same interpreters, and of the
    ratio of the two."""

    def __init__(self) -> None:
        self.value: dict[str, float] = {}
        self.baseline: dict[str, float] = {}
        self.ratio: dict[str, float] = {}
        self.errors: dict[str, str] = {}


def measure(modules: list[str], runs: int) -> Medians:
    """Sample every module `runs` times, interleaved, each sample a new interpreter."""
    env = _environment()
    for module in modules:  # warm the page cache and write bytecode before timing
        with contextlib.suppress(RuntimeError):
            sample(module, env)
    samples: dict[str, list[tuple[float, float]]] = {m: [] for m in modules}
    out = Medians()
    for _ in range(runs):
        for module in modules:
            if module in out.errors:
                continue
            try:
                samples[module].append(sample(module, env))
            except RuntimeError as exc:
                out.errors[module] = str(exc)
    for module, pairs in samples.items():
        if pairs:
            out.baseline[module] = statistics.median(base for base, _ in pairs)
            out.value[module] = statistics.median(value for _, value in pairs)
            out.ratio[module] = statistics.median(value / base for base, value in pairs)
    every_base = [base for pairs in samples.values() for base, _ in pairs]
    if every_base:
        out.value[BASELINE] = out.baseline[BASELINE] = statistics.median(every_base)
    return out


def where_time_goes(module: str, top: int = 8) -> list[tuple[str, float]]:
    """Self time (ms, from `python -X importtime`) of what `module` imports beyond boto3,
    summed per top-level package: module-level work (declaring models, a Tracer's
    patching) is charged to the package whose module does it."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {BASELINE}; import {module}"],
        cwd=FUNCTIONS,
        env=_environment(),
        capture_output=True,
        text=True,
        check=False,
    )
    totals: dict[str, float] = {}
    seen_baseline = False
    for line in done.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+\d+ \|( *)(\S+)", line)
        if not match:
            continue
        own, indent, name = int(match.group(1)), len(match.group(2)) // 2, match.group(3)
        if not seen_baseline:
            seen_baseline = name == BASELINE and indent == 0
            continue
        package = name.split(".")[0]
        if package in sys.stdlib_module_names:
            package = "(standard library)"
        totals[package] = totals.get(package, 0.0) + own / 1000
    return sorted(totals.items(), key=lambda item: -item[1])[:top]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="samples per module (median)")
    parser.add_argument("--only", default="", help="comma-separated steps (default: all)")
    parser.add_argument(
        "--importtime", action="store_true", help="also list each handler's heaviest imports"
    )
    args = parser.parse_args()

    steps = [s for s in args.only.split(",") if s] or handler_steps()
    modules = [FLOOR] + [f"handlers.{step}" for step in steps]
    print(
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, median of {args.runs} "
        "fresh interpreters per module"
    )
    medians = measure(modules, args.runs)
    if BASELINE not in medians.value:
        print(f"cannot import {BASELINE}: {next(iter(medians.errors.values()), 'failed')}")
        return 1
    base = medians.value[BASELINE]
    print(f"\n{'module':<32}{'import ms':>10}{'boto3 ms':>9}{'x boto3':>9}{'goal':>7}  result")
    print(f"{BASELINE:<32}{base * 1000:>10.1f}{base * 1000:>9.1f}{1.0:>9.2f}{'':>7}")
    if FLOOR in medians.value:
        label = "floor: + Powertools, Tracer"
        floor_ms, floor_base = medians.value[FLOOR] * 1000, medians.baseline[FLOOR] * 1000
        print(f"{label:<32}{floor_ms:>10.1f}{floor_base:>9.1f}{medians.ratio[FLOOR]:>9.2f}")
    failed = []
    for step in steps:
        module = f"handlers.{step}"
        goal = GOAL_PAGING if step in PAGING_PATH else GOAL
        if module not in medians.value:
            error = medians.errors.get(module, "failed")
            dashes = f"{'-':>10}{'-':>9}{'-':>9}"
            print(f"{module:<32}{dashes}{goal:>7.1f}  FAIL (import error: {error})")
            failed.append(step)
            continue
        ratio = medians.ratio[module]
        verdict = "PASS" if ratio <= goal else "FAIL"
        if verdict == "FAIL":
            failed.append(step)
        value, paired = medians.value[module] * 1000, medians.baseline[module] * 1000
        print(f"{module:<32}{value:>10.1f}{paired:>9.1f}{ratio:>9.2f}{goal:>7.1f}  {verdict}")
    if args.importtime:
        for step in steps:
            print(f"\nhandlers.{step} beyond boto3, self time per package (ms, -X importtime):")
            for name, ms in where_time_goes(f"handlers.{step}"):
                print(f"  {ms:8.1f}  {name}")
    print(f"\noverall: {'FAIL (' + ', '.join(failed) + ')' if failed else 'PASS'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
