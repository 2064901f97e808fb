"""What a drill's postmortem counts: DrillsCompleted only for a resolved drill whose page went
out (the dead-man's switch must fire when paging is broken)."""

from __future__ import annotations

import pytest
from aws_lambda_powertools import Metrics

from incidents.model import Incident
from postmortem.drill_metrics import COMPLETED, FAILED, count_drill


def _incident(drill: bool | None) -> Incident:
    return Incident(incident_id="inc-1", title="t", opened_at="2026-01-01T00:00:00Z", drill=drill)


@pytest.mark.parametrize(
    ("drill", "status", "page", "expected"),
    [
        (True, "RESOLVED", "sent", COMPLETED),
        (True, "RESOLVED", "failed", FAILED),
        (True, "UNRESOLVED", "sent", FAILED),
        (None, "RESOLVED", "sent", FAILED),
    ],
)
def test_only_a_resolved_paged_drill_completes(
    drill: bool | None, status: str, page: str, expected: str
) -> None:
    metrics = Metrics(namespace="Test", service="test")
    assert count_drill(metrics, _incident(drill), status, page) == expected
    assert list(metrics.metric_set) == [expected]
    metrics.clear_metrics()
