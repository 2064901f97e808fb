"""X-Ray: the slow traces, their slowest segments, and the service-graph nodes that fault.

GetTraceSummaries takes a filter expression so X-Ray returns only slow traces (paged);
BatchGetTraces reads full traces at most 5 ids per call; GetServiceGraph (paged) ranks nodes
by fault rate, then by average response time.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from diagnostics.finding import APPLICATION, OK, Cause, Finding, finding_from_client_error
from diagnostics.paging import Deadline, batches, paginate
from diagnostics.targets import Targets

SOURCE = "xray"
SLOW_SECONDS = 3.0
BATCH_GET_TRACES = 5
MAX_TRACES = 20
MAX_SUMMARY_PAGES = 10
TOP = 5


def filter_expression(services: list[str], threshold: float = SLOW_SECONDS) -> str:
    """`responsetime > 3` narrowed to the incident's services when it names any."""
    slow = f"responsetime > {threshold:g}"
    names = [s for s in services if s.replace("-", "").replace("_", "").isalnum()]
    if not names:
        return slow
    wanted = " OR ".join(f'service("{name}")' for name in names)
    return f"({wanted}) AND {slow}"


def segments(document: dict[str, Any], trace_id: str) -> list[dict[str, Any]]:
    """A segment and its subsegments, flattened, with durations in ms."""
    found = []
    stack = [document]
    while stack:
        item = stack.pop()
        if "start_time" in item and "end_time" in item:
            exceptions = (
                item.get("cause", {}).get("exceptions", [])
                if isinstance(item.get("cause"), dict)
                else []
            )
            found.append(
                {
                    "trace_id": trace_id,
                    "name": item.get("name", ""),
                    "duration_ms": round((item["end_time"] - item["start_time"]) * 1000, 1),
                    "fault": bool(item.get("fault")),
                    "error": bool(item.get("error")),
                    "throttle": bool(item.get("throttle")),
                    "exception": (exceptions[0].get("message", "") if exceptions else "")[:200],
                }
            )
        stack.extend(item.get("subsegments", []))
    return found


def rank_nodes(services: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Service-graph nodes by fault rate, then average response time (worst first)."""
    nodes = []
    for node in services:
        stats = node.get("SummaryStatistics", {})
        total = stats.get("TotalCount", 0) or 0
        faults = stats.get("FaultStatistics", {}).get("TotalCount", 0) or 0
        errors = stats.get("ErrorStatistics", {}).get("TotalCount", 0) or 0
        nodes.append(
            {
                "name": node.get("Name", ""),
                "type": node.get("Type", ""),
                "requests": total,
                "fault_rate": round(faults / total, 4) if total else 0.0,
                "error_rate": round(errors / total, 4) if total else 0.0,
                "avg_response_ms": round(stats.get("TotalResponseTime", 0.0) / total * 1000, 1)
                if total
                else 0.0,
            }
        )
    nodes.sort(key=lambda n: (n["fault_rate"], n["avg_response_ms"]), reverse=True)
    return nodes


class XRaySource:
    """Reads traces and the service graph through an injected X-Ray client."""

    def __init__(self, xray: Any) -> None:
        self._xray = xray

    def collect(
        self, targets: Targets, start: datetime, end: datetime, deadline: Deadline
    ) -> list[Finding]:
        services = targets.functions + [s for _, s in targets.ecs_services] + targets.apis
        expression = filter_expression(services)
        try:
            listing = paginate(
                self._xray,
                "get_trace_summaries",
                "TraceSummaries",
                deadline,
                MAX_SUMMARY_PAGES,
                StartTime=start,
                EndTime=end,
                Sampling=False,
                FilterExpression=expression,
            )
            summaries = sorted(
                listing.items,
                key=lambda s: s.get("ResponseTime", s.get("Duration", 0)),
                reverse=True,
            )
            traces = self._traces([s["Id"] for s in summaries[:MAX_TRACES]], deadline)
            graph = paginate(
                self._xray, "get_service_graph", "Services", deadline, StartTime=start, EndTime=end
            ).items
        except ClientError as exc:
            return [finding_from_client_error(SOURCE, "traces", exc)]
        slowest = sorted(
            (
                seg
                for t in traces
                for s in t.get("Segments", [])
                for seg in segments(json.loads(s.get("Document", "{}")), t.get("Id", ""))
            ),
            key=lambda seg: seg["duration_ms"],
            reverse=True,
        )
        nodes = rank_nodes(graph)
        causes = _causes(summaries, slowest, nodes)
        summary = {
            "filter": expression,
            "slow_traces": len(summaries),
            "truncated": listing.truncated,
            "slowest_segments": [
                {k: s[k] for k in ("name", "duration_ms", "trace_id", "fault")}
                for s in slowest[:TOP]
            ],
            "worst_nodes": nodes[:TOP],
        }
        message = f"{len(summaries)} traces slower than {SLOW_SECONDS:g}s" + (
            f"; slowest segment {slowest[0]['name']} ({slowest[0]['duration_ms']} ms)"
            if slowest
            else ""
        )
        evidence = {
            "trace_summaries": [
                {
                    k: s.get(k)
                    for k in (
                        "Id",
                        "Duration",
                        "ResponseTime",
                        "HasFault",
                        "HasError",
                        "HasThrottle",
                        "Http",
                    )
                }
                for s in summaries
            ],
            "segments": slowest[:50],
            "service_graph": nodes,
        }
        return [Finding(SOURCE, "traces", OK, message, summary, evidence, causes)]

    def _traces(self, ids: list[str], deadline: Deadline) -> list[dict[str, Any]]:
        traces: list[dict[str, Any]] = []
        for batch in batches(ids, BATCH_GET_TRACES):
            if deadline.expired():
                break
            traces += paginate(
                self._xray, "batch_get_traces", "Traces", deadline, TraceIds=batch
            ).items
        return traces


def _causes(
    summaries: list[dict[str, Any]], slowest: list[dict[str, Any]], nodes: list[dict[str, Any]]
) -> list[Cause]:
    causes = []
    faulting = [n for n in nodes if n["fault_rate"] > 0]
    if faulting:
        causes.append(
            Cause(
                "xray.faulting_node",
                APPLICATION,
                f"{faulting[0]['name']} faults on {faulting[0]['fault_rate']:.0%} of requests",
                "Open the faulting traces of that node; its exception names the failing call.",
                f"{len(faulting)} of {len(nodes)} service-graph nodes fault",
                [n["name"] for n in faulting[:TOP]],
                [
                    f"{n['name']} ({n['type']}): fault {n['fault_rate']:.1%}, avg "
                    f"{n['avg_response_ms']} ms over {n['requests']} requests"
                    for n in faulting[:3]
                ],
            )
        )
    if slowest:
        top = slowest[0]
        causes.append(
            Cause(
                "xray.slow_segment",
                APPLICATION,
                f"Slowest segment: {top['name']} ({top['duration_ms']} ms)",
                "That call dominates the latency: check its own metrics and timeouts.",
                f"{len(summaries)} slow traces",
                [top["name"]],
                [
                    f"trace {s['trace_id']}: {s['name']} {s['duration_ms']} ms"
                    + (f" ({s['exception']})" if s["exception"] else "")
                    for s in slowest[:3]
                ],
            )
        )
    return causes
