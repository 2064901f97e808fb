"""Powertools Logger, Tracer and Metrics, created once for every handler.

Service name and metrics namespace come from POWERTOOLS_SERVICE_NAME and
POWERTOOLS_METRICS_NAMESPACE (set by the stack; tests set them too).
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger()
tracer = Tracer()
metrics = Metrics()

__all__ = ["MetricUnit", "logger", "metrics", "tracer", "track_incident"]


def track_incident(incident_id: str) -> None:
    """Make the incident id the correlation id of every log line of this invocation."""
    logger.set_correlation_id(incident_id)
    logger.append_keys(incident_id=incident_id)
    tracer.put_annotation(key="incident_id", value=incident_id)
