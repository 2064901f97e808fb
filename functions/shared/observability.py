"""Powertools Logger, Tracer and Metrics, created once for every handler.

Service name and metrics namespace come from POWERTOOLS_SERVICE_NAME and
POWERTOOLS_METRICS_NAMESPACE (set by the stack; tests set them too).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

if TYPE_CHECKING:
    from incidents.repository import IncidentRepository
    from shared.errors import InvalidIncidentInput

logger = Logger()
# Only botocore is patched: every AWS call gets its X-Ray subsegment. The default (patch_all)
# also imports and patches requests and sqlite3, which no step uses, for ~25 ms of every cold
# start (bench/coldstart.py). Slack calls go through urllib and show inside the handler's
# subsegment; httplib is not patched because it would trace every AWS call twice.
tracer = Tracer(patch_modules=("botocore",))
metrics = Metrics()

__all__ = ["MetricUnit", "logger", "metrics", "reject_event", "tracer", "track_incident"]


def track_incident(incident_id: str) -> None:
    """Make the incident id the correlation id of every log line of this invocation."""
    logger.set_correlation_id(incident_id)
    logger.append_keys(incident_id=incident_id)
    tracer.put_annotation(key="incident_id", value=incident_id)


def reject_event(
    repo: IncidentRepository, event: Any, error: InvalidIncidentInput
) -> dict[str, Any]:
    """Keep an unusable event in the table, log and count it, and answer instead of raising:
    a retry (or the rule's dead-letter queue) cannot make it usable."""
    error_id = repo.record_invalid_event(event, str(error))
    logger.error("rejected event", extra={"error_id": error_id, "reason": str(error)})
    metrics.add_metric(name="EventsRejected", unit=MetricUnit.Count, value=1)
    return {"status": "rejected", "error": type(error).__name__, "reason": str(error)}
