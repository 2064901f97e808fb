"""The Diagnostics and support-case sections: the verdict with its evidence, then each source's
findings with the query that produced them and console deep links."""

from __future__ import annotations

from typing import Any

from postmortem.console import logs_insights_url, xray_trace_url, xray_traces_url
from postmortem.findings import SourceResult
from postmortem.markdown import code_block, code_span, inline, link, table

SUPPORT_CENTER = "https://console.aws.amazon.com/support/home#/case/create"
_EVIDENCE_NAMES = {
    "aws_side": "What AWS shows",
    "log_excerpts": "Log excerpts",
    "trace_ids": "Trace ids",
}


def _cause_lines(cause: dict[str, Any]) -> list[str]:
    title = inline(cause.get("title") or cause.get("code"))
    scope = f" — {inline(cause['scope'])}" if cause.get("scope") else ""
    lines = [f"- **{title}**{scope}"]
    if cause.get("fix"):
        lines.append(f"  - Fix: {inline(cause['fix'])}")
    if cause.get("resources"):
        names = ", ".join(code_span(r, limit=120) for r in cause["resources"][:5])
        lines.append(f"  - Resources: {names}")
    for evidence in (cause.get("evidence") or [])[:3]:
        lines.append(f"  - Evidence: {code_span(evidence)}")
    return lines


def verdict_lines(verdict: dict[str, Any]) -> list[str]:
    """The verdict: headline, domain, scope, causes with evidence, what was ruled out."""
    if not verdict:
        return ["No verdict: diagnostics did not produce one."]
    lines = [
        f"**{inline(verdict.get('headline'))}** (fault domain {code_span(verdict.get('domain'))})"
    ]
    if verdict.get("scope"):
        lines += ["", f"Impact scope: {inline(verdict['scope'])}"]
    causes = [c for c in verdict.get("causes", []) if isinstance(c, dict)]
    if causes:
        lines += ["", *[line for c in causes for line in _cause_lines(c)]]
    if verdict.get("ruled_out"):
        lines += ["", "Ruled out: " + "; ".join(inline(r) for r in verdict["ruled_out"])]
    if verdict.get("other_evidence"):
        others = ", ".join(code_span(c, limit=80) for c in verdict["other_evidence"])
        lines += ["", f"Also seen on other rungs: {others}"]
    if verdict.get("sources_failed"):
        failed = ", ".join(inline(s) for s in verdict["sources_failed"])
        lines += ["", f"Sources that could not be read: {failed}"]
    return lines


def _figures(result: SourceResult) -> str:
    return "; ".join(
        f"{inline(k)}: {code_span(v, in_table=True, limit=120)}" for k, v in result.figures
    )


def _logs_query(result: SourceResult, region: str, window: dict[str, str]) -> list[str]:
    groups = (
        ", ".join(code_span(g, limit=200) for g in result.log_groups) or "(log groups not recorded)"
    )
    head = f"**{inline(result.query_name)}** over {groups}: {inline(result.message)}"
    if result.log_groups and result.query and window:
        url = logs_insights_url(
            region, result.log_groups, result.query, window["start"], window["end"]
        )
        head += f" — {link('open in Logs Insights', url)}"
    lines = ["", head]
    if result.query:
        lines += ["", code_block(result.query)]
    else:
        lines += ["", "The query text was not recorded (see the evidence document)."]
    if result.samples:
        lines += ["", "Sample lines:", "", code_block("\n".join(result.samples), "text")]
    return lines


def _xray(result: SourceResult, region: str, window: dict[str, str]) -> list[str]:
    lines = ["", f"X-Ray filter expression: {code_span(result.xray_filter or '(none)')}"]
    if window:
        query = xray_traces_url(region, result.xray_filter, window["start"], window["end"])
        lines[-1] += f" — {link('open the traces', query)}"
    traces = [
        link(trace_id, trace)
        for trace_id in result.trace_ids
        if (trace := xray_trace_url(region, trace_id))
    ]
    if traces:
        lines += ["", "Slowest traces: " + ", ".join(traces)]
    return lines


def source_lines(results: list[SourceResult], region: str, window: dict[str, str]) -> list[str]:
    """One subsection per source: a table of its findings, then queries and links."""
    if not results:
        return ["No findings were recorded."]
    lines: list[str] = []
    for source in dict.fromkeys(r.source for r in results):
        mine = [r for r in results if r.source == source]
        rows = [
            [
                code_span(r.target, in_table=True, limit=120),
                inline(r.status),
                inline(r.message, 300),
                _figures(r) or "-",
            ]
            for r in mine
        ]
        lines += [
            "",
            f"### {inline(source)}",
            "",
            table(["Target", "Status", "Finding", "Figures"], rows),
        ]
        for result in mine:
            if result.query_name:
                lines += _logs_query(result, region, window)
            if result.source == "xray" and result.status == "ok":
                lines += _xray(result, region, window)
            for cause in result.causes:
                lines += ["", *_cause_lines(cause)]
    return lines


def diagnostics_lines(
    diagnostics: Any,
    verdict: dict[str, Any],
    results: list[SourceResult],
    region: str,
    window: dict[str, str],
) -> list[str]:
    """The whole Diagnostics section."""
    lines = ["## Diagnostics", ""]
    if not isinstance(diagnostics, dict):
        return [*lines, "Diagnostics did not run: the response produced no diagnostics result."]
    status = inline(diagnostics.get("status", "unknown"))
    facts = [f"Status: **{status}**"]
    if window:
        facts.append(f"window {inline(window['start'])} to {inline(window['end'])}")
    if diagnostics.get("evidence_uri"):
        facts.append(f"full evidence {code_span(diagnostics['evidence_uri'])}")
    lines.append(" · ".join(facts))
    if diagnostics.get("status") == "failed" and diagnostics.get("error"):
        error = f"{diagnostics.get('error')}: {diagnostics.get('cause', '')}"
        lines += ["", f"Diagnostics failed: {code_span(error, limit=500)}"]
        return lines
    lines += ["", "### Verdict", "", *verdict_lines(verdict)]
    lines += source_lines(results, region, window)
    return lines


def support_case_lines(case: dict[str, Any]) -> list[str]:
    """The AWS support-case draft, when the verdict is AWS side."""
    if not case:
        return []
    resources = ", ".join(
        code_span(r, in_table=True, limit=120) for r in case.get("affected_resources", [])
    )
    rows = [
        ["Subject", inline(case.get("subject"))],
        ["Severity", inline(case.get("severity"))],
        ["Account / region", inline(f"{case.get('account') or '-'} / {case.get('region') or '-'}")],
        ["Affected resources", resources or "-"],
        ["Started", inline(case.get("started_at"))],
        ["Still ongoing", "yes" if case.get("ongoing") else "no"],
    ]
    lines = [
        "## AWS support case (draft)",
        "",
        "The verdict puts the fault on AWS's side. Review this draft, then "
        f"{link('open a case in the AWS Support Center', SUPPORT_CENTER)}.",
        "",
        table(["Field", "Value"], rows),
        "",
        code_block(case.get("body", ""), "text"),
    ]
    evidence = case.get("evidence") or {}
    for name, items in evidence.items():
        if items:
            lines += ["", f"{inline(_EVIDENCE_NAMES.get(name, name))}:"]
            lines += [f"- {code_span(item)}" for item in items[:5]]
    return lines
