"""The one error the evaluator raises for a query it cannot run, with where it went wrong.

Real Logs Insights answers a malformed query with MalformedQueryException at StartQuery; the
emulator maps QuerySyntaxError to that, so callers see the same failure offline as on AWS.
"""

from __future__ import annotations


class QuerySyntaxError(ValueError):
    """A query the evaluator does not accept: malformed, or outside the supported subset.

    `position` is the 0-based character offset in the query; `line` and `column` (1-based)
    locate it for people reading a multi-line query.
    """

    def __init__(self, message: str, position: int, query: str = "") -> None:
        self.message = message
        self.position = position
        before = query[:position]
        self.line = before.count("\n") + 1
        self.column = position - (before.rfind("\n") + 1) + 1
        super().__init__(
            f"{message} (at position {position}, line {self.line}, column {self.column})"
        )
