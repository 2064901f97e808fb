"""What a drill's postmortem counts instead of incident figures (docs/drills.md).

`DrillsCompleted` (namespace IncidentRunbook, dimension `service`) is the heartbeat the
dead-man's switch alarm watches: a drill that went all the way through ingest, the workflow,
a sent page, diagnostics and its own resolution to a written postmortem. A drill that closed any
other way counts as `DrillsFailed`, so it does not keep the switch quiet.
"""

from __future__ import annotations

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from incidents.model import Incident

COMPLETED = "DrillsCompleted"
FAILED = "DrillsFailed"


def count_drill(metrics: Metrics, incident: Incident, status: str, page_status: str) -> str:
    """Add the drill's metric; returns its name. Completed only if it resolved and its page
    went out: a drill whose page failed must let the switch fire."""
    done = status == "RESOLVED" and page_status == "sent" and incident.drill
    name = COMPLETED if done else FAILED
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    return name
