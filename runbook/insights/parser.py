"""Parse a query into commands, rejecting what the evaluator does not support.

Checks that need no data happen here, so a bad query fails before any log is read (as
StartQuery fails with MalformedQueryException): aggregations only in stats (or, after stats,
naming one of its columns), periods only in bin()/datefloor()/dateceil(), known functions
with the right number of arguments, and a field name for every `*` of a parse glob.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal as TypingLiteral

from runbook.insights.errors import QuerySyntaxError
from runbook.insights.functions import AGGREGATES, SCALARS, TIME_FUNCTIONS, Signature
from runbook.insights.lexer import Token, tokenize
from runbook.insights.nodes import (
    Aggregate,
    Binary,
    Call,
    Command,
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
    Projection,
    Query,
    SortCommand,
    SortKey,
    StatsCommand,
    Unary,
)
from runbook.insights.patterns import compile_glob, compile_regex

MAX_LIMIT = 10_000
RESERVED = frozenset({"as", "by", "and", "or", "not", "like", "in", "asc", "desc"})
UNSUPPORTED_COMMANDS = frozenset(
    {
        "dedup",
        "unnest",
        "lookup",
        "join",
        "pattern",
        "diff",
        "anomaly",
        "unmask",
        "filterindex",
        "source",
        "head",
        "tail",
        "addtotals",
    }
)
_SECOND = 1000
_UNITS = {
    "ms": 1,
    "msec": 1,
    "millisecond": 1,
    "s": _SECOND,
    "sec": _SECOND,
    "second": _SECOND,
    "m": 60 * _SECOND,
    "min": 60 * _SECOND,
    "minute": 60 * _SECOND,
    "h": 3600 * _SECOND,
    "hr": 3600 * _SECOND,
    "hour": 3600 * _SECOND,
    "d": 86400 * _SECOND,
    "day": 86400 * _SECOND,
}
_CALENDAR_UNITS = frozenset(
    {"w", "week", "mo", "mon", "month", "q", "qtr", "quarter", "y", "yr", "year"}
)
Context = TypingLiteral["scalar", "stats", "by"]


def parse_query(query: str) -> Query:
    """The commands of `query`; QuerySyntaxError (with the position) if it is not accepted."""
    return _Parser(query).parse()


def period_millis(unit: str) -> int | None:
    """Milliseconds in one `unit` (`m`, `mins`, `hr`...), None for an unknown unit."""
    unit = unit.lower()
    if unit in _UNITS:
        return _UNITS[unit]
    # Units longer than one letter may take a plural s: mins, hrs, secs, days.
    if len(unit) > 2 and unit.endswith("s") and unit[:-1] in _UNITS:
        return _UNITS[unit[:-1]]
    return None


class _Parser:
    def __init__(self, query: str) -> None:
        self.query = query
        self.tokens = tokenize(query)
        self.index = 0
        self.context: Context = "scalar"
        self.aggregate_depth = 0
        self.stats_columns: frozenset[str] | None = None
        self.stats_names: list[str] = []
        self.saw_aggregate = False
        self.saw_alias = False

    # --- tokens --------------------------------------------------------------------------

    @property
    def tok(self) -> Token:
        return self.tokens[self.index]

    def peek(self, ahead: int = 1) -> Token:
        return self.tokens[min(self.index + ahead, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        if token.kind != "eof":
            self.index += 1
        return token

    def error(self, message: str, token: Token | None = None) -> QuerySyntaxError:
        token = token or self.tok
        return QuerySyntaxError(message, token.start, self.query)

    def describe(self, token: Token) -> str:
        if token.kind == "eof":
            return "the end of the query"
        if token.kind == "pipe":
            return "|"
        return repr(self.query[token.start : token.end])

    def expect_op(self, op: str) -> Token:
        if not self.tok.is_op(op):
            raise self.error(f"expected {op!r}, found {self.describe(self.tok)}")
        return self.advance()

    def expect_name(self, what: str) -> Token:
        token = self.tok
        if token.kind != "name" or (not token.quoted and token.text.lower() in RESERVED):
            raise self.error(f"expected {what}, found {self.describe(token)}")
        return self.advance()

    def text_from(self, start: int) -> str:
        return self.query[start : self.tokens[self.index - 1].end]

    # --- commands ------------------------------------------------------------------------

    def parse(self) -> Query:
        if self.tok.kind == "eof":
            raise self.error("empty query")
        commands: list[Command] = []
        while True:
            commands.append(self.command())
            if self.tok.kind == "eof":
                return Query(self.query, tuple(commands))
            if self.tok.kind != "pipe":
                raise self.error(
                    f"expected | or the end of the query, found {self.describe(self.tok)}"
                )
            self.advance()

    def command(self) -> Command:
        token = self.tok
        if token.kind != "name" or token.quoted:
            raise self.error(f"expected a command, found {self.describe(token)}")
        word = token.text.lower()
        if word in UNSUPPORTED_COMMANDS:
            raise self.error(f"the {word} command is not supported by the offline evaluator")
        handlers: dict[str, Callable[[], Command]] = {
            "fields": self.fields_command,
            "display": self.display_command,
            "filter": self.filter_command,
            "where": self.filter_command,
            "parse": self.parse_command,
            "stats": self.stats_command,
            "sort": self.sort_command,
            "limit": self.limit_command,
        }
        handler = handlers.get(word)
        if handler is None:
            raise self.error(f"unknown command {token.text!r}")
        self.advance()
        return handler()

    def fields_command(self) -> FieldsCommand:
        return FieldsCommand(tuple(self.projections()))

    def display_command(self) -> DisplayCommand:
        return DisplayCommand(tuple(self.projections()))

    def filter_command(self) -> FilterCommand:
        return FilterCommand(self.expression())

    def parse_command(self) -> ParseCommand:
        source = "@message"
        if self.tok.kind == "name" and (self.tok.quoted or self.tok.text.lower() not in RESERVED):
            source = self.advance().text
        token = self.tok
        if token.kind == "string":
            self.advance()
            if not self.tok.is_word("as"):
                raise self.error("expected 'as' and field names after the parse pattern")
            self.advance()
            names = [self.expect_name("a field name").text]
            while self.tok.is_op(","):
                self.advance()
                names.append(self.expect_name("a field name").text)
            return ParseCommand(source, compile_glob(token.text, names, token.start, self.query))
        if token.kind == "regex":
            self.advance()
            pattern = compile_regex(token.text, token.start, self.query)
            if not pattern.fields:
                raise self.error(
                    "a parse regular expression needs a named capture group (?<name>...)", token
                )
            return ParseCommand(source, pattern)
        raise self.error(
            f'expected "glob pattern" or /regex/ after parse, found {self.describe(token)}'
        )

    def stats_command(self) -> StatsCommand:
        self.context = "stats"
        self.stats_names = []
        aggregates: list[Projection] = []
        while True:
            start = self.tok
            self.saw_aggregate = self.saw_alias = False
            item = self.projection()
            if not (self.saw_aggregate or self.saw_alias):
                raise self.error(
                    "each stats item needs an aggregation function such as count(*)", start
                )
            aggregates.append(item)
            self.stats_names.append(item.name)
            if not self.tok.is_op(","):
                break
            self.advance()
        groups: list[Projection] = []
        if self.tok.is_word("by"):
            self.advance()
            self.context = "by"
            groups = self.projections()
        self.context = "scalar"
        self.stats_columns = frozenset(p.name for p in groups + aggregates)
        return StatsCommand(tuple(aggregates), tuple(groups))

    def sort_command(self) -> SortCommand:
        if self.tok.is_word("by"):
            self.advance()
        keys = []
        while True:
            expr = self.expression()
            descending = False
            if self.tok.is_word("desc", "asc"):
                descending = self.advance().text.lower() == "desc"
            keys.append(SortKey(expr, descending))
            if not self.tok.is_op(","):
                return SortCommand(tuple(keys))
            self.advance()

    def limit_command(self) -> LimitCommand:
        token = self.tok
        if token.kind != "number" or not token.text.isdigit():
            raise self.error(f"expected a whole number after limit, found {self.describe(token)}")
        count = int(token.text)
        if not 1 <= count <= MAX_LIMIT:
            raise self.error(f"limit must be from 1 to {MAX_LIMIT}")
        self.advance()
        return LimitCommand(count)

    def projections(self) -> list[Projection]:
        items = [self.projection()]
        while self.tok.is_op(","):
            self.advance()
            items.append(self.projection())
        return items

    def projection(self) -> Projection:
        expr = self.expression()
        if self.tok.is_word("as"):
            self.advance()
            return Projection(expr, self.expect_name("an alias").text)
        return Projection(expr, expr.name if isinstance(expr, Field) else expr.text)

    # --- expressions ---------------------------------------------------------------------

    def expression(self) -> Expr:
        return self.or_expression()

    def or_expression(self) -> Expr:
        start = self.tok.start
        left = self.and_expression()
        while self.tok.is_word("or"):
            self.advance()
            left = Binary("or", left, self.and_expression(), self.text_from(start))
        return left

    def and_expression(self) -> Expr:
        start = self.tok.start
        left = self.not_expression()
        while self.tok.is_word("and"):
            self.advance()
            left = Binary("and", left, self.not_expression(), self.text_from(start))
        return left

    def not_expression(self) -> Expr:
        if self.tok.is_word("not"):
            start = self.advance().start
            operand = self.not_expression()
            return Unary("not", operand, self.text_from(start))
        return self.comparison()

    def comparison(self) -> Expr:
        start = self.tok.start
        left = self.additive()
        if self.tok.is_op("=", "==", "!=", "<", "<=", ">", ">="):
            op = self.advance().text
            right = self.additive()
            return Binary("=" if op == "==" else op, left, right, self.text_from(start))
        negated = self.tok.is_word("not") and (
            self.peek().is_word("like", "in") or self.peek().is_op("=~")
        )
        if negated:
            self.advance()
        if self.tok.is_word("like") or self.tok.is_op("=~"):
            self.advance()
            return self.like(left, negated, start)
        if self.tok.is_word("in"):
            self.advance()
            items = self.list_items()
            return In(left, items, negated, self.text_from(start))
        return left

    def like(self, operand: Expr, negated: bool, start: int) -> Like:
        token = self.tok
        if token.kind == "regex":
            self.advance()
            pattern = compile_regex(token.text, token.start, self.query)
            return Like(operand, pattern, "", negated, self.text_from(start))
        if token.kind == "string":
            self.advance()
            return Like(operand, None, token.text, negated, self.text_from(start))
        raise self.error(f'expected /regex/ or "string" after like, found {self.describe(token)}')

    def list_items(self) -> tuple[Expr, ...]:
        self.expect_op("[")
        items = [self.additive()]
        while self.tok.is_op(","):
            self.advance()
            items.append(self.additive())
        self.expect_op("]")
        return tuple(items)

    def additive(self) -> Expr:
        start = self.tok.start
        left = self.multiplicative()
        while self.tok.is_op("+", "-"):
            op = self.advance().text
            left = Binary(op, left, self.multiplicative(), self.text_from(start))
        return left

    def multiplicative(self) -> Expr:
        start = self.tok.start
        left = self.unary()
        while self.tok.is_op("*", "/", "%"):
            op = self.advance().text
            left = Binary(op, left, self.unary(), self.text_from(start))
        return left

    def unary(self) -> Expr:
        if self.tok.is_op("-"):
            start = self.advance().start
            operand = self.unary()
            return Unary("-", operand, self.text_from(start))
        return self.power()

    def power(self) -> Expr:
        start = self.tok.start
        base = self.primary()
        if self.tok.is_op("^"):
            self.advance()
            return Binary("^", base, self.unary(), self.text_from(start))
        return base

    def primary(self) -> Expr:
        token = self.tok
        if token.kind == "number":
            self.advance()
            text = token.text
            value: int | float = int(text) if text.isdigit() else float(text)
            return Literal(value, text)
        if token.kind == "string":
            self.advance()
            return Literal(token.text, self.query[token.start : token.end])
        if token.is_op("("):
            self.advance()
            inner = self.expression()
            self.expect_op(")")
            return inner
        if token.kind == "name":
            if not token.quoted and self.peek().is_op("("):
                return self.call()
            if not token.quoted and token.text in ("true", "false"):
                self.advance()
                return Literal(token.text == "true", token.text)
            if not token.quoted and token.text.lower() in RESERVED:
                raise self.error(f"unexpected keyword {token.text!r}")
            self.advance()
            return self.field(token)
        if token.kind == "duration":
            raise self.error(
                "a period such as 5m is only allowed in bin(), datefloor(), dateceil()"
            )
        if token.kind == "regex":
            raise self.error("a /regex/ is only allowed after like, =~ or parse")
        raise self.error(f"expected a value, found {self.describe(token)}")

    def field(self, token: Token) -> Field:
        text = self.query[token.start : token.end]
        if self.context == "stats" and self.aggregate_depth == 0:
            if token.text not in self.stats_names:
                raise self.error(
                    f"{token.text} is not an aggregation: use it inside one, or in 'by'", token
                )
            self.saw_alias = True
        return Field(token.text, text)

    def call(self) -> Expr:
        token = self.advance()
        name = token.text.lower()
        self.expect_op("(")
        if name in AGGREGATES:
            return self.aggregate(token, name)
        if name in TIME_FUNCTIONS:
            args = self.arguments(allow_period=True)
            self.check_arity(token, TIME_FUNCTIONS[name], args)
            periods = [isinstance(a, Duration) for a in args]
            if periods != [False] * (len(args) - 1) + [True]:
                raise self.error(f"{name}() takes a period such as 5m as its last argument", token)
        elif name in SCALARS:
            args = self.arguments(allow_period=False)
            self.check_arity(token, SCALARS[name][0], args)
        else:
            raise self.error(f"unknown function {token.text}()", token)
        self.expect_op(")")
        return Call(name, tuple(args), self.text_from(token.start))

    def aggregate(self, token: Token, name: str) -> Aggregate:
        if self.context == "by":
            raise self.error(f"{name}() cannot be used in 'by'", token)
        if self.aggregate_depth:
            raise self.error("aggregation functions cannot be nested", token)
        self.aggregate_depth += 1
        star = False
        args: list[Expr] = []
        if name == "count" and self.tok.is_op("*") and self.peek().is_op(")"):
            self.advance()
            star = True
        elif name == "count" and self.tok.is_op(")"):
            star = True
        else:
            args = self.arguments(allow_period=False)
            self.check_arity(token, AGGREGATES[name], args)
        self.aggregate_depth -= 1
        self.expect_op(")")
        if name in ("pct", "percentile"):
            percent = args[1]
            value = percent.value if isinstance(percent, Literal) else None
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not 0 <= value <= 100
            ):
                raise self.error(f"{name}() takes a percentile from 0 to 100", token)
        node = Aggregate(name, tuple(args), star, self.text_from(token.start))
        if self.context == "stats":
            self.saw_aggregate = True
        elif self.stats_columns is None or node.text not in self.stats_columns:
            raise self.error(
                f"{name}() is only allowed in stats (or, after stats, to name one of its columns)",
                token,
            )
        return node

    def arguments(self, allow_period: bool) -> list[Expr]:
        if self.tok.is_op(")"):
            return []
        args = [self.argument(allow_period)]
        while self.tok.is_op(","):
            self.advance()
            args.append(self.argument(allow_period))
        return args

    def argument(self, allow_period: bool) -> Expr:
        token = self.tok
        if allow_period and token.kind == "duration":
            self.advance()
            digits = "".join(c for c in token.text if c.isdigit())
            unit = token.text[len(digits) :]
            if unit.lower() in _CALENDAR_UNITS:
                raise self.error(f"calendar periods ({unit}) are not supported offline", token)
            millis = period_millis(unit)
            if millis is None or int(digits) == 0:
                raise self.error(f"not a period: {token.text}", token)
            return Duration(int(digits) * millis, token.text)
        return self.expression()

    def check_arity(self, token: Token, signature: Signature, args: list[Expr]) -> None:
        count = len(args)
        if count < signature.least or (signature.most is not None and count > signature.most):
            most = "more" if signature.most is None else str(signature.most)
            expected = (
                str(signature.least)
                if signature.least == signature.most
                else f"{signature.least} to {most}"
            )
            raise self.error(f"{token.text}() takes {expected} argument(s), got {count}", token)
