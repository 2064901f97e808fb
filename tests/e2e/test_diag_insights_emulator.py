"""The logs source on the local emulator: a function that was never invoked has no log group,
the emulator refuses a query naming it (ResourceNotFoundException, as AWS does), and the
source leaves it out, runs the shipped queries over the function that did log, and names the
missing group in every finding."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from diagnostics.logs import LogsSource
from diagnostics.logs_insights import LogsInsights
from diagnostics.paging import Deadline
from diagnostics.targets import Targets
from shared.timeutil import utcnow

from .helpers import wait_for

pytestmark = pytest.mark.e2e


def test_a_function_without_a_log_group_is_left_out(
    aws: Callable[[str], Any], make_probe: Callable[..., Any], unique: str
) -> None:
    name = f"e2e-diag-logs-{unique}"
    never = f"e2e-diag-never-{unique}"
    make_probe(name)
    payload = json.dumps({"action": "fail", "message": "payment provider down"}).encode()
    aws("lambda").invoke(FunctionName=name, Payload=payload)
    logs = aws("logs")
    group = f"/aws/lambda/{name}"

    def logged() -> bool:
        now = int(time.time())
        if not logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]:
            return False
        query = logs.start_query(logGroupName=group, startTime=now - 300, endTime=now + 60,
                                 queryString='filter @type = "REPORT"')  # fmt: skip
        return bool(logs.get_query_results(queryId=query["queryId"])["results"])

    wait_for("the invocation's REPORT line", logged, timeout=10)

    source = LogsSource(lambda service, region=None: aws(service),
                        LogsInsights(logs, sleep=lambda _: None))  # fmt: skip
    now = utcnow()
    findings = source.collect(
        Targets(functions=[never, name]), now - timedelta(minutes=5), now + timedelta(minutes=1),
        Deadline.after(30),
    )  # fmt: skip

    by_query = {f.summary["query"]: f for f in findings if f.summary.get("query")}
    assert {"error_counts", "recent_errors", "lambda_slow_or_memory_bound"} <= set(by_query)
    for finding in by_query.values():
        assert finding.status == "ok", finding
        assert finding.summary["missing_log_groups"] == [f"/aws/lambda/{never}"]
        assert finding.evidence["log_groups"] == [group]
    assert by_query["recent_errors"].summary["matches"] >= 1
    assert any("payment provider down" in line for line in by_query["recent_errors"].summary[
        "sample"])  # fmt: skip
