"""Diagnostics findings as the postmortem shows them: per source, with the query that produced
each one and what a console link needs (log groups, X-Ray filter, trace ids, the window).

The S3 evidence document (docs/diagnostics.md) is complete and carries each Logs Insights
query's text and log groups; the summary in the workflow state is the fallback when the
evidence cannot be read, with the shipped query text looked up by the query's name.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
from msgspec import field

from diagnostics import queries

# The shipped phase-one queries by name (the correlation queries are built per incident and
# only the evidence document has their text).
SHIPPED_QUERIES = {
    "error_counts": queries.ERROR_COUNTS,
    "recent_errors": queries.RECENT_ERRORS,
    "error_spikes": queries.ERROR_SPIKES,
    "lambda_slow_or_memory_bound": queries.LAMBDA_SLOW_OR_MEMORY_BOUND,
    "api_gateway_errors": queries.API_GATEWAY_ERRORS,
    "ecs_stopped_reasons": queries.ECS_STOPPED_REASONS,
    "vpc_flow_rejects": queries.VPC_FLOW_REJECTS,
}
_BASE_KEYS = ("source", "target", "status", "message")
# Summary keys shown in their own way rather than as plain figures.
_SPECIAL_KEYS = frozenset({"query", "sample", "filter", "slowest_segments"})
MAX_FIGURES = 12


class SourceResult(msgspec.Struct):
    """One finding of one diagnostic source, ready to render."""

    source: str
    target: str
    status: str
    message: str
    figures: list[tuple[str, str]] = field(default_factory=list)
    query_name: str = ""
    query: str = ""
    log_groups: list[str] = field(default_factory=list)
    xray_filter: str = ""
    samples: list[str] = field(default_factory=list)
    trace_ids: list[str] = field(default_factory=list)
    causes: list[dict[str, Any]] = field(default_factory=list)


def _figure(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, default=str, separators=(", ", ": "))[:200]
    return str(value)


def _result(
    base: dict[str, Any], summary: dict[str, Any], evidence: dict[str, Any]
) -> SourceResult:
    source, target, status, message = (str(base.get(k, "") or "") for k in _BASE_KEYS)
    result = SourceResult(source, target, status, message)
    result.figures = [
        (str(k), _figure(v))
        for k, v in summary.items()
        if k not in _SPECIAL_KEYS and k not in _BASE_KEYS and v not in (None, "", [], {})
    ][:MAX_FIGURES]
    result.samples = [str(s) for s in summary.get("sample", []) if s][:3]
    if result.source == "logs_insights" and summary.get("query"):
        result.query_name = str(summary["query"])
        result.query = str(evidence.get("query") or SHIPPED_QUERIES.get(result.query_name, ""))
        groups = evidence.get("log_groups")
        if not groups:
            single = result.target.partition(": ")[2]
            groups = [single] if single.startswith("/") else []
        result.log_groups = [str(g) for g in groups]
    if result.source == "xray":
        result.xray_filter = str(summary.get("filter", ""))
        segments = summary.get("slowest_segments") or []
        ids = [str(s.get("trace_id", "")) for s in segments if isinstance(s, dict)]
        result.trace_ids = list(dict.fromkeys(i for i in ids if i))[:5]
    return result


def source_results(
    diagnostics: dict[str, Any], evidence: dict[str, Any] | None
) -> list[SourceResult]:
    """Every finding, from the evidence document when there is one, else from the summary."""
    if evidence and isinstance(evidence.get("findings"), list):
        results = []
        for finding in evidence["findings"]:
            if isinstance(finding, dict):
                result = _result(
                    finding, finding.get("summary") or {}, finding.get("evidence") or {}
                )
                result.causes = [c for c in finding.get("causes", []) if isinstance(c, dict)]
                results.append(result)
        return results
    summary = diagnostics.get("summary") or {}
    sources = summary.get("sources") if isinstance(summary, dict) else None
    return [_result(s, s, {}) for s in sources or [] if isinstance(s, dict)]


def window_of(diagnostics: dict[str, Any], evidence: dict[str, Any] | None) -> dict[str, str]:
    """The time span the sources looked at (`{"start", "end"}`), if known."""
    for holder in (evidence or {}, diagnostics.get("summary") or {}):
        span = holder.get("window") if isinstance(holder, dict) else None
        if isinstance(span, dict) and span.get("start") and span.get("end"):
            return {"start": str(span["start"]), "end": str(span["end"])}
    return {}


def verdict_of(diagnostics: dict[str, Any], evidence: dict[str, Any] | None) -> dict[str, Any]:
    """The fault-domain verdict (evidence first: the summary's may be trimmed)."""
    for holder in (evidence or {}, diagnostics.get("summary") or {}):
        verdict = holder.get("verdict") if isinstance(holder, dict) else None
        if isinstance(verdict, dict) and verdict.get("domain"):
            return verdict
    return {}


def support_case_of(diagnostics: dict[str, Any], evidence: dict[str, Any] | None) -> dict[str, Any]:
    """The AWS support-case draft, when the verdict is AWS side."""
    for holder in (evidence or {}, diagnostics.get("summary") or {}):
        case = holder.get("support_case") if isinstance(holder, dict) else None
        if isinstance(case, dict) and case.get("subject"):
            return case
    return {}
