"""What each CLI command does. Each returns the text to print; problems raise CliError."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from botocore.exceptions import ClientError

from runbook import REPO_ROOT
from runbook.context import Context
from runbook.errors import CliError
from runbook.render import fields, table, to_json

INCIDENT_ID_PREFIX = "inc-"


def _operator_input(args: argparse.Namespace) -> dict[str, Any]:
    if args.event_file:
        try:
            loaded = json.loads(Path(args.event_file).read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise CliError(f"cannot read event file {args.event_file}: {err}") from None
        if not isinstance(loaded, dict):
            raise CliError(f"event file {args.event_file} must hold a JSON object")
        return loaded
    if not args.title:
        raise CliError("give --title (and optionally --severity/--resource) or --event-file")
    body: dict[str, Any] = {"title": args.title}
    if args.severity:
        body["severity"] = args.severity
    if args.resource:
        body["resources"] = args.resource
    if args.description:
        body["description"] = args.description
    return body


def start(ctx: Context, args: argparse.Namespace) -> str:
    """Start an execution named after the incident id, as ingest does for alarms."""
    from incidents.ids import incident_id_for_input

    body = _operator_input(args)
    incident_id = incident_id_for_input(body, now=datetime.now(UTC))
    existing = ctx.table().get_item(Key={"incident_id": incident_id}).get("Item")
    if existing:
        raise CliError(f"incident {incident_id} already exists (status {existing.get('status')})")
    execution_input = {"incident_id": incident_id, "event": body} if "detail-type" in body else body
    sfn = ctx.client("stepfunctions")
    try:
        started = sfn.start_execution(
            stateMachineArn=ctx.output("StateMachineArn"),
            name=incident_id,
            input=json.dumps(execution_input),
        )
    except ClientError as err:
        if err.response["Error"]["Code"] == "ExecutionAlreadyExists":
            raise CliError(f"incident {incident_id} already has a response running") from None
        raise CliError(f"cannot start the response: {err}") from None
    result = {"incident_id": incident_id, "execution_arn": started["executionArn"]}
    if args.json:
        return to_json(result)
    return f"Opened incident {incident_id}\nexecution: {started['executionArn']}"


def _summary(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "incident_id": item["incident_id"],
        "status": item.get("status"),
        "severity": item.get("severity"),
        "title": item.get("title"),
        "opened_at": item.get("opened_at"),
        "execution_arn": item.get("execution_arn"),
        "postmortem_uri": item.get("postmortem_uri"),
    }


def _scan_incidents(ctx: Context) -> list[dict[str, Any]]:
    table_ = ctx.table()
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {}
    while True:
        page = table_.scan(**kwargs)
        items.extend(
            i
            for i in page.get("Items", [])
            if str(i.get("incident_id", "")).startswith(INCIDENT_ID_PREFIX)
        )
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def list_incidents(ctx: Context, args: argparse.Namespace) -> str:
    items = _scan_incidents(ctx)
    if args.status:
        items = [i for i in items if str(i.get("status", "")).upper() == args.status.upper()]
    items.sort(key=lambda i: str(i.get("opened_at", "")), reverse=True)
    rows = [_summary(i) for i in items[: args.limit]]
    if args.json:
        return to_json(rows)
    if not rows:
        return "No incidents."
    return table(
        ["ID", "STATUS", "SEVERITY", "OPENED", "TITLE"],
        [[r["incident_id"], r["status"], r["severity"], r["opened_at"], r["title"]] for r in rows],
    )


def _get_incident(ctx: Context, incident_id: str) -> dict[str, Any]:
    item = ctx.table().get_item(Key={"incident_id": incident_id}, ConsistentRead=True).get("Item")
    if not item:
        raise CliError(f"unknown incident {incident_id}")
    return dict(item)


def show(ctx: Context, args: argparse.Namespace) -> str:
    item = _get_incident(ctx, args.incident_id)
    item.pop("task_token", None)  # a live credential for the workflow: never print it
    item.pop("remediation_token", None)
    execution: dict[str, Any] = {}
    if item.get("execution_arn"):
        try:
            described = ctx.client("stepfunctions").describe_execution(
                executionArn=item["execution_arn"]
            )
            execution = {"status": described["status"], "started": str(described["startDate"])}
        except ClientError:
            execution = {"status": "unknown (execution not found)"}
    if args.json:
        return to_json({**item, "execution": execution})
    resources = ", ".join(f"{r.get('type')}={r.get('id')}" for r in item.get("resources", []) or [])
    head = fields(
        [
            ("Incident", item["incident_id"]),
            ("Title", item.get("title")),
            ("Status", item.get("status")),
            ("Severity", f"{item.get('severity')} ({item.get('severity_rule', '')})"),
            ("Opened", item.get("opened_at")),
            ("Resources", resources),
            ("Alarm", item.get("alarm_name")),
            ("Execution", f"{item.get('execution_arn', '')} [{execution.get('status', '-')}]"),
            ("Verdict", (item.get("verdict") or {}).get("headline")),
            ("Diagnostics", item.get("diagnostics_uri")),
            ("Channel", (item.get("channel") or {}).get("name")),
            ("Acknowledged", _acknowledged(item)),
            ("Escalations", item.get("escalation_count")),
            ("Remediation", _remediation(item)),
            ("Postmortem", item.get("postmortem_uri")),
            ("Summary", item.get("postmortem_summary")),
            ("Resolved by", item.get("resolved_by")),
            ("Note", item.get("resolution_note")),
        ]
    )
    timeline = item.get("timeline") or []
    if not timeline:
        return head
    rows = [[t.get("at"), t.get("event"), t.get("detail", "")] for t in timeline]
    return head + "\n\nTimeline\n" + table(["AT", "EVENT", "DETAIL"], rows)


def _operator(ctx: Context) -> Any:
    from recovery.operator import OperatorActions

    return OperatorActions(table=ctx.table(), sfn=ctx.client("stepfunctions"))


def operator_name(args: argparse.Namespace) -> str:
    return str(args.by or f"operator:{os.environ.get('USER') or getpass.getuser()}")


def _act(args: argparse.Namespace, action: Callable[[], Any]) -> Any:
    """Run an operator action, turning its domain errors into one-line CLI errors."""
    from shared.errors import IncidentError, IncidentNotFound

    try:
        return action()
    except IncidentNotFound:
        raise CliError(f"unknown incident {args.incident_id}") from None
    except IncidentError as err:
        raise CliError(str(err)) from None


def _acknowledged(item: dict[str, Any]) -> str | None:
    if not item.get("acknowledged_at"):
        return None
    return f"{item.get('acknowledged_at')} by {item.get('acknowledged_by')}"


def resolve(ctx: Context, args: argparse.Namespace) -> str:
    """Resume the waiting workflow through the same token protocol as an alarm OK."""
    actions = _operator(ctx)
    outcome = _act(
        args, lambda: actions.resolve(args.incident_id, by=operator_name(args), note=args.note)
    )
    if args.json:
        return to_json({"incident_id": args.incident_id, "outcome": outcome})
    if outcome == "resumed":
        return f"Resolved {args.incident_id}: the workflow resumes and writes the postmortem."
    return (
        f"Recorded the resolution of {args.incident_id}: the workflow resumes as soon as it "
        "starts waiting for recovery."
    )


def ack(ctx: Context, args: argparse.Namespace) -> str:
    """Take ownership: escalation pages stop; the incident stays open until resolved."""
    actions = _operator(ctx)
    incident = _act(
        args,
        lambda: actions.acknowledge(args.incident_id, by=operator_name(args), note=args.note or ""),
    )
    if args.json:
        return to_json(
            {
                "incident_id": args.incident_id,
                "acknowledged_by": incident.acknowledged_by,
                "acknowledged_at": incident.acknowledged_at,
            }
        )
    return (
        f"Acknowledged {args.incident_id} as {incident.acknowledged_by}: no more escalation "
        "pages; resolve it with `runbook resolve` when it is fixed."
    )


def _remediation(item: dict[str, Any]) -> str | None:
    """The proposal and where it stands, one line (`runbook show`)."""
    record = item.get("remediation") or {}
    proposal = record.get("proposal")
    if not proposal:
        reason = (record.get("no_proposal") or {}).get("reason")
        return f"none: {reason}" if reason else None
    line = f"{proposal['document_name']} on {', '.join(proposal.get('targets') or []) or '-'}"
    decision = record.get("decision")
    if not decision:
        return f"{line}: proposed, waits for a decision until {proposal.get('expires_at')}"
    who = decision.get("label") or decision.get("by") or "nobody"
    state = f"{line}: {decision.get('outcome')} by {who}"
    execution = record.get("execution") or {}
    return f"{state}; run {execution.get('outcome')}" if execution else state


def remediate(ctx: Context, args: argparse.Namespace) -> str:
    """Decide on the proposed remediation as the caller's IAM principal (STS), with `--by`
    as the display name; the waiting workflow runs it (approve) or not (reject)."""
    from remediation.decisions import Decisions

    try:
        principal = str(ctx.client("sts").get_caller_identity()["Arn"])
    except ClientError as err:
        raise CliError(f"cannot tell who you are (STS GetCallerIdentity): {err}") from None
    verb: Literal["approve", "reject"] = "approve" if args.approve else "reject"
    decisions = Decisions(ctx.table(), ctx.client("stepfunctions"))
    decision = _act(
        args,
        lambda: decisions.decide(
            args.incident_id,
            verb,
            by=principal,
            via="cli",
            at=datetime.now(UTC),
            label=args.by,
            note=args.note,
        ),
    )
    if args.json:
        return to_json({"incident_id": args.incident_id, **_plain(decision)})
    who = f"{args.by} ({principal})" if args.by else principal
    if decision.outcome == "approved":
        return f"Approved the remediation of {args.incident_id} as {who}: the workflow runs it."
    return f"Rejected the remediation of {args.incident_id} as {who}: it does not run."


def _plain(record: Any) -> dict[str, Any]:
    import msgspec

    plain: dict[str, Any] = msgspec.to_builtins(record)
    return plain


def escalate(ctx: Context, args: argparse.Namespace) -> str:
    """Page the escalation topic now, through the waiting workflow."""
    actions = _operator(ctx)
    outcome = _act(
        args,
        lambda: actions.escalate(args.incident_id, by=operator_name(args), note=args.note or ""),
    )
    if args.json:
        return to_json({"incident_id": args.incident_id, "outcome": outcome})
    return f"Escalated {args.incident_id}: the workflow pages the escalation topic and waits again."


def postmortem(ctx: Context, args: argparse.Namespace) -> str:
    item = _get_incident(ctx, args.incident_id)
    uri = item.get("postmortem_uri")
    if not uri:
        raise CliError(
            f"incident {args.incident_id} has no postmortem yet (status {item.get('status')})"
        )
    bucket, _, key = str(uri).removeprefix("s3://").partition("/")
    s3 = ctx.client("s3")
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
    if not args.out:
        return str(body)
    out = Path(args.out)
    out.write_text(body)
    # The document embeds the metric graph by this relative name.
    graph_key = key.rsplit("/", 1)[0] + "/metric.png"
    try:
        graph = s3.get_object(Bucket=bucket, Key=graph_key)["Body"].read()
    except ClientError as err:
        if err.response["Error"]["Code"] not in ("NoSuchKey", "404"):
            raise CliError(f"cannot download the metric graph: {err}") from None
        return f"Wrote {out} ({uri})"
    (out.parent / "metric.png").write_bytes(graph)
    return f"Wrote {out} (+ metric.png) ({uri})"


def synth() -> int:
    """Synthesise into cdk.out with the venv's Node on PATH (jsii needs it); cdk-nag runs."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("CDK_OUTDIR", str(REPO_ROOT / "cdk.out"))
    # Runs our own app.py with this interpreter: no untrusted input.
    return subprocess.call([sys.executable, str(REPO_ROOT / "app.py")], cwd=REPO_ROOT, env=env)  # noqa: S603


def import_incident_manager(args: argparse.Namespace) -> str:
    """Write the declaration file (and its overrides sidecar) from Incident Manager."""
    from runbook.importers.command import Request, run
    from runbook.importers.incident_manager import ImportFailure

    request = Request(
        out=args.out,
        overrides_out=args.overrides_out,
        from_json=args.from_json,
        save_json=args.save_json,
        overrides_days=args.overrides_days,
        force=args.force,
    )
    try:
        outcome = run(request, lambda: Context(profile=args.profile, region=args.region).session)
    except ImportFailure as err:
        raise CliError(str(err)) from None
    return to_json(outcome.as_dict()) if args.json else outcome.text()
