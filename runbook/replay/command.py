"""`runbook replay`: the argparse wiring and the run (docs/replay.md).

runbook replay --from -24h [--to now] [--alarm REGEX] [--save FILE]      # from the account
runbook replay --from-file FILE [--from T1] [--to T2] [--alarm REGEX]   # from a saved file
    [--set key=value ...] [--context FILE] [--speed N] [--json]
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from runbook.replay import ReplayError

_RELATIVE = re.compile(r"^-?(?P<count>\d+)(?P<unit>[smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
DEFAULT_WORKDIR = Path(__file__).resolve().parents[2] / ".runbook" / "replay"


def parse_when(text: str, option: str, now: datetime) -> datetime:
    """ISO-8601 (a time without a zone is UTC), `now`, or that long before now: `-30m`, `-6h`,
    `-2d` (`--from=-6h`: argparse takes `-6h` after a space for an option) or `6h`."""
    value = text.strip()
    if value == "now":
        return now
    relative = _RELATIVE.match(value)
    if relative:
        unit = _UNITS[relative.group("unit")]
        return now - timedelta(**{unit: int(relative.group("count"))})
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ReplayError(
            f"{option}: expected ISO-8601 (2024-05-01T06:00:00Z), now, or 30m/6h/2d ago; "
            f"got {text!r}"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `replay` on the CLI's subparsers; `args.run(args)` runs it."""
    from runbook.replay.configuration import DEFAULT_SPEED

    replay = subparsers.add_parser(
        "replay",
        help="replay alarm history through the current configuration on the local emulator",
        description="Replay CloudWatch alarm state history (from the account or a saved file) "
        "in time order, time-compressed, through the current configuration on the local "
        "emulator, and print what it would have done: incidents opened, pages per severity, "
        "escalations, storms folded (docs/replay.md).",
    )
    replay.add_argument(
        "--from", dest="start", metavar="T1", help="window start: ISO-8601, or 6h/30m/2d ago"
    )
    replay.add_argument("--to", dest="end", metavar="T2", help="window end (default: now)")
    replay.add_argument("--alarm", metavar="PATTERN", help="only alarms whose name matches")
    replay.add_argument(
        "--from-file", type=Path, metavar="FILE", help="a saved history instead of the account"
    )
    replay.add_argument("--save", type=Path, metavar="FILE", help="write what was read")
    replay.add_argument(
        "--speed",
        type=float,
        default=DEFAULT_SPEED,
        help="history seconds per second (default %(default)g: an hour in 30 s)",
    )
    replay.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a setting to try (cdk.json key; JSON values), repeatable",
    )
    replay.add_argument(
        "--context", type=Path, metavar="FILE", help="settings to try (a cdk.json or object)"
    )
    replay.add_argument("--profile", help="AWS profile (reading the account)")
    replay.add_argument("--region", help="AWS region (reading the account)")
    replay.add_argument("--port", type=int, default=None, help="emulator port (default: free)")
    replay.add_argument("--workdir", type=Path, default=None, help="emulator workdir and logs")
    replay.add_argument("--json", action="store_true", help="machine-readable JSON output")
    replay.set_defaults(run=run)
    return replay


def _history(args: argparse.Namespace, now: datetime) -> Any:
    from runbook.replay import history

    start = parse_when(args.start, "--from", now) if args.start else None
    end = parse_when(args.end, "--to", now) if args.end else None
    if start and end and start >= end:
        raise ReplayError("--from must be before --to")
    if args.alarm:
        try:
            re.compile(args.alarm)
        except re.error as exc:
            raise ReplayError(
                f"--alarm: invalid regular expression {args.alarm!r}: {exc}"
            ) from None
    if args.from_file is not None:
        if args.save is not None:
            raise ReplayError("--save writes what was read from the account: not with --from-file")
        responses = history.load_file(args.from_file)
        source = str(args.from_file)
    else:
        if start is None:
            raise ReplayError("give --from (and --to) to read the account, or --from-file")
        end = end or now
        responses = _read_account(args, start, end)
        source = "the account"
        if args.save is not None:
            _write(args.save, history.responses_json(responses))
    parsed = history.parse(responses, source if args.from_file is None else args.from_file.name)
    return history.select(
        parsed, source=source, start=start, end=end, alarm_pattern=args.alarm
    ), end


def _read_account(args: argparse.Namespace, start: datetime, end: datetime) -> list[Any]:
    import boto3
    from botocore.exceptions import BotoCoreError

    from runbook.replay.account import read_account

    try:
        session = boto3.Session(profile_name=args.profile, region_name=args.region)
        cloudwatch = session.client("cloudwatch")
    except BotoCoreError as exc:
        raise ReplayError(
            f"cannot open the AWS session: {exc} (--profile/--region, or AWS_PROFILE/AWS_REGION)"
        ) from None
    return read_account(cloudwatch, start, end, args.alarm)


def _write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ReplayError(f"--save {path}: {exc.strerror}") from None


def run(args: argparse.Namespace) -> int:
    """Read, plan, play, report; the report on stdout, progress on stderr."""
    from runbook.local.server import free_port
    from runbook.replay import configuration, report
    from runbook.replay.player import Player

    now = datetime.now(UTC)
    plan = configuration.plan(
        configuration.repo_settings(),
        context=configuration.read_context_file(args.context) if args.context else None,
        sets=configuration.parse_sets(args.set),
        speed=args.speed,
    )
    replayed, end = _history(args, now)

    began = time.monotonic()

    def progress(line: str) -> None:
        print(f"replay [{time.monotonic() - began:5.1f} s] {line}", file=sys.stderr, flush=True)

    workdir = (args.workdir or DEFAULT_WORKDIR).resolve()
    played = Player(
        replayed,
        plan,
        port=args.port or free_port(),
        workdir=workdir,
        end=end,
        progress=progress,
    ).run()
    built = report.build(
        incidents=played.incidents,
        deliveries=played.deliveries,
        topics=played.topics,
        settings=plan.settings,
        timing=plan.timing,
        start=played.start,
        end=played.end,
        changes=played.changes,
        alarms=len(replayed.initial),
        running_at_end=played.running_at_end,
        skipped_seconds=played.skipped_seconds,
        wall_seconds=played.wall_seconds,
        latest_change_seconds=played.latest_change_seconds,
        handling_seconds=played.handling_seconds,
        notes=played.notes,
    )
    print(report.as_json(built) if args.json else report.text(built))
    return 0
