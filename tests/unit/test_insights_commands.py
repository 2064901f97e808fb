"""The evaluator, command by command and operator by operator, on small hand-made events."""

from __future__ import annotations

import json
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from runbook.insights import LogEvent, evaluate

GROUP = "/app/orders"
T0 = 1_714_564_800_000  # 2024-05-01 12:00:00.000 UTC


def events(*messages: str | dict[str, object], step_ms: int = 1000) -> list[LogEvent]:
    """One event per message, a second apart from 12:00:00; dicts become JSON lines."""
    return [
        LogEvent(T0 + i * step_ms, m if isinstance(m, str) else json.dumps(m), "stream-1")
        for i, m in enumerate(messages)
    ]


def run(query: str, *messages: str | dict[str, object]) -> list[dict[str, str]]:
    return evaluate(query, events(*messages), GROUP)


def column(query: str, name: str, *messages: str | dict[str, object]) -> list[str | None]:
    return [row.get(name) for row in run(query, *messages)]


# --- default columns, fields, display --------------------------------------------------------


def test_without_fields_results_show_timestamp_and_message_newest_first() -> None:
    assert run("filter @message like /b/", "a", "b1", "b2") == [
        {"@timestamp": "2024-05-01 12:00:02.000", "@message": "b2"},
        {"@timestamp": "2024-05-01 12:00:01.000", "@message": "b1"},
    ]


def test_fields_choose_the_columns_and_name_expressions() -> None:
    rows = run("fields a, a * 2, a + b as total", {"a": 3, "b": 4}, {"a": 1})
    assert rows == [
        {"a": "1", "a * 2": "2"},
        {"a": "3", "a * 2": "6", "total": "7"},
    ]


def test_fields_may_use_aliases_made_earlier_in_the_query() -> None:
    query = "fields a / 1000 as seconds | fields seconds * 2 as doubled, seconds"
    assert run(query, {"a": 1500}) == [{"seconds": "1.5", "doubled": "3"}]


def test_later_commands_still_see_fields_not_listed() -> None:
    assert run("fields a | filter b = 2", {"a": 1, "b": 1}, {"a": 9, "b": 2}) == [{"a": "9"}]


def test_backticked_field_names() -> None:
    rows = run("fields `detail-type` as kind", {"detail-type": "ECS Task State Change"})
    assert rows == [{"kind": "ECS Task State Change"}]


def test_display_shows_exactly_its_fields() -> None:
    query = "fields a, b | display b, @message"
    assert run(query, {"a": 1, "b": 2}) == [{"b": "2", "@message": '{"a": 1, "b": 2}'}]


def test_display_with_an_expression_as_in_the_parse_documentation() -> None:
    query = (
        'FIELDS @message | PARSE @message "* [*] *" as loggingTime, loggingType, loggingMessage'
        ' | FILTER loggingType IN ["ERROR", "INFO"]'
        ' | DISPLAY loggingMessage, loggingType = "ERROR" as isError'
    )
    lines = ["12:00 [ERROR] disk full", "12:01 [DEBUG] tick", "12:02 [INFO] started"]
    assert run(query, *lines) == [
        {"loggingMessage": "started", "isError": "false"},
        {"loggingMessage": "disk full", "isError": "true"},
    ]


def test_missing_values_leave_their_cells_out() -> None:
    assert run("fields a, b", {"a": 1}, {"b": 2}) == [{"b": "2"}, {"a": "1"}]


# --- filter ----------------------------------------------------------------------------------


def test_like_regex_is_a_search_and_case_sensitive() -> None:
    assert column("filter @message like /Exc/", "@message", "x Exception y", "exception") == [
        "x Exception y"
    ]


def test_like_regex_with_case_insensitive_flag() -> None:
    assert column("filter @message like /(?i)exc/", "@message", "EXC", "exc", "other") == [
        "exc",
        "EXC",
    ]


def test_equals_tilde_is_like() -> None:
    assert column("filter @message =~ /^b/", "@message", "ab", "ba") == ["ba"]


