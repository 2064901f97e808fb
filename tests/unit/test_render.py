"""The postmortem document for a full, a partial (diagnostics failed) and an unresolved
(timed out) incident: every section and what it must say."""

from __future__ import annotations

import re

from postmortem.render import final_status, render

from .test_postmortem_cases import full_case, partial_case, unresolved_case

SECTIONS = [
    "## Summary",
    "## Timeline",
    "### Every entry",
    "## Figures",
    "## Graphs",
    "## Diagnostics",
    "## Action items",
    "## What the runbook could not find out",
]


def _section(text: str, heading: str) -> str:
    """The text of one `## ` section, up to the next of the document's own sections (a log
    line in a code block may start with `## ` too)."""
    start = text.index(f"\n{heading}\n")
    ends = [
        found
        for other in [*SECTIONS, "## AWS support case (draft)"]
        if other.startswith("## ") and (found := text.find(f"\n{other}\n", start + 1)) != -1
    ]
    return text[start : min(ends, default=len(text))]


def test_final_status() -> None:
    assert final_status({"status": "recovered"}) == "RESOLVED"
    assert final_status({"status": "resolved"}) == "RESOLVED"
    assert final_status({"status": "timed_out"}) == "UNRESOLVED"
    assert final_status({}) == "UNRESOLVED"


def test_every_document_has_every_section_in_order() -> None:
    for case in (full_case(), partial_case(), unresolved_case()):
        text = render(case).markdown
        positions = [text.index(f"\n{heading}\n") for heading in SECTIONS]
        assert positions == sorted(positions)
        assert text.startswith("# Postmortem: orders-api-errors is in ALARM\n")


def test_full_incident_summary() -> None:
    document = render(full_case())
    summary = _section(document.markdown, "## Summary")
    assert document.status == "RESOLVED"
    assert "- **What broke:** orders-api-errors is in ALARM (alarm `orders-api-errors`)" in summary
    assert "- **Severity:** critical (decided by: tag: Severity=critical)" in summary
    assert (
        "- **Fault domain:** The application: Lambda invocations timed out — domain `application`"
        in summary
    )
    assert (
        "- **Impact scope:** 1 of 1 functions; resources: `orders-api (AWS::Lambda::Function)`"
        in summary
    )
    assert "- **Duration:** 17m 03s (first signal 2024-05-01 14:03:07 UTC to recovered" in summary
    assert (
        "- **Outcome:** RESOLVED at 2024-05-01 14:20:10 UTC, by alarm:orders-api-errors" in summary
    )
    assert "**Missing:**" not in summary
    assert "- **Response:** page `sent`, diagnostics `completed`, channel `created`" in summary
    assert "[the execution](<https://eu-central-1.console.aws.amazon.com/states/home?" in summary
    assert document.summary.startswith(
        "RESOLVED: critical incident orders-api-errors is in ALARM. Fault domain: The "
        "application: Lambda invocations timed out. Duration 17m 03s"
    )


def test_full_incident_timeline_figures_and_graph() -> None:
    text = render(full_case()).markdown
    timeline = _section(text, "## Timeline")
    assert "| UTC | Europe/Berlin | Moment | Detail | Read from |" in timeline
    assert "| 2024-05-01 14:03:10 | 2024-05-01 16:03:10 CEST | Page sent |" in timeline
    moments = re.findall(r"^\| 2024-05-01 (\d\d:\d\d:\d\d) \| 2024", timeline, re.M)
    assert moments == sorted(moments) and len(moments) == 10
    assert "```mermaid\ngantt\n" in timeline
    every = timeline.split("### Every entry")[1]
    times = re.findall(r"^\| 2024-05-01 (\d\d:\d\d:\d\d) \|", every, re.M)
    assert times == sorted(times) and len(times) == 18
    figures = _section(text, "## Figures")
    assert "| Time to page | 3s | from first signal to page sent |" in figures
    assert "| Time to acknowledge (MTTA) | 3m 00s |" in figures
    assert "| Time to recover (MTTR) | 17m 03s |" in figures
    assert "| Alarms and events absorbed | 2 |" in figures
    graphs = _section(text, "## Graphs")
    assert "![orders-api-errors around the incident](metric.png)" in graphs


def test_full_incident_diagnostics_show_queries_and_links() -> None:
    diagnostics = _section(render(full_case()).markdown, "## Diagnostics")
    assert "Status: **completed**" in diagnostics
    assert (
        "**The application: Lambda invocations timed out** (fault domain `application`)"
        in diagnostics
    )
    assert (
        "Ruled out: no AWS Health issue for these services and regions; no Lambda throttling"
        in diagnostics
    )
    for source in ("health", "lambda\\_metrics", "xray", "logs\\_insights"):
        assert f"\n### {source}\n" in diagnostics
    assert (
        "```\nfields @timestamp, @message\n| filter @message like /ERROR/\n| limit 50\n```"
        in diagnostics
    )
    assert (
        "[open in Logs Insights](<https://eu-central-1.console.aws.amazon.com/cloudwatch/home?region=eu-central-1#logsV2:logs-insights$3FqueryDetail$3D"
        in diagnostics
    )
    assert 'X-Ray filter expression: `(service("orders-api")) AND responsetime > 3`' in diagnostics
    assert "#xray:traces/query?~(query~(expression~'" in diagnostics
    assert (
        "[1-5f84c7a1-0123456789abcdef01234567](<https://eu-central-1.console.aws.amazon.com/cloudwatch/home?region=eu-central-1#xray:traces/1-5f84c7a1-0123456789abcdef01234567>)"
        in diagnostics
    )
    assert "Task timed out after 3.00 seconds" in diagnostics
    text = render(full_case()).markdown
    assert "## AWS support case (draft)" not in text
    assert "Nothing: every branch and every source answered." in _section(
        text, "## What the runbook could not find out"
    )


