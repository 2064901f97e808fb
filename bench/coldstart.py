"""Benchmark: import time of every Lambda handler in a fresh interpreter, relative to boto3.

    .venv/bin/python bench/coldstart.py [--runs 15] [--only ingest,classify] [--importtime]

A Lambda cold start pays for the handler module's imports once per execution environment.
boto3 has to be imported by every step anyway, so the figure that the code controls is the
import time of `handlers.<step>` divided by that of `import boto3` alone, both measured the
same way in the same run: a new interpreter per sample (subprocess, cwd and PYTHONPATH =
functions/, the asset root), the CPU time (`time.process_time()`) of the one import statement,
so the interpreter's own start-up is charged to neither, and other work on a shared 2-core
machine inflates the samples far less than wall-clock time would (imports are CPU-bound once the
files are in the page cache). The environment looks like Lambda's
(LAMBDA_TASK_ROOT and AWS_EXECUTION_ENV set, so Powertools' Tracer is active and patches what
it patches on AWS; the POWERTOOLS_* and contract variables the stack sets), and samples of all
modules are interleaved so a noisy moment hits every module alike. The median of `--runs`
samples is used.

Goal (issue 7): at most 1.5 for every handler, at most 1.3 for the paging path (ingest,
classify). A "floor" row (boto3 + pydantic's BaseModel + shared.observability, i.e. Powertools
with an active Tracer) shows what any handler of this design pays before its own code.
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
# Not judged: what every handler pays before its own code under this design (boto3, pydantic's
# BaseModel, Powertools with an active Tracer), so the table shows how much room a goal leaves.
FLOOR = "boto3, pydantic.main, shared.observability"

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

_PROBE = "import time\nt0 = time.process_time()\nimport {module}\nprint(time.process_time() - t0)\n"


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


def sample(module: str, env: dict[str, str]) -> float:
    """Seconds to import `module` in a new interpreter; raises with stderr on failure."""
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
    return float(done.stdout.strip().splitlines()[-1])


def measure(modules: list[str], runs: int) -> dict[str, float | str]:
    """Median seconds per module (or the error text of a module that cannot be imported)."""
    env = _environment()
    for module in modules:  # warm the page cache and write bytecode before timing
        with contextlib.suppress(RuntimeError):
            sample(module, env)
    samples: dict[str, list[float]] = {m: [] for m in modules}
    errors: dict[str, str] = {}
    for _ in range(runs):
        for module in modules:
            if module in errors:
                continue
            try:
                samples[module].append(sample(module, env))
            except RuntimeError as exc:
                errors[module] = str(exc)
    out: dict[str, float | str] = {m: statistics.median(s) for m, s in samples.items() if s}
    out.update(errors)
    return out


def where_time_goes(module: str, top: int = 8) -> list[tuple[str, float]]:
    """Self time (ms, from `python -X importtime`) of what `module` imports beyond boto3,
    summed per top-level package: module-level work (pydantic model building, a Tracer's
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
    modules = [BASELINE, FLOOR] + [f"handlers.{step}" for step in steps]
    print(
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, median of {args.runs} "
        "fresh interpreters per module"
    )
    medians = measure(modules, args.runs)
    base = medians[BASELINE]
    if not isinstance(base, float):
        print(f"cannot import {BASELINE}: {base}")
        return 1
    print(f"\n{'module':<32}{'import ms':>10}{'x boto3':>9}{'goal':>7}  result")
    print(f"{BASELINE:<32}{base * 1000:>10.1f}{1.0:>9.2f}{'':>7}")
    floor = medians[FLOOR]
    if isinstance(floor, float):
        print(f"{'floor: + pydantic, Powertools':<32}{floor * 1000:>10.1f}{floor / base:>9.2f}")
    failed = []
    for step in steps:
        module = f"handlers.{step}"
        goal = GOAL_PAGING if step in PAGING_PATH else GOAL
        value = medians[module]
        if not isinstance(value, float):
            print(f"{module:<32}{'-':>10}{'-':>9}{goal:>7.1f}  FAIL (import error: {value})")
            failed.append(step)
            continue
        ratio = value / base
        verdict = "PASS" if ratio <= goal else "FAIL"
        if verdict == "FAIL":
            failed.append(step)
        print(f"{module:<32}{value * 1000:>10.1f}{ratio:>9.2f}{goal:>7.1f}  {verdict}")
    if args.importtime:
        for step in steps:
            print(f"\nhandlers.{step} beyond boto3, self time per package (ms, -X importtime):")
            for name, ms in where_time_goes(f"handlers.{step}"):
                print(f"  {ms:8.1f}  {name}")
    print(f"\noverall: {'FAIL (' + ', '.join(failed) + ')' if failed else 'PASS'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