def test_like_string_is_a_plain_substring() -> None:
    # `.` and `(` are not special in a substring match.
    assert column('filter @message like "a.(b"', "@message", "xa.(by", "aX(b") == ["xa.(by"]


def test_not_like() -> None:
    assert column('filter @message not like "b"', "@message", "ab", "cd") == ["cd"]


def test_comparisons_on_numbers() -> None:
    lines = [{"n": 1}, {"n": 2}, {"n": 3}]
    assert column("filter n = 2", "@message", *lines) == ['{"n": 2}']
    assert column("filter n == 2", "@message", *lines) == ['{"n": 2}']
    assert len(run("filter n != 2", *lines)) == 2
    assert len(run("filter n < 2", *lines)) == 1
    assert len(run("filter n <= 2", *lines)) == 2
    assert len(run("filter n > 2", *lines)) == 1
    assert len(run("filter n >= 2", *lines)) == 2


def test_numeric_strings_compare_as_numbers() -> None:
    # API Gateway logs status as a string: "502" >= 400, and "1000" > "999" numerically.
    lines = [{"status": "502"}, {"status": "200"}, {"status": "1000"}]
    assert len(run("filter status >= 400", *lines)) == 2
    assert len(run('filter status > "999"', *lines)) == 1
    assert len(run('filter status = "502"', {"status": 502})) == 1
    # A text that is not a number never passes an ordering test against one.
    assert len(run("filter ms > 1", {"ms": "n/a"}, {"ms": "-"}, {"ms": "2"})) == 1
    assert len(run("filter ms != 1", {"ms": "n/a"})) == 1


def test_strings_compare_as_strings() -> None:
    lines = [{"level": "ERROR"}, {"level": "INFO"}]
    assert len(run('filter level = "ERROR"', *lines)) == 1
    assert len(run('filter level < "F"', *lines)) == 1
    assert len(run('filter level = "error"', *lines)) == 0


def test_a_filter_on_a_missing_field_is_false() -> None:
    lines = [{"a": 1}, {"b": 1}]
    assert len(run("filter a = 1", *lines)) == 1
    assert len(run("filter a != 1", *lines)) == 0
    assert len(run("filter a != 2", *lines)) == 1
    assert len(run("filter a < 5", *lines)) == 1
    assert len(run('filter a like "1"', *lines)) == 1
    assert len(run('filter a not like "2"', *lines)) == 1
    assert len(run("filter a in [1, 2]", *lines)) == 1
    assert len(run("filter a not in [2]", *lines)) == 1
    # `not` of a false comparison is true, also for the record without the field.
    assert len(run("filter not (a = 1)", *lines)) == 1
    assert len(run("filter not a = 2", *lines)) == 2


def test_in_and_not_in() -> None:
    lines = [{"level": "ERROR"}, {"level": "INFO"}, {"level": "DEBUG"}]
    assert column('filter level in ["ERROR", "INFO"]', "@message", *lines) == [
        '{"level": "INFO"}',
        '{"level": "ERROR"}',
    ]
    assert column('filter level not in ["ERROR", "INFO"]', "@message", *lines) == [
        '{"level": "DEBUG"}'
    ]
    assert len(run("filter code in [500, 502]", {"code": "502"}, {"code": 404})) == 1


def test_and_binds_tighter_than_or_and_parentheses_change_it() -> None:
    lines = [{"a": 1, "b": 0, "c": 0}, {"a": 0, "b": 1, "c": 1}, {"a": 0, "b": 1, "c": 0}]
    assert len(run("filter a = 1 or b = 1 and c = 1", *lines)) == 2
    assert len(run("filter (a = 1 or b = 1) and c = 1", *lines)) == 1
    assert len(run("filter not a = 1 and not c = 1", *lines)) == 1


