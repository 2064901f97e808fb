"""`runbook oncall`: who is on call now (or at a time), a rotation's schedule, and the
overrides operators add and remove at run time (docs/oncall.md).

The declaration comes from the deployed stack (its `ResponseConfigUri` output) or, with
`--file`, from a declaration file in the working tree (try a change before deploying it);
overrides always come from the stack's table (`OnCallTableName`).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from runbook.commands import operator_name
from runbook.context import Context
from runbook.errors import CliError
from runbook.render import table, to_json

MAX_SCHEDULE_DAYS = 90


def add_parser(sub: Any, aws: argparse.ArgumentParser) -> None:
    """Register `oncall now|schedule|override ...` under the CLI's subcommands."""
    oncall = sub.add_parser("oncall", help="who is on call; rotation schedules and overrides")
    actions = oncall.add_subparsers(dest="oncall_command", required=True, metavar="ACTION")
    source = argparse.ArgumentParser(add_help=False)
    source.add_argument(
        "--file", type=Path, help="read this declaration file instead of the deployed one"
    )
    now = actions.add_parser("now", parents=[aws, source], help="who is on call (now or --at)")
    now.add_argument("--rotation", help="only this rotation")
    now.add_argument("--at", help="a time: ISO 8601 (no offset: the team's zone), or `now`")
    sched = actions.add_parser(
        "schedule", parents=[aws, source], help="who is on call when, in the team's zone"
    )
    sched.add_argument("rotation")
    sched.add_argument("--days", type=int, default=7, help="how many days (default 7)")
    sched.add_argument("--from", dest="start", help="start (default now)")
    override = actions.add_parser("override", help="cover a rotation for a time range")
    ops = override.add_subparsers(dest="override_command", required=True, metavar="ACTION")
    add = ops.add_parser("add", parents=[aws, source], help="CONTACT covers ROTATION from..to")
    add.add_argument("rotation")
    add.add_argument("--contact", required=True, help="contact id who covers")
    add.add_argument("--from", dest="start", required=True, help="start time")
    add.add_argument("--to", dest="end", required=True, help="end time")
    add.add_argument("--by", default=None, help="who adds it (default: $USER)")
    lst = ops.add_parser("list", parents=[aws], help="overrides not yet ended")
    lst.add_argument("--rotation", help="only this rotation")
    lst.add_argument("--all", action="store_true", help="also those that ended")
    rm = ops.add_parser("remove", parents=[aws], help="remove an override")
    rm.add_argument("rotation")
    rm.add_argument("override_id")
    imp = ops.add_parser(
        "import",
        parents=[aws, source],
        help="add the overrides `runbook import incident-manager` saved (NAME.overrides.json)",
    )
    imp.add_argument("overrides_file", type=Path)
    imp.add_argument("--by", default=None, help="who adds them (default: $USER)")


def run(ctx: Context, args: argparse.Namespace) -> str:
    if args.oncall_command == "now":
        return now(ctx, args)
    if args.oncall_command == "schedule":
        return schedule(ctx, args)
    handler = {
        "add": override_add,
        "list": override_list,
        "remove": override_remove,
        "import": override_import,
    }[args.override_command]
    return handler(ctx, args)


# -- sources -----------------------------------------------------------------------------
def declaration(ctx: Context, file: Path | None) -> Any:
    """The compiled declaration: from `--file`, else the deployed stack's."""
    from oncall.declaration import decode_config
    from shared.s3uri import split_uri

    if file is not None:
        from stacks.response_file import ResponseFileError, load_response_file

        try:
            return load_response_file(file).config
        except FileNotFoundError:
            raise CliError(f"no such file {file}") from None
        except ResponseFileError as err:
            raise CliError("\n".join(err.problems)) from None
    uri = ctx.output("ResponseConfigUri")
    bucket, key = split_uri(uri)
    try:
        body = ctx.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    except Exception as err:  # any failure to read is one line for the operator
        raise CliError(f"cannot read the deployed declaration {uri}: {err}") from None
    return decode_config(body)


