"""Escalation timelines as Incident Manager runs them -> the file's `stages`.

Incident Manager engages stage n+1 when stage n's DurationInMinutes has passed; a stage of 0
minutes therefore begins together with the next one, and several plans engaged by one response
plan run side by side. Both become stages here by their start minute: targets that begin at the
same minute share a stage, and a stage lasts until the next begins. Incident Manager has no
step after the last stage; here the plan is then exhausted and the escalation topic is paged,
so a last stage that would last 0 minutes gets LAST_STAGE_MINUTES, and a note says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from runbook.importers.notes import Notes
from runbook.importers.values import minutes_text

LAST_STAGE_MINUTES = 30  # Incident Manager's longest stage
Target = dict[str, str]  # {"contact": id} or {"rotation": id}


@dataclass
class Timeline:
    stages: list[tuple[int, list[Target]]] = field(default_factory=list)  # (minutes, targets)


def _order(target: Target) -> tuple[int, str]:
    return (0, target["contact"]) if "contact" in target else (1, target["rotation"])


def merge(timelines: list[Timeline], subject: str, notes: Notes) -> list[dict[str, Any]]:
    """Timelines that run side by side -> one list of stages (empty: nobody to engage)."""
    starts: dict[int, list[Target]] = {}
    end = 0
    for timeline in timelines:
        offset = 0
        for minutes, targets in timeline.stages:
            if targets:
                bucket = starts.setdefault(offset, [])
                bucket.extend(t for t in targets if t not in bucket)
            offset += minutes
        end = max(end, offset)
    if not starts:
        return []
    points = sorted(starts)
    if points[0]:
        notes.approximated(
            subject,
            f"nobody carried over is engaged in its first {minutes_text(points[0])}: here its "
            "first stage begins at once",
        )
    stages = []
    for i, point in enumerate(points):
        until = points[i + 1] if i + 1 < len(points) else max(end, point)
        minutes = until - point
        if minutes <= 0:
            minutes = LAST_STAGE_MINUTES
            notes.approximated(
                subject,
                "its last stage lasts 0 minutes; here the escalation topic is paged when the "
                f"last stage ends, so it lasts {minutes_text(minutes)}",
            )
        targets = sorted(starts[point], key=_order)
        stages.append({"duration": minutes_text(minutes), "targets": targets})
    return stages
