"""Benchmark: time-to-page of a drill on the local emulator (issue 15).

    .venv/bin/python bench/drill.py [--drills 5] [--goal-p95 10] [--timeout 60]

Starts the emulator with the stack deployed, then runs `runbook drill` N times in a row (each
a synthetic incident put on the default bus, ingested, classified, paged on the drill topic,
diagnosed, resolved and documented: runbook/drill.py). Prints each drill's time to page, to
diagnostics and to the postmortem, their median and 95th percentile, and PASS/FAIL of the
p95 time-to-page against the goal. Exit 1 on FAIL or on a drill that did not complete.

The figures are the emulator's (moto on this machine, Lambdas in worker processes): they say
how much of the path is the runbook's own work and catch regressions in it; on AWS, add
EventBridge's and SNS's delivery latency (typically well under a second each).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "functions"), str(ROOT)]

from runbook.context import Context  # noqa: E402
from runbook.drill import DrillReport, run_drill  # noqa: E402
from runbook.local.emulator import LocalEmulator  # noqa: E402
from runbook.local.server import free_port  # noqa: E402


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (`share` 0..1) of at least one value."""
    ranked = sorted(values)
    index = max(0, min(len(ranked) - 1, round(share * len(ranked) + 0.5) - 1))
    return ranked[index]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--drills", type=int, default=5)
    parser.add_argument("--goal-p95", type=float, default=10.0, help="seconds (default 10)")
    parser.add_argument("--timeout", type=float, default=60.0, help="per drill (default 60 s)")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-drill-"))
    emulator = LocalEmulator(free_port(), workdir)
    emulator.start()
    reports: list[DrillReport] = []
    try:
        emulator.deploy()
        ctx = Context(endpoint_url=emulator.endpoint_url)
        for n in range(args.drills):
            report = run_drill(ctx, timeout=args.timeout, requested_by="bench/drill.py")
            reports.append(report)
            figures = [
                report.time_to_page_s,
                report.time_to_diagnostics_s,
                report.time_to_postmortem_s,
            ]
            shown = "  ".join("-" if f is None else f"{f:6.1f}" for f in figures)
            print(f"drill {n + 1}: page/diagnostics/postmortem s  {shown}", flush=True)
            if report.failed_step:
                print(f"  FAILED: {report.failed_step}")
    finally:
        emulator.stop()

    failed = [r for r in reports if r.failed_step]
    pages = [r.time_to_page_s for r in reports if r.time_to_page_s is not None]
    print(f"\n{len(reports)} drills, {len(failed)} failed")
    for name, values in (
        ("time to page", pages),
        (
            "time to diagnostics",
            [r.time_to_diagnostics_s for r in reports if r.time_to_diagnostics_s],
        ),
        ("time to postmortem", [r.time_to_postmortem_s for r in reports if r.time_to_postmortem_s]),
    ):
        if values:
            print(
                f"{name:20} median {statistics.median(values):6.1f} s   "
                f"p95 {percentile(values, 0.95):6.1f} s"
            )
    if not pages:
        print("FAIL: no drill paged")
        return 1
    p95 = percentile(pages, 0.95)
    verdict = "PASS" if p95 <= args.goal_p95 and not failed else "FAIL"
    print(f"time-to-page p95 {p95:.1f} s, goal <= {args.goal_p95:g} s: {verdict}")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
