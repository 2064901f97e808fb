"""Render the postmortem as Markdown. Pure: everything it needs is passed in, so it is tested
without AWS.

Sections: Summary, Timeline (key moments in UTC and the team's zone, a Mermaid chart, every
entry), Figures, Graphs, Diagnostics, the AWS support-case draft (AWS side only), Action
items, and what the runbook could not find out. Text from alarms, logs and people is escaped
(postmortem/markdown.py).
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import field

from incidents.model import Incident
from postmortem.console import alarm_url, execution_url
from postmortem.diagnostics_section import diagnostics_lines, support_case_lines
from postmortem.engagement_section import engagement_lines, engagement_moments
from postmortem.figures import Figure, duration, figures
from postmortem.findings import source_results, support_case_of, verdict_of, window_of
from postmortem.gaps import Gap, gaps
from postmortem.graph import Graph
from postmortem.history import WorkflowHistory
from postmortem.markdown import block, clean, code_block, code_span, inline, link, table
from postmortem.mermaid import gantt
from postmortem.remediation_section import remediation_lines, remediation_moments
from postmortem.timeline import Moment, first, full_timeline, key_moments
from remediation.record import RemediationRecord
from remediation.record import decode as decode_remediation
from shared.timeutil import in_zone

__all__ = ["Postmortem", "PostmortemInput", "block", "final_status", "inline", "render"]

SUMMARY_LIMIT = 600
NO_ALARM = Graph("no_alarm", reason="no alarm opened this incident, so there is no metric to draw")


def final_status(recovery: dict[str, Any]) -> str:
    """RESOLVED when the workflow was resumed by a recovery or a person, else UNRESOLVED."""
    return "RESOLVED" if recovery.get("status") in ("recovered", "resolved") else "UNRESOLVED"


class PostmortemInput(msgspec.Struct, frozen=True):
    """Everything the document is made from."""

    incident: Incident
    response: dict[str, Any]
    recovery: dict[str, Any]
    history: WorkflowHistory
    closed_at: str
    timezone: str = "UTC"
    region: str = "us-east-1"
    evidence: dict[str, Any] | None = None
    evidence_note: str = ""
    graph: Graph = field(default=NO_ALARM)


class Postmortem(msgspec.Struct, frozen=True):
    """The document, its status and a short plain-text summary for the record and messages."""

    markdown: str
    status: str
    summary: str


def _utc(moment: Moment) -> str:
    return moment.at.strftime("%Y-%m-%d %H:%M:%S")


def _outcome(data: PostmortemInput, status: str, moments: list[Moment]) -> str:
    recovered = first(moments, "recovered")
    if status == "RESOLVED" and recovered:
        return f"RESOLVED at {_utc(recovered)} UTC, {inline(recovered.detail)}"
    reason = {
        "timed_out": (
            "nobody resolved it and its alarm did not return to OK through the waits and "
            "escalations"
        ),
        "failed": "the recovery wait failed",
    }.get(str(data.recovery.get("status")), "no recovery was recorded")
    return f"**UNRESOLVED**: {reason}"


def _response_line(response: dict[str, Any]) -> str:
    parts = [
        f"{name} {code_span(value.get('status', 'unknown'))}"
        for name in ("page", "notification", "diagnostics", "channel")
        if isinstance(value := response.get(name), dict)
    ]
    if parts:
        return ", ".join(parts)
    return f"{code_span(response.get('status', 'missing'))} (no branch result)"


def _duration_line(moments: list[Moment]) -> str:
    start = first(moments, "first_signal")
    end = first(moments, "recovered") or first(moments, "closed")
    if not start or not end:
        return "unknown"
    span = duration((end.at - start.at).total_seconds())
    what = "recovered" if end.key == "recovered" else "closed"
    return f"{span} (first signal {_utc(start)} UTC to {what} {_utc(end)} UTC)"


def _summary_section(
    data: PostmortemInput,
    verdict: dict[str, Any],
    status: str,
    moments: list[Moment],
    found: list[Gap],
) -> list[str]:
    incident = data.incident
    resources = ", ".join(code_span(f"{r.id} ({r.type})", limit=200) for r in incident.resources)
    what = inline(incident.title)
    if incident.alarm_name:
        what += f" (alarm {code_span(incident.alarm_name)})"
    fault = inline(verdict.get("headline")) if verdict else "not determined (no verdict)"
    if verdict.get("domain"):
        fault += f" — domain {code_span(verdict['domain'])}"
    scope = inline(verdict.get("scope")) if verdict.get("scope") else "not determined"
    missing = [g for g in found if not g.skipped]
    lines = [
        "## Summary",
        "",
        f"- **What broke:** {what}",
        f"- **Severity:** {inline(incident.severity)} "
        f"(decided by: {inline(incident.severity_rule or 'unknown')})",
        f"- **Fault domain:** {fault}",
    ]
    for cause in (verdict.get("causes") or [])[:3]:
        evidence = "; ".join(code_span(e, limit=200) for e in (cause.get("evidence") or [])[:2])
        lines.append(f"  - {inline(cause.get('title'))}" + (f": {evidence}" if evidence else ""))
    lines += [
        f"- **Impact scope:** {scope}; resources: {resources or 'none recorded'}; account "
        f"{inline(incident.account or '-')}, region {inline(incident.region or data.region)}",
        f"- **Duration:** {_duration_line(moments)}",
        f"- **Response:** {_response_line(data.response)}",
        f"- **Outcome:** {_outcome(data, status, moments)}",
    ]
    if missing:
        lines.append(
            f"- **Missing:** {len(missing)} things the runbook could not find out "
            "(see the last section)"
        )
    links = []
    if incident.execution_arn:
        links.append(link("the execution", execution_url(data.region, incident.execution_arn)))
    if incident.alarm_name:
        links.append(link("the alarm", alarm_url(data.region, incident.alarm_name)))
    if links:
        lines.append(f"- **Links:** {' · '.join(links)}")
    description = incident.description.strip()
    if description and description != incident.title:
        lines += ["", "What the signal said:", "", block(description, 500)]
    return lines


def _timeline_section(data: PostmortemInput, moments: list[Moment]) -> list[str]:
    zone = data.timezone
    local = zone != "UTC"
    header = ["UTC", *([inline(zone)] if local else []), "Moment", "Detail", "Read from"]
    rows = [
        [
            _utc(m),
            *([inline(in_zone(m.at, zone))] if local else []),
            inline(m.label),
            inline(m.detail, 200),
            inline(m.source),
        ]
        for m in moments
    ]
    every = full_timeline(data.incident, data.history)
    lines = [
        "## Timeline",
        "",
        f"Key moments in UTC{f' and {inline(zone)}' if local else ''}, in time order.",
        "",
        table(header, rows),
        "",
        code_block(gantt(moments, data.incident.incident_id), "mermaid"),
        "",
        "### Every entry",
        "",
    ]
    if not every:
        return [*lines, "No entries were recorded."]
    entries = [
        [_utc(m), inline(m.label, 120), inline(m.detail, 300), inline(m.source)] for m in every
    ]
    return [*lines, table(["UTC", "Event", "Detail", "From"], entries)]


def _figures_section(found: list[Figure]) -> list[str]:
    rows = [[inline(f.name), inline(f.value), inline(f.basis)] for f in found]
    return ["## Figures", "", table(["Figure", "Value", "Measured as"], rows)]


def _graph_section(graph: Graph) -> list[str]:
    lines = ["## Graphs", ""]
    if graph.status == "embedded":
        lines += [
            f"![{inline(graph.title)} around the incident]({graph.image})",
            "",
            "Rendered by CloudWatch (GetMetricWidgetImage) and stored next to this document "
            "as `metric.png`: vertical lines mark the first signal and the recovery, the "
            "horizontal line the alarm's threshold.",
        ]
    elif graph.status == "no_alarm":
        lines.append(f"No graph: {inline(graph.reason)}.")
    else:
        lines.append(f"No graph here: {inline(graph.reason or 'CloudWatch did not render it')}.")
    links = []
    if graph.console_url:
        links.append(link("the metric over the incident window", graph.console_url))
    if graph.alarm_url:
        links.append(link("the alarm and its history", graph.alarm_url))
    if links:
        lines += ["", "In the CloudWatch console: " + " · ".join(links)]
    return lines


def _action_items(verdict: dict[str, Any], status: str) -> list[str]:
    suggested = [
        f"{inline(c.get('fix'))} (suggested for: {inline(c.get('title'))})"
        for c in verdict.get("causes") or []
        if c.get("fix")
    ][:5]
    items = [*suggested, "Confirm the root cause and fix it for good"]
    if status != "RESOLVED":
        items.insert(0, "Confirm whether the incident is still ongoing, and who owns it now")
    items.append("Close the gaps listed below so the next postmortem can answer them")
    rows = [[str(n), item, " ", " ", " "] for n, item in enumerate(items, 1)]
    return [
        "## Action items",
        "",
        "To fill in at the review: an owner, a due date and a ticket for each.",
        "",
        table(["#", "Action", "Owner", "Due", "Ticket"], rows),
        "",
        "- What went well:",
        "- What went badly:",
        "- Where we got lucky:",
    ]


def _gaps_section(found: list[Gap]) -> list[str]:
    lines = ["## What the runbook could not find out", ""]
    if not found:
        return [*lines, "Nothing: every branch and every source answered."]
    rows = [[inline(g.what, 200), inline(g.why, 500)] for g in found]
    return [*lines, table(["What", "Why"], rows)]


def short_summary(
    data: PostmortemInput,
    verdict: dict[str, Any],
    status: str,
    moments: list[Moment],
    found: list[Gap],
) -> str:
    """One plain-text paragraph for the incident record, the topic and the channel."""
    incident = data.incident
    parts = [f"{status}: {incident.severity} incident {incident.title}."]
    parts.append(
        f"Fault domain: {verdict['headline']}." if verdict.get("headline") else "No verdict."
    )
    parts.append(f"Duration {_duration_line(moments)}.")
    recovered = first(moments, "recovered")
    if recovered:
        parts.append(f"{recovered.label} {recovered.detail}.")
    missing = [g for g in found if not g.skipped]
    if missing:
        parts.append(f"{len(missing)} things unknown (see the postmortem).")
    text = " ".join(" ".join(clean(p).split()) for p in parts)
    return text[: SUMMARY_LIMIT - 1] + "…" if len(text) > SUMMARY_LIMIT else text


def _remediation_section(fix: RemediationRecord | None, region: str) -> list[str]:
    """What was proposed, decided and run, and the before/after diff (none: no section)."""
    if fix is None:
        return []
    return remediation_lines(
        fix.proposal,
        fix.decision,
        fix.execution,
        fix.after,
        no_proposal=fix.no_proposal,
        start_error=fix.start_error,
        region=region,
        at_recovery=fix.at_recovery,
    )


def render(data: PostmortemInput) -> Postmortem:
    """The whole postmortem document and its short summary."""
    status = final_status(data.recovery)
    diagnostics = data.response.get("diagnostics")
    diag = diagnostics if isinstance(diagnostics, dict) else {}
    verdict = verdict_of(diag, data.evidence)
    results = source_results(diag, data.evidence)
    window = window_of(diag, data.evidence)
    moments = key_moments(
        data.incident, data.history, data.response, data.recovery, data.closed_at, status
    )
    fix = decode_remediation(data.incident.remediation) if data.incident.remediation else None
    fix_moments = (
        remediation_moments(fix.proposal, fix.decision, fix.execution) if fix is not None else []
    )
    moments = sorted(
        [*moments, *engagement_moments(data.incident), *fix_moments],
        key=lambda moment: moment.sort_key(),
    )
    page = data.response.get("page")
    page_status = str(page.get("status", "unknown")) if isinstance(page, dict) else "missing"
    found = gaps(
        data.response,
        data.recovery,
        data.incident.severity,
        data.history,
        results,
        data.evidence_note,
        data.graph,
        moments,
    )
    head = [
        f"# Postmortem: {inline(data.incident.title)}",
        "",
        f"Incident {code_span(data.incident.incident_id)} · **{status}** · severity "
        f"**{inline(data.incident.severity)}** · written by the incident runbook at "
        f"{inline(data.closed_at)}",
    ]
    sections = [
        head,
        _summary_section(data, verdict, status, moments, found),
        _timeline_section(data, moments),
        engagement_lines(data.incident, data.timezone, data.region),
        _figures_section(figures(data.incident, moments, data.history, page_status)),
        _graph_section(data.graph),
        diagnostics_lines(diagnostics, verdict, results, data.region, window),
        support_case_lines(support_case_of(diag, data.evidence)),
        _remediation_section(fix, data.region),
        _action_items(verdict, status),
        _gaps_section(found),
    ]
    markdown = "\n\n".join("\n".join(section) for section in sections if section) + "\n"
    return Postmortem(markdown, status, short_summary(data, verdict, status, moments, found))