def test_full_incident_action_items_suggest_the_fix() -> None:
    actions = _section(render(full_case()).markdown, "## Action items")
    assert "| # | Action | Owner | Due | Ticket |" in actions
    assert (
        "| 1 | Find the slow call in the traces; raise the timeout only if the work is legit. "
        "(suggested for: Lambda invocations timed out) |" in actions
    )
    assert "- What went well:" in actions


def test_partial_incident_marks_what_failed() -> None:
    document = render(partial_case())
    text = document.markdown
    summary = _section(text, "## Summary")
    assert "- **Fault domain:** not determined (no verdict)" in summary
    assert "- **Response:** page `sent`, diagnostics `failed`, channel `failed`" in summary
    assert "- **Missing:** 4 things the runbook could not find out" in summary
    assert (
        "- **Outcome:** RESOLVED at 2024-05-01 14:18:07 UTC, by operator:bob: fixed it" in summary
    )
    diagnostics = _section(text, "## Diagnostics")
    assert "Status: **failed**" in diagnostics
    assert "Diagnostics failed: `Lambda.Unknown: <b>boom</b> | out of memory`" in diagnostics
    assert "### Verdict" not in diagnostics
    timeline = _section(text, "## Timeline")
    assert "| UTC | America/New\\_York | Moment |" in timeline
    assert "| Diagnostics failed | Lambda.Unknown | execution history |" in timeline
    assert "| Channel failed | SlackChannelError | execution history |" in timeline
    gaps = _section(text, "## What the runbook could not find out")
    assert (
        "| Diagnostics | failed: Lambda.Unknown: &lt;b&gt;boom&lt;/b&gt; \\| out of memory |"
        in gaps
    )
    assert "| The incident channel | failed: SlackChannelError: Slack: not\\_authed |" in gaps
    assert "| The metric graph | GetMetricWidgetImage failed (InternalFailure, HTTP 500) |" in gaps
    assert "| Who acknowledged the page, and when |" in gaps
    graphs = _section(text, "## Graphs")
    assert "No graph here: GetMetricWidgetImage failed (InternalFailure, HTTP 500)." in graphs
    assert "[the metric over the incident window](<https://" in graphs
    assert "[the alarm and its history](<https://" in graphs


def test_unresolved_incident_says_so_and_drafts_the_support_case() -> None:
    document = render(unresolved_case())
    text = document.markdown
    assert document.status == "UNRESOLVED"
    assert document.summary.startswith("UNRESOLVED: high incident")
    summary = _section(text, "## Summary")
    assert (
        "- **Outcome:** **UNRESOLVED**: nobody resolved it and its alarm did not return" in summary
    )
    assert "- **Duration:** 1h 00m 32s (first signal 2024-05-01 14:03:07 UTC to closed" in summary
    assert "- **Fault domain:** AWS side: EC2 system status check failed — domain `aws`" in summary
    assert (
        "  - EC2 system status check failed: `i-0123456789abcdef0: system reachability" in summary
    )
    assert "| UTC | Moment | Detail | Read from |" in text  # the team's zone is UTC
    case = _section(text, "## AWS support case (draft)")
    assert "| Subject | EC2 system status check failed (eu-central-1) |" in case
    assert "| Still ongoing | yes |" in case
    assert "````text\nIncident inc-...: orders-api-errors is in ALARM\n```\nWhat we see:" in case
    diagnostics = _section(text, "## Diagnostics")
    # Without the evidence document, the shipped query is shown by name.
    assert "| filter @message like /(?i)(error|exception|fail|timed out|timeout)/" in diagnostics
    assert "Sources that could not be read: logs\\_insights (timeout)" in diagnostics
    actions = _section(text, "## Action items")
    assert "| 1 | Confirm whether the incident is still ongoing, and who owns it now |" in actions
    gaps = _section(text, "## What the runbook could not find out")
    for expected in (
        "| The incident channel | skipped: no incident channel below critical severity |",
        "| logs\\_insights (recent\\_errors: /aws/lambda/orders-api) | timeout: query still",
        "| The diagnostics evidence document | it could not be read (NoSuchKey) |",
        "| The execution history | GetExecutionHistory failed (AccessDeniedException) |",
        "| The metric graph | the alarm orders-api-errors was not found in this account and",
        "| Whether and when the service recovered | nobody resolved the incident",
    ):
        assert expected in gaps
    figures = _section(text, "## Figures")
    assert (
        "| Time to recover (MTTR) | - | not recovered: the incident closed unresolved |" in figures
    )
    assert "| Alarms and events absorbed | 7 |" in figures
