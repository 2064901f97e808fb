"""The query parser: what it builds, and the QuerySyntaxError (with position) for what it
refuses, so a malformed query fails before any log is read, as StartQuery does on AWS."""

from __future__ import annotations

import pytest

from runbook.insights import QuerySyntaxError, parse_query
from runbook.insights.lexer import tokenize
from runbook.insights.nodes import (
    Aggregate,
    Binary,
    Call,
    Duration,
    Field,
    FieldsCommand,
    FilterCommand,
    Like,
    LimitCommand,
    ParseCommand,
    SortCommand,
    StatsCommand,
)


def error_of(query: str) -> QuerySyntaxError:
    with pytest.raises(QuerySyntaxError) as caught:
        parse_query(query)
    return caught.value


def test_pipes_inside_regexes_strings_and_comments_do_not_split_commands() -> None:
    query = parse_query(
        'filter @message like /a|b/ and x = "c|d"  # | limit 1\n| fields `odd|name` as y'
    )
    assert len(query.commands) == 2
    condition = query.commands[0]
    assert isinstance(condition, FilterCommand)
    assert isinstance(condition.condition, Binary) and condition.condition.op == "and"
    fields = query.commands[1]
    assert isinstance(fields, FieldsCommand)
    assert fields.items[0].expr == Field("odd|name", "`odd|name`")
    assert fields.items[0].name == "y"


def test_slash_divides_except_where_a_regex_is_expected() -> None:
    kinds = [t.kind for t in tokenize("fields a / 2 | filter b like /x/ | parse c /(?<d>.)/")]
    assert kinds.count("regex") == 2
    assert kinds.count("op") >= 1
    parse = parse_query("parse /(?<d>.)/").commands[0]
    assert isinstance(parse, ParseCommand) and parse.source == "@message"


def test_escaped_slash_in_a_regex() -> None:
    command = parse_query(r"filter path like /^\/orders\/\d+$/").commands[0]
    assert isinstance(command, FilterCommand) and isinstance(command.condition, Like)
    assert command.condition.pattern is not None
    assert command.condition.pattern.regex.search("/orders/42")


def test_commands_and_keywords_are_case_insensitive() -> None:
    query = parse_query('FIELDS @message | FILTER x IN ["a"] AND NOT y LIKE "z" | SORT x DESC')
    assert len(query.commands) == 3
    sort = query.commands[2]
    assert isinstance(sort, SortCommand) and sort.keys[0].descending


def test_unaliased_columns_are_named_by_their_text() -> None:
    stats = parse_query("stats count(*), avg(@duration), pct(@duration, 95) by bin(5m)")
    command = stats.commands[0]
    assert isinstance(command, StatsCommand)
    assert [a.name for a in command.aggregates] == [
        "count(*)",
        "avg(@duration)",
        "pct(@duration, 95)",
    ]
    assert [g.name for g in command.groups] == ["bin(5m)"]
    group = command.groups[0].expr
    assert isinstance(group, Call) and group.args == (Duration(300_000, "5m"),)


def test_periods_in_every_documented_spelling() -> None:
    for text, millis in [
        ("100ms", 100),
        ("2msec", 2),
        ("30s", 30_000),
        ("30sec", 30_000),
        ("1secs", 1_000),
        ("5m", 300_000),
        ("5min", 300_000),
        ("5mins", 300_000),
        ("1h", 3_600_000),
        ("2hr", 7_200_000),
        ("2hrs", 7_200_000),
        ("1d", 86_400_000),
    ]:
        command = parse_query(f"stats count(*) by bin({text})").commands[0]
        assert isinstance(command, StatsCommand)
        group = command.groups[0].expr
        assert isinstance(group, Call) and group.args == (Duration(millis, text),)


def test_count_forms() -> None:
    command = parse_query("stats count(), count(*), count(x)").commands[0]
    assert isinstance(command, StatsCommand)
    stars = [a.expr for a in command.aggregates]
    assert all(isinstance(a, Aggregate) for a in stars)
    assert [a.star for a in stars if isinstance(a, Aggregate)] == [True, True, False]


def test_after_stats_an_aggregate_names_its_column() -> None:
    query = parse_query("stats count(*) by status | sort count(*) desc | filter count(*) > 2")
    assert len(query.commands) == 3


def test_limit() -> None:
    command = parse_query("limit 25").commands[0]
    assert command == LimitCommand(25)