def test_arithmetic_in_comparisons() -> None:
    line = {"a": 7, "b": 3}
    for condition in [
        "a + b = 10",
        "a - b = 4",
        "a * b = 21",
        "a / 2 = 3.5",
        "a % b = 1",
        "2 ^ 3 = 8",
        "-a = 0 - 7",
        "a - b * 2 = 1",
        "(a - b) * 2 = 8",
        "2 ^ 3 ^ 2 = 512",
        "a * 100 / b > 233",
    ]:
        assert len(run(f"filter {condition}", line)) == 1, condition


def test_arithmetic_on_missing_or_non_numbers_is_missing() -> None:
    lines = [{"a": "x", "b": 1}, {"b": 1}, {"a": 4, "b": 0}]
    # Newest first: 4 + 0 = 4, but 4 / 0 is missing; "x" is not a number; a is missing.
    assert run("fields a + b as s, a / b as q", *lines) == [{"s": "4"}, {}, {}]


def test_boolean_fields_and_literals() -> None:
    lines = [{"ok": True}, {"ok": False}]
    assert len(run("filter ok = true", *lines)) == 1
    assert len(run("filter ok = false", *lines)) == 1
    assert column("fields ok", "ok", *lines) == ["false", "true"]


def test_filter_on_a_function_result() -> None:
    lines = [{"a": "x"}, {"b": "y"}, {"a": ""}]
    assert len(run("filter ispresent(a)", *lines)) == 2
    assert len(run("filter isempty(a)", *lines)) == 2
    assert len(run('filter strcontains(b, "y")', *lines)) == 1


# --- parse -----------------------------------------------------------------------------------


def test_parse_glob_wildcards_stop_at_what_follows_and_the_last_takes_the_rest() -> None:
    query = 'parse @message "user=*, method:*, latency := *" as user, method, latency'
    rows = run(query, "t=1 user=ann, method:GET, latency := 12 ms, extra")
    assert rows == [
        {
            "@timestamp": "2024-05-01 12:00:00.000",
            "@message": "t=1 user=ann, method:GET, latency := 12 ms, extra",
            "user": "ann",
            "method": "GET",
            "latency": "12 ms, extra",
        }
    ]


def test_parse_glob_leaves_non_matching_events_in_the_results() -> None:
    query = 'parse @message "[*] *" as level, text | fields level, text'
    assert run(query, "[ERROR] boom", "no brackets") == [{}, {"level": "ERROR", "text": "boom"}]


def test_parse_regex_named_captures() -> None:
    query = r"parse @message /(?<method>[A-Z]+) (?<path>\S+) (?<code>\d{3})/ | display code, path"
    assert run(query, "GET /a 200", "POST /b 502 slow") == [
        {"code": "502", "path": "/b"},
        {"code": "200", "path": "/a"},
    ]


def test_parse_regex_optional_group_that_did_not_take_part_is_missing() -> None:
    query = r"parse @message /id=(?<id>\d+)(?: user=(?<user>\w+))?/ | fields id, user"
    assert run(query, "id=1 user=ann", "id=2") == [{"id": "2"}, {"id": "1", "user": "ann"}]


def test_parse_another_field_and_chained_parses() -> None:
    query = (
        'parse url "/api/*/users/*" as version, user | parse user /(?<digits>\\d+)/ '
        "| fields version, user, digits"
    )
    assert run(query, {"url": "/api/v2/users/u42"}) == [
        {"version": "v2", "user": "u42", "digits": "42"}
    ]


def test_parse_without_a_field_reads_the_message() -> None:
    assert run('parse "code=*" as code | fields code', "x code=7") == [{"code": "7"}]


def test_parsed_values_compare_as_numbers() -> None:
    query = 'parse @message "took * ms" as took | filter took > 100 | fields took'
    assert run(query, "took 99 ms", "took 150 ms", "took 1000 ms") == [
        {"took": "1000"},
        {"took": "150"},
    ]


def test_parse_columns_follow_the_default_ones() -> None:
    rows = run('parse @message "a=*" as a', "a=1")
    assert list(rows[0]) == ["@timestamp", "@message", "a"]


# --- stats -----------------------------------------------------------------------------------

