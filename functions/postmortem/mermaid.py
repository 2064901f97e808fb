"""The key moments as a Mermaid gantt chart: milestones on a real time axis, with bars for the
response and the wait for recovery.

A gantt chart rather than a Mermaid `timeline`: timeline periods are free text split on `:`, so
`14:03:07` cannot be a period, while gantt parses dates with a declared format. Labels pass
through `mermaid_text` (letters, digits and a few marks), so nothing from an alarm can end a
statement, open a directive or close the code block.
"""

from __future__ import annotations

from datetime import datetime

from postmortem.markdown import mermaid_text
from postmortem.timeline import Moment, first

_FORMAT = "%Y-%m-%d %H:%M:%S"
_SECTIONS = {
    "first_signal": "Detect",
    "opened": "Detect",
    "monitoring": "Wait for recovery",
    "acknowledged": "Wait for recovery",
    "escalated": "Wait for recovery",
    "recovered": "Close",
    "timed_out": "Close",
    "closed": "Close",
}
_ORDER = ("Detect", "Respond", "Wait for recovery", "Close")


def _section(moment: Moment) -> str:
    if moment.key in _SECTIONS:
        return _SECTIONS[moment.key]
    return "Wait for recovery" if moment.label.startswith("Recovery") else "Respond"


def _when(moment: datetime) -> str:
    return moment.strftime(_FORMAT)


def _bars(moments: list[Moment]) -> dict[str, list[str]]:
    bars: dict[str, list[str]] = {}
    opened = first(moments, "opened")
    responses = [m for m in moments if _section(m) == "Respond"]
    if opened and responses:
        end = max(m.at for m in responses)
        if end > opened.at:
            line = f"Responding :done, r0, {_when(opened.at)}, {_when(end)}"
            bars.setdefault("Respond", []).append(line)
    waiting = first(moments, "monitoring")
    ended = first(moments, "recovered") or first(moments, "timed_out") or first(moments, "closed")
    if waiting and ended and ended.at > waiting.at:
        tag = "done" if ended.key == "recovered" else "crit"
        line = f"Waiting :{tag}, w0, {_when(waiting.at)}, {_when(ended.at)}"
        bars.setdefault("Wait for recovery", []).append(line)
    return bars


def gantt(moments: list[Moment], incident_id: str) -> str:
    """The chart's source (without the fence); times are UTC."""
    lines = [
        "gantt",
        f"    title {mermaid_text(incident_id)} (UTC)",
        "    dateFormat YYYY-MM-DD HH:mm:ss",
        "    axisFormat %H:%M",
    ]
    by_section: dict[str, list[str]] = _bars(moments)
    for index, moment in enumerate(moments):
        label = mermaid_text(moment.label, 40)
        line = f"{label} :milestone, m{index}, {_when(moment.at)}, 0s"
        by_section.setdefault(_section(moment), []).append(line)
    for section in _ORDER:
        if by_section.get(section):
            lines.append(f"    section {section}")
            lines += [f"    {line}" for line in by_section[section]]
    return "\n".join(lines)
