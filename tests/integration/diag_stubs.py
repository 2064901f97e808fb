"""botocore Stubber helpers for the diagnostics tests: responses shaped as AWS documents them,
for the APIs moto lacks (Health, Performance Insights) or whose semantics it lacks (Logs
Insights queries, X-Ray filter expressions and service graph)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from botocore.stub import Stubber

from shared import aws

ACCOUNT = "123456789012"
REGION = "us-east-1"
LAMBDA_QUERIES = ("error_counts", "recent_errors", "error_spikes", "lambda_slow_or_memory_bound")


def cells(row: dict[str, str]) -> list[dict[str, str]]:
    """A GetQueryResults row: [{field, value}, ...] with the internal @ptr AWS adds."""
    return [{"field": k, "value": v} for k, v in row.items()] + [
        {"field": "@ptr", "value": "CmAKJwojMTIzNDU2Nzg5MDEyOi9hd3MvbGFtYmRh"}
    ]


def client(service: str, region: str = REGION) -> Any:
    """The very client the handler gets from the session factory."""
    return aws.client(service, account=ACCOUNT, region=region)


@contextmanager
def stubbed(service: str, region: str = REGION) -> Iterator[Stubber]:
    with Stubber(client(service, region)) as stubber:
        yield stubber


def insights(
    stubber: Stubber,
    names: Sequence[str],
    rows: dict[str, list[dict[str, str]]] | None = None,
    running_rounds: int = 0,
    params: dict[str, dict[str, Any]] | None = None,
) -> None:
    """StartQuery for each named query (in plan order; `params` checks a query's request),
    then `running_rounds` polls that answer Running, then one that answers Complete."""
    rows = rows or {}
    for name in names:
        stubber.add_response("start_query", {"queryId": f"q-{name}"}, (params or {}).get(name))
    for status in ["Running"] * running_rounds + ["Complete"]:
        for name in names:
            results = [cells(r) for r in rows.get(name, [])] if status == "Complete" else []
            stubber.add_response(
                "get_query_results",
                {
                    "results": results,
                    "statistics": {"recordsMatched": float(len(results)), "recordsScanned": 10.0},
                    "status": status,
                },
                {"queryId": f"q-{name}"},
            )


def health_without_support_plan(stubber: Stubber) -> None:
    stubber.add_client_error(
        "describe_events",
        service_error_code="SubscriptionRequiredException",
        service_message="The AWS Health API is available with Business support and above.",
        http_status_code=400,
    )


def quiet_xray(stubber: Stubber) -> None:
    stubber.add_response("get_trace_summaries", {"TraceSummaries": [], "TracesProcessedCount": 0})
    stubber.add_response("get_service_graph", {"Services": []})


def count_calls(client: Any) -> Counter[str]:
    """Operation name -> how many requests this client sent (after this call)."""
    calls: Counter[str] = Counter()

    def record(model: Any, **_: Any) -> None:
        calls[model.name] += 1

    client.meta.events.register("before-call", record)
    return calls
