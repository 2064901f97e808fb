"""The postmortem's "People engaged" section: which response plan applied, who was engaged at
each stage of its escalation plan, through which channel and when, who acknowledged and how
long each stage waited for it; the incident's OpsItem. Plus those moments for the timeline.

Read from the incident record (the engagement the workflow stored), so it is true to what was
sent, failures included. Names and details came from the declaration and from AWS: escaped.
"""

from __future__ import annotations

from incidents.model import Incident
from oncall import engagement as plan_runner
from oncall.engagement import Engagement
from postmortem.console import console_host
from postmortem.figures import duration
from postmortem.markdown import code_span, inline, link, table
from postmortem.timeline import Moment
from shared.timeutil import in_zone, parse_time

SOURCE = "incident record"
_STATUS_WORDS = {
    "active": "still running when the incident closed",
    "acknowledged": "stopped by an acknowledgement",
    "exhausted": "exhausted: nobody acknowledged through its last stage",
    "stopped": "stopped when the incident closed",
}


def _engagement(incident: Incident) -> Engagement | None:
    """The stored plan, or None (none ran, or its record is unreadable: the section is left
    out rather than the postmortem failing)."""
    if not incident.engagement:
        return None
    try:
        return plan_runner.load_engagement(incident.engagement)
    except plan_runner.EngagementError:
        return None


def ops_item_url(region: str, ops_item_id: str) -> str:
    """The OpsItem's page in the Systems Manager console."""
    return f"{console_host(region)}/systems-manager/opsitems/{ops_item_id}?region={region}"


def engagement_moments(incident: Incident) -> list[Moment]:
    """Each stage's start, each page, the acknowledgement: for the key-moments table."""
    engagement = _engagement(incident)
    if engagement is None:
        return []
    moments = []
    for stage in engagement.stages:
        names = ", ".join(stage.contacts) or "nobody on call"
        moments.append(
            Moment(parse_time(stage.started_at), f"Stage {stage.index + 1} engaged", names, SOURCE)
        )
    for page in engagement.pages:
        if page.sent_at and page.status in ("sent", "failed"):
            verb = "Paged" if page.status == "sent" else "Page failed"
            moments.append(
                Moment(
                    parse_time(page.sent_at),
                    f"{verb}: {page.contact_name}",
                    f"{page.channel} ({page.channel_type}), stage {page.stage + 1}",
                    SOURCE,
                )
            )
    if engagement.acknowledged_at:
        moments.append(
            Moment(
                parse_time(engagement.acknowledged_at),
                "Acknowledged (escalation stopped)",
                f"by {engagement.acknowledged_by}",
                SOURCE,
            )
        )
    return moments


def engagement_lines(incident: Incident, timezone: str, region: str) -> list[str]:
    """The section's Markdown lines (empty when no plan engaged anyone and no OpsItem)."""
    lines: list[str] = []
    engagement = _engagement(incident)
    if engagement is not None:
        lines += _plan_lines(engagement, timezone)
    ops = _ops_item_lines(incident, region)
    if not lines and not ops:
        return []
    return ["## People engaged", "", *lines, *ops]


def _plan_lines(engagement: Engagement, timezone: str) -> list[str]:
    status = _STATUS_WORDS.get(engagement.status, engagement.status)
    lines = [
        f"Response plan {code_span(engagement.response_plan)}, escalation plan "
        f"{code_span(engagement.plan)}: {inline(status)}.",
        "",
    ]
    names = {page.contact: page.contact_name for page in engagement.pages}
    if engagement.acknowledged_by and engagement.acknowledged_at:
        by = engagement.acknowledged_by
        who = f"{names[by]} ({by})" if by in names else by
        during = "" if engagement.ack_stage is None else f" during stage {engagement.ack_stage + 1}"
        lines += [
            f"**Acknowledged by {inline(who)}** at "
            f"{inline(_when(engagement.acknowledged_at, timezone))}{during}, "
            f"{duration(_seconds(engagement.started_at, engagement.acknowledged_at))} after "
            "the first page.",
            "",
        ]
    waited = dict(plan_runner.time_to_ack(engagement))
    stage_rows = []
    for stage in engagement.stages:
        seconds = waited.get(stage.index)
        stage_rows.append(
            [
                str(stage.index + 1),
                inline(_when(stage.started_at, timezone)),
                inline(", ".join(names.get(c, c) for c in stage.contacts) or "nobody"),
                inline("; ".join(stage.nobody)) or "-",
                duration(seconds) if seconds is not None else "not acknowledged in it",
            ]
        )
    if stage_rows:
        lines += [
            table(
                ["Stage", "Began", "Engaged", "Nobody on call", "Time to acknowledge"], stage_rows
            ),
            "",
        ]
    page_rows = [
        [
            inline(_when(page.sent_at or page.due_at, timezone)),
            inline(page.contact_name),
            inline(f"{page.channel} ({page.channel_type})"),
            inline(page.via.replace("rotation:", "rotation ")),
            str(page.stage + 1),
            inline(page.status + (f": {page.detail}" if page.detail else ""), 200),
        ]
        for page in engagement.pages
    ]
    if page_rows:
        lines += [
            table(["When", "Who", "Channel", "Via", "Stage", "Outcome"], page_rows),
            "",
        ]
    else:
        lines += ["Nobody was paged: the plan found nobody on call.", ""]
    return lines


def _ops_item_lines(incident: Incident, region: str) -> list[str]:
    if incident.ops_item_id:
        url = ops_item_url(region, incident.ops_item_id)
        return [f"OpsCenter: {link(incident.ops_item_id, url)}"]
    if incident.ops_item_problem:
        return [f"OpsCenter: no OpsItem ({inline(incident.ops_item_problem, 300)})."]
    return []


def _when(at: str, timezone: str) -> str:
    moment = parse_time(at)
    text = moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    return text if timezone == "UTC" else f"{text} ({in_zone(moment, timezone)})"


def _seconds(start: str, end: str) -> float:
    return (parse_time(end) - parse_time(start)).total_seconds()
