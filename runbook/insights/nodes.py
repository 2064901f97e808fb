"""The parsed form of a query: expressions and commands.

Every expression keeps its source text: Logs Insights names an unaliased result column by
what was written (`count(*)`, `avg(@duration)`, `bin(5m)`), and later commands may refer to
such a column by writing the same text again (`sort count(*) desc`).
"""

from __future__ import annotations

from dataclasses import dataclass

from runbook.insights.patterns import Pattern

Number = int | float


@dataclass(frozen=True)
class Literal:
    """A string, number or boolean (`true`/`false`) written in the query."""

    value: str | Number | bool
    text: str


@dataclass(frozen=True)
class Field:
    """A reference to a field (system, discovered, parsed or created by fields/stats)."""

    name: str
    text: str


@dataclass(frozen=True)
class Duration:
    """A period such as `5m`, only as an argument of bin()/datefloor()/dateceil()."""

    millis: int
    text: str


@dataclass(frozen=True)
class Call:
    """A scalar function call: tolower(x), bin(5m), coalesce(a, b)..."""

    name: str
    args: tuple[Expr, ...]
    text: str


@dataclass(frozen=True)
class Aggregate:
    """An aggregation function of stats; `star` for count(*) / count()."""

    name: str
    args: tuple[Expr, ...]
    star: bool
    text: str


@dataclass(frozen=True)
class Unary:
    """`-x` or `not x`."""

    op: str
    operand: Expr
    text: str


@dataclass(frozen=True)
class Binary:
    """Arithmetic (+ - * / % ^), comparison (= != < <= > >=) or boolean (and, or)."""

    op: str
    left: Expr
    right: Expr
    text: str


@dataclass(frozen=True)
class Like:
    """`x like /regex/`, `x =~ /regex/`, `x like "substring"`, optionally negated."""

    operand: Expr
    pattern: Pattern | None  # None: substring match
    substring: str
    negated: bool
    text: str


@dataclass(frozen=True)
class In:
    """`x in [a, b, ...]`, optionally negated."""

    operand: Expr
    items: tuple[Expr, ...]
    negated: bool
    text: str


Expr = Literal | Field | Duration | Call | Aggregate | Unary | Binary | Like | In


@dataclass(frozen=True)
class Projection:
    """An expression and the column it fills (its alias, field name or source text)."""

    expr: Expr
    name: str


@dataclass(frozen=True)
class FieldsCommand:
    """`fields a, b * 2 as c`."""

    items: tuple[Projection, ...]


@dataclass(frozen=True)
class DisplayCommand:
    """`display a, b = "x" as c`: exactly these columns in the results."""

    items: tuple[Projection, ...]


@dataclass(frozen=True)
class FilterCommand:
    """`filter <condition>` (also spelled `where`)."""

    condition: Expr


@dataclass(frozen=True)
class ParseCommand:
    """`parse [field] "glob" as a, b` or `parse [field] /regex with (?<named> groups)/`."""

    source: str
    pattern: Pattern


@dataclass(frozen=True)
class StatsCommand:
    """`stats agg [as name], ... [by group [as name], ...]`."""

    aggregates: tuple[Projection, ...]
    groups: tuple[Projection, ...]


@dataclass(frozen=True)
class SortKey:
    """One key of `sort`."""

    expr: Expr
    descending: bool


@dataclass(frozen=True)
class SortCommand:
    """`sort key [asc|desc], ...`."""

    keys: tuple[SortKey, ...]


@dataclass(frozen=True)
class LimitCommand:
    """`limit n`."""

    count: int


Command = (
    FieldsCommand
    | DisplayCommand
    | FilterCommand
    | ParseCommand
    | StatsCommand
    | SortCommand
    | LimitCommand
)


@dataclass(frozen=True)
class Query:
    """A parsed query: its commands in pipeline order."""

    text: str
    commands: tuple[Command, ...]
