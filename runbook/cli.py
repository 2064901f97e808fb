"""`runbook`: start, list, show, acknowledge, escalate and resolve incidents; run the local
emulator and the demo.

Works against AWS (--profile/--region, or the usual AWS_* variables) and against the local
emulator (--endpoint-url http://127.0.0.1:PORT), finding everything through the stack outputs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from runbook import STACK_NAME, commands, oncall
from runbook.context import Context
from runbook.errors import CliError
from runbook.replay import command as replay_command

DEFAULT_LOCAL_PORT = 4599


def _resource(value: str) -> dict[str, str]:
    kind, sep, ident = value.partition("=")
    if not sep or not kind or not ident:
        raise argparse.ArgumentTypeError(
            f"expected TYPE=ID (e.g. AWS::Lambda::Function=orders-api), got {value!r}"
        )
    return {"type": kind, "id": ident}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="runbook", description=__doc__)
    aws = argparse.ArgumentParser(add_help=False)
    aws.add_argument(
        "--endpoint-url", help="talk to the local emulator (e.g. http://127.0.0.1:4599)"
    )
    aws.add_argument("--profile", help="AWS profile")
    aws.add_argument("--region", help="AWS region")
    aws.add_argument(
        "--stack-name", default=STACK_NAME, help="deployed stack (default %(default)s)"
    )
    aws.add_argument("--json", action="store_true", help="machine-readable JSON output")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    start = sub.add_parser("start", parents=[aws], help="open an incident and start its response")
    start.add_argument(
        "--event-file", type=Path, help="an EventBridge event (JSON) or operator input"
    )
    start.add_argument("--title", help="what is broken")
    start.add_argument("--severity", choices=["critical", "high", "standard"])
    start.add_argument(
        "--resource",
        action="append",
        type=_resource,
        default=[],
        metavar="TYPE=ID",
        help="affected resource, repeatable (AWS::Lambda::Function=orders-api)",
    )
    start.add_argument("--description", help="more context for responders")

    lst = sub.add_parser("list", parents=[aws], help="list incidents, newest first")
    lst.add_argument("--status", help="only this status (OPEN, MONITORING, RESOLVED, UNRESOLVED)")
    lst.add_argument("--limit", type=int, default=50)

    show = sub.add_parser("show", parents=[aws], help="one incident with its timeline")
    show.add_argument("incident_id")

    resolve = sub.add_parser(
        "resolve", parents=[aws], help="resolve an incident (resumes its workflow)"
    )
    resolve.add_argument("incident_id")
    resolve.add_argument("--note", required=True, help="what fixed it")
    resolve.add_argument("--by", default=None, help="who resolved it (default: $USER)")

    ack = sub.add_parser(
        "ack", parents=[aws], help="acknowledge an incident (stops escalation pages)"
    )
    ack.add_argument("incident_id")
    ack.add_argument("--note", default="", help="what you are doing about it")
    ack.add_argument("--by", default=None, help="who acknowledges (default: $USER)")

    escalate = sub.add_parser(
        "escalate", parents=[aws], help="page the escalation topic now (the workflow must wait)"
    )
    escalate.add_argument("incident_id")
    escalate.add_argument("--note", default="", help="why")
    escalate.add_argument("--by", default=None, help="who escalates (default: $USER)")

    remediate = sub.add_parser(
        "remediate", parents=[aws], help="approve or reject an incident's proposed remediation"
    )
    remediate.add_argument("incident_id")
    decision = remediate.add_mutually_exclusive_group(required=True)
    decision.add_argument("--approve", action="store_true", help="run it")
    decision.add_argument("--reject", action="store_true", help="do not run it")
    remediate.add_argument(
        "--by", default="", help="your name, shown next to your IAM principal (recorded from STS)"
    )
    remediate.add_argument("--note", default="", help="why")

    pm = sub.add_parser("postmortem", parents=[aws], help="download an incident's postmortem")
    pm.add_argument("incident_id")
    pm.add_argument("--out", type=Path, help="file to write (default: print it)")

    local = sub.add_parser("local", help="the embedded local emulator")
    local_sub = local.add_subparsers(dest="local_command", required=True, metavar="ACTION")
    up = local_sub.add_parser("up", help="start the emulator, deploy the stack, wait for Ctrl-C")
    up.add_argument("--port", type=int, default=DEFAULT_LOCAL_PORT)
    up.add_argument("--workdir", type=Path, default=None, help="where cdk.out and logs go")

    demo = sub.add_parser("demo", help="run a whole incident on the local emulator")
    demo.add_argument("--port", type=int, default=DEFAULT_LOCAL_PORT)
    demo.add_argument("--workdir", type=Path, default=None)

    drill = sub.add_parser(
        "drill",
        parents=[aws],
        help="run a drill through the real entry path; print time to page/diagnostics/postmortem",
    )
    drill.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        help="seconds each step may take from the drill's start (default %(default)s)",
    )
    drill.add_argument(
        "--target",
        choices=("topic", "rotation"),
        default=None,
        help="what to page (default: the stack's drill.target setting)",
    )

    sub.add_parser("synth", help="synthesise the CDK app into cdk.out (cdk-nag runs)")
    _add_import(sub)
    replay_command.add_parser(sub)  # `runbook replay` (docs/replay.md): its own args.run
    oncall.add_parser(sub, aws)
    return parser


def _add_import(sub: Any) -> None:
    """`runbook import SOURCE`: write the response declaration file from another tool."""
    from runbook.importers.command import DEFAULT_OUT, DEFAULT_OVERRIDE_DAYS

    imp = sub.add_parser("import", help="write the response declaration file from another tool")
    sources = imp.add_subparsers(dest="import_source", required=True, metavar="SOURCE")
    im = sources.add_parser(
        "incident-manager",
        help="from AWS Systems Manager Incident Manager (contacts, rotations, plans)",
        description="Read Incident Manager's contacts, channels, engagement and escalation "
        "plans, rotations, overrides and response plans, and write the equivalent "
        "declaration file (docs/oncall.md); one line per thing not carried over.",
    )
    im.add_argument("--profile", help="AWS profile")
    im.add_argument("--region", help="AWS region of the Incident Manager replication set")
    im.add_argument("--out", type=Path, default=None, help=f"file to write (default {DEFAULT_OUT})")
    im.add_argument(
        "--overrides-out",
        type=Path,
        default=None,
        help="future rotation overrides, JSON (default: NAME.overrides.json next to --out)",
    )
    im.add_argument(
        "--overrides-days",
        type=int,
        default=DEFAULT_OVERRIDE_DAYS,
        help="how far ahead to read overrides (default %(default)s days)",
    )
    saved = im.add_mutually_exclusive_group()
    saved.add_argument(
        "--from-json",
        type=Path,
        metavar="DIR",
        help="read saved API responses instead of AWS "
        "(layout: docs/migrate-from-incident-manager.md)",
    )
    saved.add_argument(
        "--save-json",
        type=Path,
        metavar="DIR",
        help="also save every API response read, in that layout",
    )
    im.add_argument("--force", action="store_true", help="overwrite files that exist")
    im.add_argument("--json", action="store_true", help="machine-readable JSON output")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if hasattr(args, "run"):  # a command that runs itself (runbook replay)
            return int(args.run(args))
        if args.command == "local":
            from runbook.local import run_local_up

            return run_local_up(port=args.port, workdir=args.workdir)
        if args.command == "demo":
            from runbook.demo import run_demo

            return run_demo(port=args.port, workdir=args.workdir)
        if args.command == "synth":
            return commands.synth()
        if args.command == "import":
            print(commands.import_incident_manager(args))
            return 0
        ctx = Context(
            endpoint_url=args.endpoint_url,
            profile=args.profile,
            region=args.region,
            stack_name=args.stack_name,
        )
        if args.command == "oncall":
            print(oncall.run(ctx, args))
            return 0
        if args.command == "drill":
            from runbook.drill import drill_command

            print(drill_command(ctx, args.timeout, args.target, args.json))
            return 0
        handler = {
            "start": commands.start,
            "list": commands.list_incidents,
            "show": commands.show,
            "resolve": commands.resolve,
            "ack": commands.ack,
            "escalate": commands.escalate,
            "remediate": commands.remediate,
            "postmortem": commands.postmortem,
        }[args.command]
        print(handler(ctx, args))
        return 0
    except CliError as err:
        print(f"runbook: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        return 130