def store(ctx: Context) -> Any:
    from oncall.overrides import OverrideStore

    return OverrideStore(ctx.table("OnCallTableName"))


def parse_when(text: str | None, zone: str) -> datetime:
    """`now`, or ISO 8601; a time without an offset is in the team's zone."""
    if text is None or text.strip().lower() == "now":
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise CliError(f"not a time: {text!r} (ISO 8601, e.g. 2026-12-03T09:00)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(zone))
    return moment.astimezone(UTC)


def _local(text: str | datetime, zone: str) -> str:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00")) if isinstance(text, str) else text
    return moment.astimezone(ZoneInfo(zone)).strftime("%a %Y-%m-%d %H:%M")


def _rotation(config: Any, rotation_id: str) -> Any:
    try:
        return config.rotations[rotation_id]
    except KeyError:
        known = ", ".join(sorted(config.rotations)) or "none declared"
        raise CliError(f"unknown rotation {rotation_id!r} (known: {known})") from None


def _names(config: Any, contacts: Any) -> str:
    return (
        ", ".join(
            f"{config.contacts[c].name} ({c})" if c in config.contacts else c for c in contacts
        )
        or "nobody"
    )


# -- commands ----------------------------------------------------------------------------
def now(ctx: Context, args: argparse.Namespace) -> str:
    from oncall.rotation import on_call

    config = declaration(ctx, args.file)
    at = parse_when(args.at, config.timezone)
    wanted = [args.rotation] if args.rotation else sorted(config.rotations)
    rotations = [_rotation(config, r) for r in wanted]
    overrides = _overrides_for(ctx, [r.id for r in rotations], at, optional=bool(args.file))
    answers = [on_call(r, at, overrides.get(r.id, [])) for r in rotations]
    if args.json:
        import msgspec

        return to_json({"at": at.isoformat(), "on_call": msgspec.to_builtins(answers)})
    if not answers:
        return "No rotations are declared."
    rows = [
        [
            a.rotation,
            _names(config, a.contacts),
            a.source,
            a.reason,
            _local(a.until, config.timezone) if a.until else "-",
        ]
        for a in answers
    ]
    head = f"On call at {_local(at, config.timezone)} ({config.timezone})"
    return head + "\n" + table(["ROTATION", "WHO", "SOURCE", "WHY", "UNTIL"], rows)


def _overrides_for(
    ctx: Context, rotations: list[str], at: datetime, *, optional: bool
) -> dict[str, list[Any]]:
    """Overrides from the stack's table. With `--file` (`optional`) a stack that cannot be
    reached means none, said on stderr: a file can be tried before anything is deployed."""
    try:
        found: dict[str, list[Any]] = store(ctx).for_rotations(rotations, at=at)
    except Exception as err:
        if optional:
            print(f"runbook: without overrides ({err})", file=sys.stderr)
            return {}
        if isinstance(err, CliError):
            raise
        raise CliError(f"cannot read overrides: {err}") from None
    return found


def schedule(ctx: Context, args: argparse.Namespace) -> str:
    from oncall.rotation import schedule as slots_of

    config = declaration(ctx, args.file)
    rotation = _rotation(config, args.rotation)
    if not 1 <= args.days <= MAX_SCHEDULE_DAYS:
        raise CliError(f"--days must be 1 to {MAX_SCHEDULE_DAYS}")
    start = parse_when(args.start, config.timezone)
    end = start + timedelta(days=args.days)
    overrides = _overrides_for(ctx, [rotation.id], start, optional=bool(args.file))
    overrides_of = overrides.get(rotation.id, [])
    slots = slots_of(rotation, start, end, overrides_of)
    if args.json:
        import msgspec

        return to_json(
            {
                "rotation": rotation.id,
                "timezone": config.timezone,
                "slots": msgspec.to_builtins(slots),
            }
        )
    rows = [
        [
            _local(s.start, config.timezone),
            _local(s.end, config.timezone),
            _names(config, s.contacts),
            s.source + (f" {s.override_id}" if s.override_id else ""),
        ]
        for s in slots
    ]
    head = f"{rotation.name} ({rotation.id}), {args.days} days, times in {config.timezone}"
    return head + "\n" + table(["FROM", "TO", "WHO", "SOURCE"], rows)


def override_add(ctx: Context, args: argparse.Namespace) -> str:
    from oncall.overrides import OverrideError

    config = declaration(ctx, args.file)
    _rotation(config, args.rotation)
    if args.contact not in config.contacts:
        raise CliError(f"unknown contact {args.contact!r}")
    start = parse_when(args.start, config.timezone)
    end = parse_when(args.end, config.timezone)
    try:
        added = store(ctx).add(
            args.rotation, args.contact, start, end, by=operator_name(args), now=datetime.now(UTC)
        )
    except OverrideError as err:
        raise CliError(str(err)) from None
    if args.json:
        import msgspec

        return to_json(msgspec.to_builtins(added))
    return (
        f"Added {added.override_id}: {_names(config, [added.contact])} covers {args.rotation} "
        f"from {_local(added.start, config.timezone)} to {_local(added.end, config.timezone)} "
        f"({config.timezone})."
    )


def override_list(ctx: Context, args: argparse.Namespace) -> str:
    import msgspec

    ending_after = None if args.all else datetime.now(UTC)
    found = store(ctx).list(args.rotation, ending_after=ending_after)
    if args.json:
        return to_json(msgspec.to_builtins(found))
    if not found:
        return "No overrides."
    rows = [[o.override_id, o.rotation, o.contact, o.start, o.end, o.created_by] for o in found]
    return table(["ID", "ROTATION", "CONTACT", "FROM (UTC)", "TO (UTC)", "ADDED BY"], rows)


def override_remove(ctx: Context, args: argparse.Namespace) -> str:
    import msgspec

    from oncall.overrides import OverrideNotFound

    try:
        removed = store(ctx).remove(args.rotation, args.override_id)
    except OverrideNotFound:
        raise CliError(f"no override {args.override_id} on rotation {args.rotation}") from None
    if args.json:
        return to_json(msgspec.to_builtins(removed))
    return f"Removed {removed.override_id} ({removed.contact} on {removed.rotation})."


def override_import(ctx: Context, args: argparse.Namespace) -> str:
    """Add every override of an importer sidecar file that is not already in the table."""
    from oncall.overrides import OverrideError
    from shared.timeutil import iso

    try:
        sidecar = json.loads(args.overrides_file.read_text(encoding="utf-8"))
        entries = list(sidecar["overrides"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise CliError(f"{args.overrides_file}: not an overrides file ({err})") from None
    config = declaration(ctx, args.file)
    overrides = store(ctx)
    existing = {(o.rotation, o.contact, o.start, o.end) for o in overrides.list()}
    added, skipped, problems = [], 0, []
    for index, entry in enumerate(entries):
        try:
            rotation, contact = str(entry["rotation"]), str(entry["contact"])
            start, end = parse_when(entry["start"], "UTC"), parse_when(entry["end"], "UTC")
        except (KeyError, TypeError, CliError) as err:
            problems.append(f"overrides[{index}]: {err}")
            continue
        if rotation not in config.rotations or contact not in config.contacts:
            problems.append(f"overrides[{index}]: unknown rotation or contact {rotation}/{contact}")
            continue
        key = (rotation, contact, iso(start), iso(end))  # as the store writes them
        if key in existing:
            skipped += 1
            continue
        try:
            added.append(
                overrides.add(
                    rotation, contact, start, end, by=operator_name(args), now=datetime.now(UTC)
                )
            )
        except OverrideError as err:
            problems.append(f"overrides[{index}]: {err}")
    if args.json:
        return to_json(
            {"added": [o.override_id for o in added], "skipped": skipped, "problems": problems}
        )
    lines = [f"Added {len(added)} overrides ({skipped} already there)."]
    lines += [f"Not added: {p}" for p in problems]
    return "\n".join(lines)
