"""The logs source over real log lines (moto, with the emulator's Logs Insights evaluator):
a function that never logged has no log group, and AWS refuses a whole query naming one, so
the missing group is found (DescribeLogGroups), left out and named; with none left it says so.
And a function near its memory limit reaches the verdict as memory pressure."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from botocore.stub import Stubber

from diagnostics.logs import LogsSource
from diagnostics.logs_insights import LogsInsights, Query
from diagnostics.paging import Deadline
from diagnostics.targets import Targets
from diagnostics.verdict import decide
from shared.timeutil import utcnow

from .diag_evaluator import evaluator, put_lines, report  # noqa: F401 - the fixture
from .diag_stubs import client, count_calls

RA = "7a1b2c3d-0000-4000-8000-00000000000a"
RB = "7a1b2c3d-0000-4000-8000-00000000000b"
RC = "7a1b2c3d-0000-4000-8000-00000000000c"
ORDERS = "/aws/lambda/orders-api"
NEVER = "/aws/lambda/never-invoked"


def _collect(functions: list[str], logs: Any = None) -> list[Any]:
    insights = LogsInsights(logs or client("logs"), sleep=lambda _: None)
    source = LogsSource(lambda service, region=None: client(service), insights)
    now = utcnow()
    targets = Targets(functions=functions)
    return source.collect(targets, now - timedelta(minutes=30), now, Deadline.after(30))


@pytest.mark.usefixtures("evaluator")
def test_a_missing_log_group_is_left_out_and_named() -> None:
    put_lines(
        ORDERS,
        f"[ERROR]\t2024-05-01T14:02:58.000Z\t{RA}\tKeyError: 'sku'\n",
        report(RA, 120.5, 256, 100),
    )
    logs = client("logs")
    calls = count_calls(logs)

    findings = _collect(["never-invoked", "orders-api"], logs)

    ran = [f for f in findings if f.summary.get("query")]
    assert {f.summary["query"] for f in ran} >= {
        "error_counts", "recent_errors", "error_spikes", "lambda_slow_or_memory_bound"
    }  # fmt: skip
    for finding in ran:
        assert finding.status == "ok", finding
        assert finding.summary["missing_log_groups"] == [NEVER]
        assert finding.message.endswith(f"log group {NEVER} does not exist (left out)")
        assert finding.evidence["log_groups"] == [ORDERS]
    recent = next(f for f in ran if f.summary["query"] == "recent_errors")
    assert recent.summary["matches"] == 1
    assert "application.exception" in {c.code for c in recent.causes}
    # Each group looked up once; only the first query was refused, the others (and the
    # correlation query over the same groups) left the missing group out up front.
    assert calls["DescribeLogGroups"] == 2
    assert calls["StartQuery"] == len(ran) + 1


@pytest.mark.usefixtures("evaluator")
def test_no_log_group_exists_it_says_so() -> None:
    logs = client("logs")
    calls = count_calls(logs)

    findings = _collect(["ghost-a", "ghost-b"], logs)

    assert len(findings) == 4
    for finding in findings:
        assert finding.status == "not_found"
        assert finding.message.startswith(
            "none of the 2 log groups exist: /aws/lambda/ghost-a, /aws/lambda/ghost-b; "
            "query not run"
        )
        assert finding.summary["missing_log_groups"] == ["/aws/lambda/ghost-a",
                                                         "/aws/lambda/ghost-b"]  # fmt: skip
    assert calls["StartQuery"] == 1
    assert calls["DescribeLogGroups"] == 2


def test_the_lookup_pages_past_an_empty_page(moto) -> None:
    """DescribeLogGroups (nextToken) is paged until it lists a name under the prefix."""
    logs = client("logs")
    plan = [Query("recent_errors", "fields @message", (NEVER, ORDERS))]
    with Stubber(logs) as stub:
        stub.add_client_error(
            "start_query", "ResourceNotFoundException", "The specified log group does not exist."
        )
        stub.add_response("describe_log_groups", {"logGroups": []},
                          {"logGroupNamePrefix": NEVER})  # fmt: skip
        stub.add_response("describe_log_groups", {"logGroups": [], "nextToken": "t-2"},
                          {"logGroupNamePrefix": ORDERS})  # fmt: skip
        stub.add_response(
            "describe_log_groups",
            {"logGroups": [{"logGroupName": ORDERS, "storedBytes": 2048,
                            "arn": f"arn:aws:logs:us-east-1:123456789012:log-group:{ORDERS}:*"}]},
            {"logGroupNamePrefix": ORDERS, "nextToken": "t-2"},
        )  # fmt: skip
        stub.add_response("start_query", {"queryId": "q-1"},
                          {"logGroupName": ORDERS, "queryString": "fields @message",
                           "startTime": 0, "endTime": 60, "limit": 1000})  # fmt: skip
        stub.add_response("get_query_results", {"results": [], "status": "Complete"})
        start = utcnow().replace(year=1970, month=1, day=1, hour=0, minute=0, second=0,
                                 microsecond=0)  # fmt: skip
        (run,) = LogsInsights(logs, sleep=lambda _: None).run_many(
            plan, start, start + timedelta(seconds=60), 10
        )
        stub.assert_no_pending_responses()
    assert run.status == "Complete" and run.missing == [NEVER]


@pytest.mark.usefixtures("evaluator")
def test_memory_pressure_reaches_the_verdict() -> None:
    put_lines(
        ORDERS,
        report(RA, 850.25, 512, 470),  # 91.8 %: pressure
        report(RB, 300.5, 128, 80),  # 62.5 %: fine
        report(RC, 400.0, 128, 115),  # 89.8 %: not above 90 %, not returned
    )

    findings = _collect(["orders-api"])

    bound = next(f for f in findings if f.summary.get("query") == "lambda_slow_or_memory_bound")
    (cause,) = bound.causes
    assert cause.code == "lambda.memory_pressure" and cause.domain == "application"
    assert cause.title == "Memory pressure: 1 invocation used more than 90 % of their memory size"
    assert "memory size" in cause.fix.lower() and cause.fix.startswith("Raise")
    assert cause.evidence == [f"{RA}: 470 of 512 MB (92 %)"]
    assert cause.resources == ["orders-api"]
    verdict = decide(findings)
    assert verdict["domain"] == "application"
    assert verdict["headline"].startswith("The application: Memory pressure")