DURATIONS = [
    {"route": "/a", "ms": 10},
    {"route": "/a", "ms": 30},
    {"route": "/b", "ms": 5},
    {"route": "/a", "ms": 20},
    {"route": "/b"},
    {"route": "/b", "ms": "n/a"},
]


def test_stats_without_by_is_one_row() -> None:
    query = "stats count(*), count(), count(ms), sum(ms), avg(ms), min(ms), max(ms)"
    # ms present on 5 records, numeric on 4: 10 + 30 + 5 + 20 = 65, avg 16.25.
    assert run(query, *DURATIONS) == [
        {
            "count(*)": "6",
            "count()": "6",
            "count(ms)": "5",
            "sum(ms)": "65",
            "avg(ms)": "16.25",
            "min(ms)": "5",
            "max(ms)": "30",
        }
    ]


def test_stats_by_a_field_with_aliases() -> None:
    query = "stats count(*) as n, avg(ms) as avgMs by route | sort n desc"
    # /a: 10, 30, 20, 40 -> 25; /b: 5, a missing ms and "n/a" -> 5 over the one number;
    # /c: no ms at all, so no avgMs cell.
    assert run(query, *DURATIONS, {"route": "/a", "ms": 40}, {"route": "/c"}) == [
        {"route": "/a", "n": "4", "avgMs": "25"},
        {"route": "/b", "n": "3", "avgMs": "5"},
        {"route": "/c", "n": "1"},
    ]


def test_stats_by_several_fields_and_a_missing_group_value() -> None:
    lines = [{"a": "x", "b": 1}] * 3 + [{"a": "x", "b": 2}] * 2 + [{"b": 1}]
    query = "stats count(*) as n by a, b | sort n desc"
    assert run(query, *lines) == [
        {"a": "x", "b": "1", "n": "3"},
        {"a": "x", "b": "2", "n": "2"},
        {"b": "1", "n": "1"},
    ]


def test_stats_groups_equal_numbers_and_numeric_strings_together() -> None:
    assert run("stats count(*) as n by status", {"status": 502}, {"status": "502"}) == [
        {"status": "502", "n": "2"}
    ]


def test_stats_over_no_events_has_no_rows() -> None:
    assert run("filter a = 1 | stats count(*)", {"a": 2}) == []


def test_bin_buckets_by_period_and_prints_the_bucket_start() -> None:
    # Events at 12:00:00, 12:02:30, 12:05:00, 12:07:30: two per 5 minutes.
    lines = evaluate(
        "stats count(*) by bin(5m)",
        [LogEvent(T0 + i * 150_000, f"m{i}", "s") for i in range(4)],
        GROUP,
    )
    assert lines == [
        {"bin(5m)": "2024-05-01 12:05:00.000", "count(*)": "2"},
        {"bin(5m)": "2024-05-01 12:00:00.000", "count(*)": "2"},
    ]


def test_bin_in_seconds_hours_and_with_an_alias() -> None:
    three = [LogEvent(T0 + ms, "m", "s") for ms in (0, 29_999, 30_000)]
    assert evaluate("stats count(*) as n by bin(30s) as t | sort t asc", three, GROUP) == [
        {"t": "2024-05-01 12:00:00.000", "n": "2"},
        {"t": "2024-05-01 12:00:30.000", "n": "1"},
    ]
    assert evaluate("stats count(*) as n by bin(1h)", three, GROUP) == [
        {"bin(1h)": "2024-05-01 12:00:00.000", "n": "3"}
    ]


def test_percentiles_are_nearest_rank() -> None:
    lines = [{"ms": v} for v in (40, 10, 30, 20)]
    query = "stats pct(ms, 0) as p0, pct(ms, 50) as p50, pct(ms, 75) as p75, pct(ms, 76) as p76"
    query += ", percentile(ms, 100) as p100"
    # Sorted 10 20 30 40: rank ceil(p/100 * 4) -> p50: 2nd, p75: 3rd, p76: 4th.
    assert run(query, *lines) == [{"p0": "10", "p50": "20", "p75": "30", "p76": "40", "p100": "40"}]


