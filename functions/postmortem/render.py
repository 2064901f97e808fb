"""Render the postmortem as Markdown. Pure: everything it needs is passed in.

Text that came from alarms, events or people is escaped, so an alarm reason cannot inject
links, HTML or table breaks into the document.
"""

from __future__ import annotations

import re
from typing import Any

from incidents.model import Incident, TimelineEntry
from shared.timeutil import in_zone, parse_time

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|#~])")


def inline(text: Any) -> str:
    """One line of escaped Markdown (safe inside a table cell)."""
    value = " ".join(str(text if text is not None else "").split())
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", value)


def block(text: str) -> str:
    """Escaped multi-line text as a blockquote."""
    lines = [inline(line) for line in text.splitlines() if line.strip()]
    return "\n".join(f"> {line}" for line in lines) if lines else "> (none)"


def final_status(recovery: dict[str, Any]) -> str:
    """RESOLVED when the workflow was resumed by a recovery or a person, else UNRESOLVED."""
    return "RESOLVED" if recovery.get("status") in ("recovered", "resolved") else "UNRESOLVED"


def _duration(start: str, end: str | None) -> str:
    if not end:
        return "-"
    seconds = int((parse_time(end) - parse_time(start)).total_seconds())
    hours, rest = divmod(max(seconds, 0), 3600)
    return f"{hours}h {rest // 60:02d}m {rest % 60:02d}s"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _response_section(response: dict[str, Any]) -> list[str]:
    rows = []
    for part in ("page", "notification", "diagnostics", "channel"):
        value = response.get(part)
        if isinstance(value, dict):
            why = value.get("reason") or value.get("error") or value.get("message_id") or ""
            rows.append([part, inline(value.get("status", "?")), inline(why)])
    if not rows:
        rows.append(
            [
                "response",
                inline(response.get("status", "unknown")),
                inline(response.get("error", "")),
            ]
        )
    return ["## Response", "", _table(["Action", "Status", "Detail"], rows)]


def _diagnostics_section(response: dict[str, Any]) -> list[str]:
    diagnostics = response.get("diagnostics")
    if not isinstance(diagnostics, dict):
        return ["## Diagnostics", "", "No diagnostics were collected."]
    lines = ["## Diagnostics", "", f"Status: {inline(diagnostics.get('status', 'unknown'))}"]
    if diagnostics.get("evidence_uri"):
        lines.append(f"Full evidence: `{inline(diagnostics['evidence_uri'])}`")
    sources = (diagnostics.get("summary") or {}).get("sources") or []
    if sources:
        rows = [
            [
                inline(s.get("source")),
                inline(s.get("target")),
                inline(s.get("status")),
                inline(s.get("message")),
            ]
            for s in sources
        ]
        lines += ["", _table(["Source", "Target", "Status", "Finding"], rows)]
        for source in sources:
            for line in source.get("sample", [])[:3]:
                lines.append(f"- {inline(source.get('target'))}: {inline(line)}")
    return lines


def render(
    incident: Incident,
    response: dict[str, Any],
    recovery: dict[str, Any],
    history: list[TimelineEntry],
    timezone: str = "UTC",
) -> str:
    """The whole postmortem document."""
    status = final_status(recovery)
    resolved_at = recovery.get("at") or incident.resolved_at
    opened = parse_time(incident.opened_at)
    when = in_zone(opened, "UTC") + ("" if timezone == "UTC" else f" ({in_zone(opened, timezone)})")
    facts = [
        ["Incident", f"`{inline(incident.incident_id)}`"],
        ["Status", status],
        ["Severity", inline(incident.severity)],
        ["Opened", inline(when)],
        ["Resolved", inline(resolved_at or "-")],
        [
            "Time to recover",
            _duration(incident.opened_at, resolved_at) if status == "RESOLVED" else "-",
        ],
        ["Source", inline(incident.source)],
        ["Alarm", inline(incident.alarm_name or "-")],
        ["Account / region", inline(f"{incident.account or '-'} / {incident.region or '-'}")],
        ["Resources", inline(", ".join(f"{r.id} ({r.type})" for r in incident.resources) or "-")],
        ["Execution", inline(incident.execution_arn or "-")],
    ]
    timeline = sorted(
        [(e.at, "incident", e) for e in incident.timeline]
        + [(e.at, "workflow", e) for e in history],
        key=lambda item: item[0],
    )
    lines = [
        f"# Postmortem: {inline(incident.title)}",
        "",
        _table(["", ""], facts),
        "",
        "## Summary",
        "",
        block(incident.description or incident.title),
        "",
        "## Classification",
        "",
        f"Severity **{inline(incident.severity)}**, "
        f"decided by: {inline(incident.severity_rule or 'unknown')}",
        "",
        *_response_section(response),
        "",
        *_diagnostics_section(response),
        "",
        "## Recovery",
        "",
        _table(
            ["Status", "By", "At", "Note"],
            [[inline(recovery.get(k, "-") or "-") for k in ("status", "by", "at", "note")]],
        ),
        "",
        "## Timeline (UTC)",
        "",
        _table(
            ["Time", "From", "Event", "Detail"],
            [[inline(at), origin, inline(e.event), inline(e.detail)] for at, origin, e in timeline],
        ),
        "",
        "## Follow-up",
        "",
        "- [ ] Root cause:",
        "- [ ] What went well / what did not:",
        "- [ ] Action items (owner, due date):",
        "",
    ]
    return "\n".join(lines)