@pytest.mark.parametrize(
    ("query", "position", "fragment"),
    [
        ("", 0, "empty query"),
        ("   # only a comment", 19, "empty query"),
        ("frobnicate x", 0, "unknown command"),
        ("fields a | dedup a", 11, "dedup command is not supported"),
        ("fields", 6, "expected a value"),
        ("fields a b", 9, "expected | or the end"),
        ("fields a,", 9, "expected a value"),
        ("filter x like", 13, "after like"),
        ("filter x like 5", 14, "after like"),
        ("filter x = ", 11, "expected a value"),
        ("filter (x = 1", 13, "expected ')'"),
        ("filter x in [", 13, "expected a value"),
        ('filter x = "open', 11, "unterminated string"),
        ("filter x like /open", 14, "unterminated regular expression"),
        ("filter x like /a/i", 17, "use (?i)"),
        ("fields `open", 7, "unterminated backtick"),
        ("fields ``", 7, "empty field name"),
        ("filter x ! 1", 9, "unexpected character"),
        ("filter x like /(/", 14, "invalid regular expression"),
        ("filter x like /(?U)a/", 14, "unsupported regex flag"),
        ("filter x like /[[:nope:]]/", 14, "unknown character class"),
        ('parse @message "*-*" as a', 15, "2 wildcard(s) but 1 field name(s)"),
        ('parse @message "plain" as a', 15, "0 wildcard(s)"),
        ('parse @message "*"', 18, "expected 'as'"),
        ("parse @message /no groups/", 15, "named capture group"),
        ("parse @message 5", 15, "glob pattern"),
        ("parse @message /(?<a-b>x)/", 15, "invalid capture group name"),
        ("stats", 5, "expected a value"),
        ("stats x", 6, "not an aggregation"),
        ("stats bin(5m)", 6, "needs an aggregation"),
        ("stats count(*) by count(*)", 18, "cannot be used in 'by'"),
        ("stats sum(count(*))", 10, "cannot be nested"),
        ("stats pct(x, 150)", 6, "percentile from 0 to 100"),
        ("stats pct(x, y)", 6, "percentile from 0 to 100"),
        ("stats pct(x, true)", 6, "percentile from 0 to 100"),
        ("stats avg()", 6, "takes 1 argument(s), got 0"),
        ("fields count(*)", 7, "only allowed in stats"),
        ("sort count(*) desc", 5, "only allowed in stats"),
        ("stats count(*) by x | sort avg(y)", 27, "only allowed in stats"),
        ("fields frob(x)", 7, "unknown function frob()"),
        ("fields tolower()", 7, "takes 1 argument(s), got 0"),
        ("fields replace(a, b)", 7, "takes 3 argument(s), got 2"),
        ("fields substr(a)", 7, "takes 2 to 3 argument(s)"),
        ("fields 5m", 7, "only allowed in bin()"),
        ("fields bin(@timestamp)", 7, "period such as 5m as its last argument"),
        ("stats count(*) by bin(5x)", 22, "not a period: 5x"),
        ("stats count(*) by bin(0m)", 22, "not a period: 0m"),
        ("stats count(*) by bin(1w)", 22, "calendar periods"),
        ("stats count(*) by bin(1mo)", 22, "calendar periods"),
        ("fields /x/", 7, "expected a value, found '/'"),
        ("limit 0", 6, "limit must be from 1 to 10000"),
        ("limit 10001", 6, "limit must be from 1 to 10000"),
        ("limit ten", 6, "whole number"),
        ("limit 2.5", 6, "whole number"),
        ("fields and", 7, "unexpected keyword"),
        ("display", 7, "expected a value"),
        ("sort", 4, "expected a value"),
        ("| fields a", 0, "expected a command"),
        ('"fields" a', 0, "expected a command"),
    ],
)
def test_syntax_errors_say_what_and_where(query: str, position: int, fragment: str) -> None:
    error = error_of(query)
    assert fragment in error.message
    assert error.position == position
    assert isinstance(error, ValueError)


def test_error_position_as_line_and_column_in_a_multi_line_query() -> None:
    # `==` needs a right-hand side: the error points at the `|` that starts line 3.
    error = error_of("fields @message\n| filter x ==\n| limit 5")
    assert (error.position, error.line, error.column) == (30, 3, 1)
    assert "line 3, column 1" in str(error)


def test_global_flags_anywhere_in_a_regex_apply_to_all_of_it() -> None:
    # The documented `/^(?i)Exception$/`: Python would refuse (?i) after ^; RE2 accepts it.
    command = parse_query(r"filter f1 =~ /^(?i)Exception$/").commands[0]
    assert isinstance(command, FilterCommand) and isinstance(command.condition, Like)
    pattern = command.condition.pattern
    assert pattern is not None
    assert pattern.regex.search("EXCEPTION")
    assert not pattern.regex.search("an exception")


def test_named_groups_may_use_at_signs_and_dots() -> None:
    command = parse_query(r"parse @message /id=(?<@transId>\w+) (?<a.b>\d+)/").commands[0]
    assert isinstance(command, ParseCommand)
    assert [name for _, name in command.pattern.fields] == ["@transId", "a.b"]
