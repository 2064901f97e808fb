"""What the runbook could not find out, and why: failed or skipped response branches, missing
branches, diagnostic sources that failed, timed out or were throttled, an AWS Health API that
could not be read (the source then checked only the Health events stored from EventBridge), an
unreadable history or evidence document, a graph that could not be drawn, a recovery nobody
confirmed.

A reviewer should never mistake a blank for "nothing happened": every absence is named here.
"""

from __future__ import annotations

import json
import re
from typing import Any

import msgspec

from diagnostics.health import API_UNREAD, read_from_stored_events
from postmortem.findings import SourceResult
from postmortem.graph import Graph
from postmortem.history import WorkflowHistory
from postmortem.timeline import Moment, first

# The branches each severity runs (statemachines/incident_response.asl.json).
EXPECTED_PARTS = {
    "critical": ("page", "diagnostics", "channel"),
    "high": ("page", "diagnostics"),
    "standard": ("diagnostics", "notification"),
}
_NAMES = {
    "page": "Paging on-call",
    "notification": "Notifying the team",
    "diagnostics": "Diagnostics",
    "channel": "The incident channel",
}
_QUIET = frozenset({"ok"})


class Gap(msgspec.Struct, frozen=True):
    """Something the postmortem cannot tell, and the reason."""

    what: str
    why: str
    skipped: bool = False


# The designed escalation path, reported by the escalation moments, not as a failure.
_EXPECTED_ERRORS = ("States.Timeout", "States.HeartbeatTimeout")
# The history keeps 300 characters of a cause: a cut document still names its message.
_ERROR_MESSAGE = re.compile(r'"errorMessage"\s*:\s*("(?:[^"\\]|\\.)*")')


def _message(cause: Any) -> str:
    """A Lambda error document's `errorMessage` (its stack trace helps nobody here), else the
    cause as it is."""
    text = str(cause)
    found = _ERROR_MESSAGE.search(text) if text.startswith("{") else None
    if found is None:
        return text
    try:
        return str(json.loads(found.group(1)))
    except ValueError:
        return text


def _why(part: dict[str, Any]) -> str:
    text = ": ".join(
        _message(part[k]) if k == "cause" else str(part[k])
        for k in ("error", "cause")
        if part.get(k)
    )
    return text[:500] or "no reason recorded"


def retried_steps(history: WorkflowHistory) -> list[Gap]:
    """Steps that failed on the way, with how often and the last error, so a failure that the
    workflow's Retry absorbed is named too (the response says how each branch ended). Marked
    `skipped` so the summary does not count them as missing: nothing is unknown."""
    found: list[Gap] = []
    for visit in history.visits:
        errors = [e for e in visit.errors if not e.startswith(_EXPECTED_ERRORS)]
        if not errors:
            continue
        error, _, cause = errors[-1].partition(" ")
        last = f"{error}: {_message(cause)}" if cause else error
        times = "once" if len(errors) == 1 else f"{len(errors)} times"
        found.append(Gap(f"The step {visit.name}", f"failed {times}: {last}"[:500], skipped=True))
    return found


def response_gaps(response: dict[str, Any], severity: str) -> list[Gap]:
    """Failed, skipped and missing branches of the response."""
    if response.get("status") == "failed" and not any(
        isinstance(response.get(p), dict) for p in _NAMES
    ):
        return [Gap("The whole response (page, diagnostics, channel)", _why(response))]
    if not response:
        return [Gap("The whole response (page, diagnostics, channel)", "no response result")]
    found: list[Gap] = []
    for part, name in _NAMES.items():
        value = response.get(part)
        if not isinstance(value, dict):
            if part in EXPECTED_PARTS.get(severity, ()):
                found.append(Gap(name, "no result in the workflow state (the branch is missing)"))
            continue
        status = value.get("status")
        if status == "failed":
            found.append(Gap(name, f"failed: {_why(value)}"))
        elif status == "skipped":
            detail = value.get("detail")
            nested = detail.get("reason") if isinstance(detail, dict) else None
            reason = value.get("reason") or nested or "no reason recorded"
            found.append(Gap(name, f"skipped: {reason}", skipped=True))
    return found


def health_api_gaps(results: list[SourceResult]) -> list[Gap]:
    """Health sources that answered from the stored events because the Health API could not be
    read: they ran, so no failure says so, yet what the API knows stayed unknown."""
    return [
        Gap(
            f"The AWS Health API ({r.target})",
            r.message.removeprefix(API_UNREAD).lstrip(": ") or "the API could not be read",
        )
        for r in results
        if r.source == "health"
        and r.status in _QUIET
        and read_from_stored_events(dict(r.figures), r.message)
    ]


def diagnostics_gaps(
    diagnostics: dict[str, Any], results: list[SourceResult], evidence_note: str
) -> list[Gap]:
    """Sources that could not answer, and limits of what was kept."""
    found = [
        Gap(f"{r.source} ({r.target})", f"{r.status}: {r.message or 'no message'}")
        for r in results
        if r.status not in _QUIET
    ]
    found += health_api_gaps(results)
    summary = diagnostics.get("summary") if isinstance(diagnostics.get("summary"), dict) else {}
    if summary and summary.get("note"):
        found.append(Gap("Diagnostic sources", str(summary["note"])))
    if diagnostics.get("evidence_uri") and evidence_note:
        found.append(Gap("The diagnostics evidence document", evidence_note))
        if summary and summary.get("truncated"):
            found.append(
                Gap(
                    "Part of the diagnostics summary",
                    "trimmed to fit the workflow state; the evidence document has the rest",
                )
            )
    return found


def recovery_gaps(recovery: dict[str, Any], moments: list[Moment]) -> list[Gap]:
    """Recovery nobody confirmed, and no acknowledgement."""
    found: list[Gap] = []
    status = recovery.get("status")
    if status == "timed_out":
        found.append(
            Gap(
                "Whether and when the service recovered",
                "nobody resolved the incident and its alarm did not return to OK within the "
                "recovery wait; it closed UNRESOLVED and may still be ongoing",
            )
        )
    elif status == "failed":
        found.append(
            Gap("Whether and when the service recovered", f"the wait failed: {_why(recovery)}")
        )
    elif status not in ("recovered", "resolved"):
        found.append(Gap("Whether and when the service recovered", "no recovery result"))
    if first(moments, "acknowledged") is None:
        found.append(
            Gap(
                "Who acknowledged the page, and when",
                "no acknowledgement was recorded on the incident, so time to acknowledge "
                "is unknown",
            )
        )
    return found


def gaps(
    response: dict[str, Any],
    recovery: dict[str, Any],
    severity: str,
    history: WorkflowHistory,
    results: list[SourceResult],
    evidence_note: str,
    graph: Graph,
    moments: list[Moment],
) -> list[Gap]:
    """Every gap, response first, then diagnostics, records, the graph and recovery."""
    diagnostics = response.get("diagnostics")
    found = response_gaps(response, severity)
    if isinstance(diagnostics, dict):
        found += diagnostics_gaps(diagnostics, results, evidence_note)
    if history.unavailable:
        found.append(Gap("The execution history", history.unavailable))
    found += retried_steps(history)
    if graph.status != "embedded":
        found.append(Gap("The metric graph", graph.reason or "not drawn"))
    if (response.get("page") or {}).get("status") == "sent" and not first(moments, "paged"):
        found.append(Gap("When the page went out", "the execution history does not show it"))
    found += recovery_gaps(recovery, moments)
    return found
