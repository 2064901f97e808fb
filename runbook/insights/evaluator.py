"""Run a parsed query over log events, command by command, as Logs Insights does.

Before stats, each record is one event's fields; `stats` turns the records into one row per
group, and later commands (filter, sort, fields, display, limit) work on those rows. Events
enter newest first, which is the order Logs Insights returns unsorted results in. Which
columns the results show: the fields named by `fields` and `parse` (after @timestamp and
@message when there is no `fields`), the columns of the last `stats`, or exactly what
`display` names. A missing value leaves its cell out, as GetQueryResults does.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cmp_to_key

from runbook.insights.fields import DEFAULT_ACCOUNT, LogEvent, discover
from runbook.insights.functions import SCALARS, aggregate
from runbook.insights.nodes import (
    Aggregate,
    Binary,
    Call,
    DisplayCommand,
    Duration,
    Expr,
    Field,
    FieldsCommand,
    FilterCommand,
    In,
    Like,
    LimitCommand,
    Literal,
    ParseCommand,
    Query,
    SortCommand,
    SortKey,
    StatsCommand,
    Unary,
)
from runbook.insights.parser import MAX_LIMIT, parse_query
from runbook.insights.values import (
    Timestamp,
    Value,
    compare,
    compare_for_sort,
    format_value,
    group_key,
    to_number,
    truthy,
)

Record = dict[str, Value]
DEFAULT_COLUMNS = ("@timestamp", "@message")


@dataclass(frozen=True)
class Execution:
    """Result rows (field -> string) and the statistics GetQueryResults reports."""

    rows: list[dict[str, str]]
    records_scanned: int
    records_matched: int
    bytes_scanned: int


def evaluate(
    query: str | Query,
    events: Iterable[LogEvent],
    log_group: str,
    *,
    account_id: str = DEFAULT_ACCOUNT,
    limit: int | None = None,
) -> list[dict[str, str]]:
    """The rows GetQueryResults would give for `query` over `events` of one log group."""
    tagged = [(log_group, event) for event in events]
    return execute(query, tagged, account_id=account_id, limit=limit).rows


def execute(
    query: str | Query,
    events: Iterable[tuple[str, LogEvent]],
    *,
    account_id: str = DEFAULT_ACCOUNT,
    limit: int | None = None,
) -> Execution:
    """Run `query` over (log group, event) pairs from any number of groups."""
    parsed = parse_query(query) if isinstance(query, str) else query
    ordered = sorted(events, key=lambda pair: -pair[1].timestamp)
    records = [discover(event, group, account_id) for group, event in ordered]
    scanned = len(records)
    scanned_bytes = sum(len(event.message.encode()) for _, event in ordered)
    run = _Run(records)
    for command in parsed.commands:
        run.apply(command)
    cap = min(limit or MAX_LIMIT, MAX_LIMIT)
    rows = [_row(record, run.result_columns()) for record in run.records[:cap]]
    matched = run.matched if run.matched is not None else len(run.records)
    return Execution(rows, scanned, matched, scanned_bytes)


def _row(record: Record, columns: Sequence[str]) -> dict[str, str]:
    row: dict[str, str] = {}
    for column in columns:
        text = format_value(record.get(column))
        if text is not None:
            row[column] = text
    return row


class _Run:
    """The state of one query run: the records and the columns they will show."""

    def __init__(self, records: list[Record]) -> None:
        self.records = records
        self.columns: list[str] = []
        self.defaults = True  # no fields/stats/display yet: show @timestamp, @message
        self.matched: int | None = None  # events that reached the first stats or limit

    def result_columns(self) -> list[str]:
        if self.defaults:
            return [c for c in DEFAULT_COLUMNS if c not in self.columns] + self.columns
        return self.columns

    def add_columns(self, names: Iterable[str]) -> None:
        for name in names:
            if name not in self.columns:
                self.columns.append(name)

    def apply(self, command: object) -> None:
        if isinstance(command, FieldsCommand):
            for record in self.records:
                for item in command.items:
                    record[item.name] = evaluate_expr(item.expr, record)
            self.defaults = False
            self.add_columns(item.name for item in command.items)
        elif isinstance(command, FilterCommand):
            self.records = [r for r in self.records if truthy(evaluate_expr(command.condition, r))]
        elif isinstance(command, ParseCommand):
            self._parse(command)
        elif isinstance(command, StatsCommand):
            self._stats(command)
        elif isinstance(command, SortCommand):
            self._sort(command.keys)
        elif isinstance(command, LimitCommand):
            if self.matched is None:
                self.matched = len(self.records)  # matched, even if not all returned
            self.records = self.records[: command.count]
        elif isinstance(command, DisplayCommand):
            for record in self.records:
                for item in command.items:
                    if not (isinstance(item.expr, Field) and item.expr.name == item.name):
                        record[item.name] = evaluate_expr(item.expr, record)
            self.defaults = False
            self.columns = [item.name for item in command.items]
        else:  # pragma: no cover - the parser builds no other command
            raise TypeError(f"unknown command {command!r}")

    def _parse(self, command: ParseCommand) -> None:
        pattern = command.pattern
        for record in self.records:
            text = format_value(record.get(command.source))
            if text is None:
                continue
            found = pattern.regex.search(text)
            if not found:
                continue  # the event stays, without the extracted fields
            for group, name in pattern.fields:
                value = found.group(group)
                if value is not None:
                    record[name] = value
        self.add_columns(name for _, name in pattern.fields)

    def _stats(self, command: StatsCommand) -> None:
        if self.matched is None:
            self.matched = len(self.records)
        groups: dict[tuple[Value, ...], tuple[list[Value], list[Record]]] = {}
        for record in self.records:
            shown = [evaluate_expr(g.expr, record) for g in command.groups]
            key = tuple(group_key(v) for v in shown)
            groups.setdefault(key, (shown, []))[1].append(record)
        rows: list[Record] = []
        for shown, members in groups.values():
            row: Record = {g.name: value for g, value in zip(command.groups, shown, strict=True)}
            for item in command.aggregates:
                row[item.name] = _evaluate_stats_expr(item.expr, members, row)
            rows.append(row)
        self.records = rows
        self.defaults = False
        self.columns = []
        self.add_columns(g.name for g in command.groups)
        self.add_columns(a.name for a in command.aggregates)

    def _sort(self, keys: Sequence[SortKey]) -> None:
        # Stable sorts from the last key to the first give a multi-key sort; missing values
        # go last whichever the direction.
        records = self.records
        for key in reversed(keys):
            pairs = [(evaluate_expr(key.expr, r), r) for r in records]
            present = [pair for pair in pairs if pair[0] is not None]
            present.sort(key=_by_value, reverse=key.descending)
            records = [r for _, r in present] + [r for value, r in pairs if value is None]
        self.records = records


def _compare_pairs(a: tuple[Value, Record], b: tuple[Value, Record]) -> int:
    return compare_for_sort(a[0], b[0])


_by_value = cmp_to_key(_compare_pairs)


def evaluate_expr(expr: Expr, record: Record) -> Value:
    """The value of a scalar expression for one record (None when missing)."""
    if isinstance(expr, Field):
        return record.get(expr.name)
    if isinstance(expr, Literal):
        return expr.value
    if isinstance(expr, Aggregate | Call) and expr.text in record:
        return record[expr.text]  # a column named by what was written: `sort count(*) desc`
    if isinstance(expr, Binary):
        return _binary(expr, record)
    if isinstance(expr, Unary):
        if expr.op == "not":
            return not truthy(evaluate_expr(expr.operand, record))
        number = to_number(evaluate_expr(expr.operand, record))
        return None if number is None else -number
    if isinstance(expr, Like):
        return _like(expr, evaluate_expr(expr.operand, record))
    if isinstance(expr, In):
        value = evaluate_expr(expr.operand, record)
        if value is None:
            return False
        found = any(compare("=", value, evaluate_expr(item, record)) for item in expr.items)
        return found != expr.negated
    if isinstance(expr, Call):
        return _call(expr, record)
    return None  # an Aggregate outside stats that names no column, a bare Duration


def _binary(expr: Binary, record: Record) -> Value:
    if expr.op == "and":
        return truthy(evaluate_expr(expr.left, record)) and truthy(
            evaluate_expr(expr.right, record)
        )
    if expr.op == "or":
        return truthy(evaluate_expr(expr.left, record)) or truthy(evaluate_expr(expr.right, record))
    left, right = evaluate_expr(expr.left, record), evaluate_expr(expr.right, record)
    return _operate(expr.op, left, right)


def _operate(op: str, left: Value, right: Value) -> Value:
    if op in ("=", "!=", "<", "<=", ">", ">="):
        return compare(op, left, right)
    a, b = to_number(left), to_number(right)
    if a is None or b is None:
        return None
    try:
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "/":
            return a / b
        if op == "%":
            return a % b
        if op == "^":
            result = a**b
            return result if isinstance(result, int | float) else None
    except (ZeroDivisionError, OverflowError):
        return None
    raise ValueError(f"unknown operator {op}")


def _like(expr: Like, value: Value) -> Value:
    text = format_value(value)
    if text is None:
        return False  # a filter on a missing field is false, negated or not
    if expr.pattern is None:
        found = expr.substring in text
    else:
        found = expr.pattern.regex.search(text) is not None
    return found != expr.negated


def _call(expr: Call, record: Record) -> Value:
    if expr.name == "bin":
        period = expr.args[0]
        assert isinstance(period, Duration)
        return _floor_time(record.get("@timestamp"), period.millis)
    if expr.name in ("datefloor", "dateceil"):
        period = expr.args[1]
        assert isinstance(period, Duration)
        moment = evaluate_expr(expr.args[0], record)
        floor = _floor_time(moment, period.millis)
        if expr.name == "datefloor" or floor is None or floor == to_number(moment):
            return floor
        return Timestamp(floor + period.millis)
    _, implementation = SCALARS[expr.name]
    return implementation([evaluate_expr(arg, record) for arg in expr.args])


def _floor_time(moment: Value, millis: int) -> Timestamp | None:
    number = to_number(moment)
    if number is None:
        return None
    return Timestamp(int(number) // millis * millis)


def _evaluate_stats_expr(expr: Expr, members: list[Record], row: Record) -> Value:
    """A stats item: aggregations over the group's records, combined by scalar operations;
    a bare field names an earlier item of the same stats."""
    if isinstance(expr, Aggregate):
        if expr.star:
            return len(members)
        values = [evaluate_expr(expr.args[0], member) for member in members]
        percent = 0.0
        if expr.name in ("pct", "percentile"):
            literal = expr.args[1]
            assert isinstance(literal, Literal)
            percent = float(to_number(literal.value) or 0)
        return aggregate(expr.name, values, percent)
    if isinstance(expr, Field):
        return row.get(expr.name)
    if isinstance(expr, Literal):
        return expr.value
    if isinstance(expr, Binary):
        if expr.op in ("and", "or"):
            left = truthy(_evaluate_stats_expr(expr.left, members, row))
            right = truthy(_evaluate_stats_expr(expr.right, members, row))
            return (left and right) if expr.op == "and" else (left or right)
        return _operate(
            expr.op,
            _evaluate_stats_expr(expr.left, members, row),
            _evaluate_stats_expr(expr.right, members, row),
        )
    if isinstance(expr, Unary):
        value = _evaluate_stats_expr(expr.operand, members, row)
        if expr.op == "not":
            return not truthy(value)
        number = to_number(value)
        return None if number is None else -number
    if isinstance(expr, Call) and expr.name in SCALARS:
        _, implementation = SCALARS[expr.name]
        return implementation([_evaluate_stats_expr(a, members, row) for a in expr.args])
    return None
