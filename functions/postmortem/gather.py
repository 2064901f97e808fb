"""What the postmortem reads from AWS besides the payload: the execution history, the
diagnostics evidence and the alarm's metric graph. Each is optional: when one cannot be had,
the reason goes into the document instead of failing the step (only a throttled history is
retried, through TransientDependencyError, as the state machine's Retry expects).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError
from msgspec.structs import replace

from incidents.model import Incident
from postmortem.graph import AlarmGraph, Graph
from postmortem.history import WorkflowHistory, fetch_history, summarise
from postmortem.render import NO_ALARM
from postmortem.widget import window
from postmortem.writer import PostmortemWriter
from shared.errors import error_code
from shared.timeutil import parse_time


def workflow_history(sfn: Any, execution_arn: str) -> WorkflowHistory:
    """The execution history; empty, with the reason, when it cannot be read."""
    try:
        return summarise(fetch_history(sfn, execution_arn))
    except ClientError as exc:  # transient errors were already raised for a retry
        return WorkflowHistory(unavailable=f"GetExecutionHistory failed ({error_code(exc)})")


def diagnostics_evidence(
    writer: PostmortemWriter, response: dict[str, Any]
) -> tuple[dict[str, Any] | None, str]:
    """The evidence document named by the diagnostics result, or None and why."""
    diagnostics = response.get("diagnostics")
    uri = diagnostics.get("evidence_uri") if isinstance(diagnostics, dict) else None
    if not uri:
        return None, "diagnostics recorded no evidence document"
    return writer.read_evidence(str(uri))


def _time(value: Any) -> datetime | None:
    try:
        return parse_time(value) if value else None
    except (TypeError, ValueError):
        return None


def metric_graph(
    cloudwatch: Any,
    writer: PostmortemWriter,
    incident: Incident,
    recovery: dict[str, Any],
    closed_at: str,
    region: str,
) -> Graph:
    """The alarm's metric from 30 minutes before the first signal to 15 after the end, stored
    next to the document; a Graph that says why not otherwise."""
    opened = _time(incident.opened_at)
    if not incident.alarm_name or opened is None:
        return NO_ALARM
    closed = _time(closed_at) or opened
    recovered = (
        _time(recovery.get("at")) if recovery.get("status") in ("recovered", "resolved") else None
    )
    marks = [("first signal", opened)] + ([("recovered", recovered)] if recovered else [])
    span = window(opened, recovered or closed, closed)
    graph, png = AlarmGraph(cloudwatch).draw(incident.alarm_name, region, span, marks)
    if png is None:
        return graph
    try:
        writer.put_image(incident.incident_id, png)
    except ClientError as exc:
        # The same graph, links kept: the console still shows what the image would have.
        return replace(graph, reason=f"the image could not be stored ({error_code(exc)})")
    return graph.embedded()
