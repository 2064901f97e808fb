"""An offline evaluator for the part of the CloudWatch Logs Insights query language that the
runbook's queries use (see docs/logs-insights.md): moto's Logs Insights only understands
fields/sort/limit, so without this the shipped queries would go untested and the local
emulator would find nothing in logs.

    rows = evaluate('filter @type = "REPORT" | stats max(@duration) by bin(5m)', events, group)
"""

from runbook.insights.errors import QuerySyntaxError
from runbook.insights.evaluator import Execution, evaluate, execute
from runbook.insights.fields import DEFAULT_ACCOUNT, LogEvent, discover
from runbook.insights.parser import parse_query
from runbook.insights.runner import FetchEvents, QueryOutcome, run_query, to_query_results

__all__ = [
    "DEFAULT_ACCOUNT",
    "Execution",
    "FetchEvents",
    "LogEvent",
    "QueryOutcome",
    "QuerySyntaxError",
    "discover",
    "evaluate",
    "execute",
    "parse_query",
    "run_query",
    "to_query_results",
]
