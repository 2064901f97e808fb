"""A support-case draft for an AWS-side verdict, with what AWS Support asks for: the affected
resource ids and region, when it started (with its time zone), whether it is still going on,
and the evidence (status details, Health events, log excerpts, trace ids)."""

from __future__ import annotations

import re
from typing import Any

from diagnostics.finding import AWS, Finding
from incidents.model import Incident
from shared.timeutil import parse_time

# Incident severity -> AWS Support case severity code.
SEVERITY_CODES = {"critical": "urgent", "high": "high", "standard": "normal"}
_TRACE_ID = re.compile(r"1-[0-9a-f]{8}-[0-9a-f]{24}")
_MAX = 5


def _with_zone(value: str) -> str:
    """`2024-05-01T14:03:07+00:00 (UTC)`: explicit offset and zone name."""
    moment = parse_time(value)
    return f"{moment.isoformat()} ({moment.tzname() or 'UTC'})"


def _log_excerpts(findings: list[Finding]) -> list[str]:
    lines: list[str] = []
    for finding in findings:
        if finding.source == "logs_insights":
            lines += [s for s in finding.summary.get("sample", []) if s]
    return lines[:_MAX]


def _trace_ids(findings: list[Finding]) -> list[str]:
    ids: list[str] = []
    for finding in findings:
        if finding.source == "xray":
            ids += [s.get("Id", "") for s in finding.evidence.get("trace_summaries", [])]
        for cause in finding.causes:
            ids += [m for e in cause.evidence for m in _TRACE_ID.findall(e)]
    return list(dict.fromkeys(i for i in ids if i))[:_MAX]


def draft(incident: Incident, verdict: dict[str, Any], findings: list[Finding]) -> dict[str, Any]:
    """The draft, or {} when the verdict is not AWS side."""
    if verdict.get("domain") != AWS:
        return {}
    causes = verdict["causes"]
    resources = list(dict.fromkeys(r for c in causes for r in c["resources"]))
    resources += [r.id for r in incident.resources if r.id not in resources]
    starts = sorted(c["started_at"] for c in causes if c.get("started_at"))
    started = starts[0] if starts else incident.opened_at
    ongoing = any(c.get("ongoing") for c in causes)
    region = incident.region or ""
    subject = f"{causes[0]['title']} ({region})"[:120]
    evidence = {
        "aws_side": [e for c in causes for e in c["evidence"]][:_MAX],
        "log_excerpts": _log_excerpts(findings),
        "trace_ids": _trace_ids(findings),
    }
    body = "\n".join(
        [
            f"Incident {incident.incident_id}: {incident.title}",
            f"Account {incident.account or 'this account'}, region {region}.",
            f"Affected resources: {', '.join(resources[:20])}.",
            f"Started: {_with_zone(started)}; "
            + ("still ongoing." if ongoing else "no longer observed."),
            f"Scope: {verdict.get('scope', '')}.",
            "What we see:",
            *[f"- {c['title']}" for c in causes],
            *[f"  {e}" for e in evidence["aws_side"]],
            "Ruled out on our side: " + ("; ".join(verdict.get("ruled_out", [])) or "n/a"),
        ]
    )
    return {
        "subject": subject,
        "severity": SEVERITY_CODES.get(incident.severity, "normal"),
        "account": incident.account,
        "region": region,
        "affected_resources": resources[:20],
        "started_at": _with_zone(started),
        "ongoing": ongoing,
        "evidence": evidence,
        "body": body[:8000],
    }