def test_count_distinct() -> None:
    lines = [{"t": "a"}, {"t": "b"}, {"t": "a"}, {"u": 1}]
    assert run("stats count_distinct(t) as tasks", *lines) == [{"tasks": "2"}]


def test_aggregates_combined_by_arithmetic_and_earlier_aliases() -> None:
    lines = [{"used": 60, "size": 128}, {"used": 100, "size": 128}]
    query = (
        "stats avg(used) as avgUsed, max(size) as size, avgUsed / size * 100 as pct, "
        'sum(used) - min(used) as spread, sum(strcontains(@message, "100")) as hundreds'
    )
    assert run(query, *lines) == [
        {"avgUsed": "80", "size": "128", "pct": "62.5", "spread": "100", "hundreds": "1"}
    ]


def test_min_and_max_of_parsed_numbers_are_numbers() -> None:
    query = 'parse @message "took * ms" as took | stats min(took) as low, max(took) as high'
    assert run(query, "took 100.0 ms", "took 99.50 ms", "took n/a ms") == [
        {"low": "99.5", "high": "100"}
    ]


def test_min_and_max_of_times_stay_times_and_of_strings_are_strings() -> None:
    query = "stats min(@timestamp) as first, max(@timestamp) as last, max(level) as top"
    assert run(query, {"level": "ERROR"}, {"level": "WARN"}, {"level": "INFO"}) == [
        {"first": "2024-05-01 12:00:00.000", "last": "2024-05-01 12:00:02.000", "top": "WARN"}
    ]


def test_filter_sort_and_fields_after_stats_work_on_the_rows() -> None:
    lines = [{"k": k} for k in "aabbbccccd"]
    query = "stats count(*) by k | filter count(*) > 1 | sort count(*) desc | fields k"
    assert run(query, *lines) == [
        {"k": "c", "count(*)": "4"},
        {"k": "b", "count(*)": "3"},
        {"k": "a", "count(*)": "2"},
    ]


def test_a_second_stats_aggregates_the_first() -> None:
    lines = [{"k": k} for k in "aabbbccccd"]
    query = "stats count(*) as n by k | stats max(n) as busiest, count(*) as keys"
    assert run(query, *lines) == [{"busiest": "4", "keys": "4"}]


# --- sort, limit -----------------------------------------------------------------------------


def test_sort_ascending_by_default_descending_on_request() -> None:
    lines = [{"n": 2}, {"n": 10}, {"n": 1}]
    assert column("sort n | fields n", "n", *lines) == ["1", "2", "10"]
    assert column("sort n asc | fields n", "n", *lines) == ["1", "2", "10"]
    assert column("sort by n desc | fields n", "n", *lines) == ["10", "2", "1"]


def test_sort_puts_missing_values_last_either_way() -> None:
    lines = [{"n": 2}, {"m": 0}, {"n": 1}]
    assert run("sort n asc | fields n", *lines) == [{"n": "1"}, {"n": "2"}, {}]
    assert run("sort n desc | fields n", *lines) == [{"n": "2"}, {"n": "1"}, {}]


def test_sort_by_several_keys() -> None:
    lines = [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}, {"a": 1, "b": "z"}, {"a": 2, "b": "w"}]
    assert [r["b"] for r in run("sort a desc, b asc | fields a, b", *lines)] == ["w", "y", "x", "z"]


def test_sort_by_time() -> None:
    assert column("sort @timestamp asc | fields @message", "@message", "c", "a", "b") == [
        "c",
        "a",
        "b",
    ]


def test_limit_keeps_the_first_rows() -> None:
    assert column("sort @timestamp asc | limit 2", "@message", "a", "b", "c") == ["a", "b"]


def test_default_and_caller_limits() -> None:
    many = [LogEvent(T0 + i, str(i), "s") for i in range(10_001)]
    assert len(evaluate("fields @message", many, GROUP)) == 10_000
    assert len(evaluate("fields @message", many[:50], GROUP, limit=7)) == 7
    assert len(evaluate("fields @message | limit 3", many[:50], GROUP, limit=7)) == 3


