"""Console deep links: the formats the AWS console writes itself, in every partition."""

from __future__ import annotations

import re
from urllib.parse import unquote

from postmortem.console import (
    alarm_url,
    console_host,
    execution_url,
    jsurl,
    logs_insights_url,
    metrics_url,
    s3_object_url,
    xray_trace_url,
    xray_traces_url,
)

START, END = "2021-07-15T21:00:00Z", "2021-07-18T20:59:59Z"


def _jsurl_text(encoded: str) -> str:
    """Undo the console's string encoding: `'` prefix, `*XX` for `%XX`."""
    return unquote(encoded.removeprefix("'").replace("*", "%"))


def test_console_host_follows_the_partition() -> None:
    assert console_host("eu-west-1") == "https://eu-west-1.console.aws.amazon.com"
    assert console_host("cn-north-1") == "https://cn-north-1.console.amazonaws.cn"
    assert console_host("us-gov-west-1") == "https://us-gov-west-1.console.amazonaws-us-gov.com"


def test_jsurl_objects_arrays_and_strings() -> None:
    assert jsurl({"a": ["x", "y z"], "n": 5, "b": False, "o": {}}) == (
        "~(a~(~'x~'y*20z)~n~5~b~false~o~())"
    )
    # Structure characters and non-ASCII in values are encoded, so they cannot end a value.
    assert jsurl("it's ~(ok)* é") == "~'it*27s*20*7E*28ok*29*2A*20*C3*A9"
    assert _jsurl_text(jsurl("it's ~(ok)* é")[1:]) == "it's ~(ok)* é"


def test_logs_insights_link_matches_the_console_encoding() -> None:
    url = logs_insights_url(
        "eu-west-1",
        ["/aws/lambda/orders-api"],
        "fields @timestamp, @message\n| sort @timestamp desc\n| limit 200",
        START,
        END,
    )
    prefix = (
        "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1"
        "#logsV2:logs-insights$3FqueryDetail$3D$257E$2528end$257E$2527"
        "2021-07-18T20*3A59*3A59.000Z$257Estart$257E$25272021-07-15T21*3A00*3A00.000Z"
        "$257EtimeType$257E$2527ABSOLUTE$257Etz$257E$2527UTC$257EeditorString$257E$2527"
        "fields*20*40timestamp*2C*20*40message*0A*7C*20sort*20*40timestamp*20desc*0A*7C"
        "*20limit*20200$257EisLiveTail$257Efalse$257Esource$257E$2528$257E$2527"
        "*2Faws*2Flambda*2Forders-api$2529$2529"
    )
    assert url == prefix


def test_logs_insights_link_decodes_back_to_the_query_and_groups() -> None:
    query = 'filter @message like /(?i)(error|fail)/ | parse @message "a ~ b" as x'
    url = logs_insights_url("us-east-1", ["/a", "/b"], query, START, END)
    fragment = url.split("#logsV2:logs-insights", 1)[1]
    detail = unquote(unquote(fragment.replace("$", "%")))  # $ -> %, URI, then escape()
    assert detail.startswith("?queryDetail=~(end~'")
    values = dict(re.findall(r"~(\w+)~('[^~)]*)", detail))
    assert _jsurl_text(values["editorString"]) == query
    assert [_jsurl_text(v) for v in re.findall(r"~('[^~)]*)", detail.split("source~")[1])] == [
        "/a",
        "/b",
    ]


def test_xray_links() -> None:
    url = xray_traces_url("us-east-1", 'service("orders-api") AND responsetime > 3', START, END)
    assert url == (
        "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1"
        "#xray:traces/query?~(query~(expression~'service*28*22orders-api*22*29*20AND*20"
        "responsetime*20*3E*203)~context~(timeRange~(end~'2021-07-18T20*3A59*3A59.000Z"
        "~start~'2021-07-15T21*3A00*3A00.000Z)))"
    )
    trace = "1-5f84c7a1-0123456789abcdef01234567"
    assert xray_trace_url("us-east-1", trace) == (
        "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1"
        f"#xray:traces/{trace}"
    )
    assert xray_trace_url("us-east-1", "javascript:alert(1)") is None


def test_metrics_alarm_execution_and_s3_links() -> None:
    metrics = [["AWS/Lambda", "Errors", "FunctionName", "orders-api", {"stat": "Sum"}]]
    assert metrics_url("eu-west-1", metrics, START, END, 60) == (
        "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1"
        "#metricsV2:graph=~(metrics~(~(~'AWS*2FLambda~'Errors~'FunctionName~'orders-api"
        "~(stat~'Sum)))~view~'timeSeries~stacked~false~region~'eu-west-1"
        "~start~'2021-07-15T21*3A00*3A00.000Z~end~'2021-07-18T20*3A59*3A59.000Z~period~60)"
    )
    assert alarm_url("eu-west-1", "orders api/errors#1").endswith(
        "#alarmsV2:alarm/orders%20api%2Ferrors%231"
    )
    arn = "arn:aws:states:eu-west-1:1:execution:M:inc-1"
    assert execution_url("eu-west-1", arn) == (
        "https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1"
        f"#/v2/executions/details/{arn}"
    )
    assert s3_object_url("eu-west-1", "b", "incidents/inc-1/postmortem.md") == (
        "https://eu-west-1.console.aws.amazon.com/s3/object/b?region=eu-west-1"
        "&prefix=incidents/inc-1/postmortem.md"
    )