# --- functions -------------------------------------------------------------------------------


def test_string_functions() -> None:
    line = {"s": "  xyZfooxyZ  ", "t": "xyZfooxyZ", "u": "Hello"}
    query = (
        "fields tolower(u) as lower, toupper(u) as upper, strlen(u) as len, "
        'substr(t, 3, 3) as sub, substr(t, 6) as tail, replace(u, "l", "L") as rep, '
        'concat(u, "-", t) as cat, trim(s) as trimmed, ltrim(t, "xyZ") as lt, '
        'rtrim(t, "xyZ") as rt, trim(t, "xyZ") as both, strcontains(u, "ell") as has'
    )
    assert run(query, line) == [
        {
            "lower": "hello",
            "upper": "HELLO",
            "len": "5",
            "sub": "foo",
            "tail": "xyZ",
            "rep": "HeLLo",
            "cat": "Hello-xyZfooxyZ",
            "trimmed": "xyZfooxyZ",
            "lt": "fooxyZ",
            "rt": "xyZfoo",
            "both": "foo",
            "has": "1",
        }
    ]


def test_presence_functions() -> None:
    query = (
        "fields coalesce(a, b, c) as first, ispresent(a) as hasA, isempty(b) as emptyB, "
        "isblank(c) as blankC"
    )
    assert run(query, {"b": "", "c": "  "}) == [
        {"first": "", "hasA": "false", "emptyB": "true", "blankC": "true"}
    ]


def test_numeric_functions() -> None:
    query = (
        "fields abs(a) as abs, ceil(b) as ceil, floor(b) as floor, sqrt(16) as root, "
        "greatest(a, b, 3) as most, least(a, b, 3) as fewest, log(c) as ln"
    )
    assert run(query, {"a": -4, "b": 2.5, "c": 1}) == [
        {
            "abs": "4",
            "ceil": "3",
            "floor": "2",
            "root": "4",
            "most": "3",
            "fewest": "-4",
            "ln": "0",
        }
    ]


def test_datefloor_and_dateceil() -> None:
    one = [LogEvent(T0 + 61_500, "m", "s")]
    query = "fields datefloor(@timestamp, 1m) as down, dateceil(@timestamp, 1m) as up"
    assert evaluate(query, one, GROUP) == [
        {"down": "2024-05-01 12:01:00.000", "up": "2024-05-01 12:02:00.000"}
    ]


# --- properties ------------------------------------------------------------------------------

WORDS = st.text(alphabet="ab.()*[]x", min_size=0, max_size=12)


@settings(max_examples=150, deadline=None)
@given(st.lists(WORDS, min_size=1, max_size=8), st.text(alphabet="ab.(", min_size=1, max_size=3))
def test_like_a_string_is_python_substring(messages: list[str], needle: str) -> None:
    query = 'filter @message like "' + needle + '" | fields @message'
    rows = evaluate(query, [LogEvent(T0 + i, m, "s") for i, m in enumerate(messages)], GROUP)
    expected = [m for m in reversed(messages) if needle in m]
    assert [r["@message"] for r in rows] == expected


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["ERROR", "WARN", "INFO", "DEBUG"]), min_size=1, max_size=40))
def test_count_by_field_is_a_counter(levels: list[str]) -> None:
    lines = [LogEvent(T0 + i, json.dumps({"level": lvl}), "s") for i, lvl in enumerate(levels)]
    rows = evaluate("stats count(*) as n by level", lines, GROUP)
    assert {r["level"]: int(r["n"]) for r in rows} == Counter(levels)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=-(10**6), max_value=10**6), min_size=1, max_size=30))
def test_sort_numbers_descending(numbers: list[int]) -> None:
    lines = [LogEvent(T0 + i, json.dumps({"n": n}), "s") for i, n in enumerate(numbers)]
    rows = evaluate("sort n desc | fields n", lines, GROUP)
    assert [int(r["n"]) for r in rows] == sorted(numbers, reverse=True)
