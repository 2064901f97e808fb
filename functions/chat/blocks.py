"""The incident summary as Block Kit: what fired, how bad, where to look, and the Acknowledge
and Resolve buttons the slack_actions function answers.

Everything user-controlled (alarm names, descriptions, resource ids) is escaped for mrkdwn, and
every piece is cut to Block Kit's limits so Slack never rejects the summary (a rejected
summary would leave responders without the buttons). A plain `text` goes with the blocks for
notifications and clients that cannot render them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chat.mrkdwn import clip, escape, link, who
from incidents.model import Incident
from incidents.notification import alarm_console_url, execution_console_url, service_of
from shared.timeutil import in_zone, now_iso, parse_time

# Block Kit limits (https://api.slack.com/reference/block-kit).
MAX_BLOCKS = 50
HEADER_TEXT = 150
SECTION_TEXT = 3000
FIELD_TEXT = 2000
MAX_FIELDS = 10
BUTTON_TEXT = 75
BUTTON_VALUE = 2000
CONTEXT_TEXT = 2000
CONFIRM_TITLE = 100
CONFIRM_TEXT = 300
CONFIRM_BUTTON = 30
FALLBACK_TEXT = 3000

ACK_ACTION = "incident_ack"
RESOLVE_ACTION = "incident_resolve"
ACTIONS_BLOCK_ID = "incident_actions"
VERDICT_PENDING = "_Diagnostics are running; the verdict will be posted here._"
_EMOJI = {
    "critical": ":red_circle:",
    "high": ":large_orange_circle:",
    "standard": ":large_blue_circle:",
}


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, limit), "emoji": True}


def _mrkdwn(text: str, limit: int) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": clip(text, limit)}


def _field(label: str, value: str) -> dict[str, Any]:
    return _mrkdwn(f"*{label}*\n{value}", FIELD_TEXT)


def headline(incident: Incident) -> str:
    """`[CRITICAL] <title>` on one line (plain text: headers do not render mrkdwn)."""
    return " ".join(f"[{incident.severity.upper()}] {incident.title}".split())


def verdict_text(verdict: str | Mapping[str, Any] | None) -> str:
    """The diagnostics verdict as mrkdwn (its headline and scope), or the placeholder."""
    if verdict is None or verdict == "":
        return VERDICT_PENDING
    if isinstance(verdict, Mapping):
        parts = [str(verdict.get("headline") or verdict.get("domain") or "undetermined")]
        if verdict.get("scope"):
            parts.append(str(verdict["scope"]))
        return escape(" — ".join(parts))
    return escape(str(verdict))


def _opened(incident: Incident, timezone: str) -> str:
    opened = parse_time(incident.opened_at)
    lines = [in_zone(opened, "UTC")]
    if timezone and timezone != "UTC":
        lines.append(in_zone(opened, timezone))
    return "\n".join(lines)


def _fields(
    incident: Incident, timezone: str, region: str, verdict: str | Mapping[str, Any] | None
) -> list[dict[str, Any]]:
    severity = incident.severity.upper()
    if incident.severity_rule:
        severity += f" ({escape(incident.severity_rule)})"
    resource = incident.resources[0] if incident.resources else None
    service = escape(service_of(incident))
    if resource:
        service += f" ({escape(resource.type)})"
    fired = escape(incident.alarm_name or incident.source)
    fields = [
        _field("Severity", severity),
        _field("Service", service),
        _field("What fired", fired),
        _field("Opened", _opened(incident, timezone)),
        _field("Verdict", verdict_text(verdict)),
        _field("Incident", f"`{escape(incident.incident_id)}`"),
    ]
    if incident.account:
        fields.append(_field("Account / region", escape(f"{incident.account} / {region}")))
    return fields[:MAX_FIELDS]


def _links(incident: Incident, region: str) -> str:
    links = []
    if incident.execution_arn:
        links.append(
            link(execution_console_url(incident.execution_arn, region), "Runbook execution")
        )
    if incident.alarm_name:
        links.append(link(alarm_console_url(incident.alarm_name, region), "Alarm in CloudWatch"))
    return "  •  ".join(links)


def action_buttons(incident_id: str) -> dict[str, Any]:
    """Acknowledge (stops escalation) and Resolve (closes; asks for confirmation first)."""
    value = incident_id[:BUTTON_VALUE]
    return {
        "type": "actions",
        "block_id": ACTIONS_BLOCK_ID,
        "elements": [
            {
                "type": "button",
                "action_id": ACK_ACTION,
                "text": _plain("Acknowledge", BUTTON_TEXT),
                "style": "primary",
                "value": value,
            },
            {
                "type": "button",
                "action_id": RESOLVE_ACTION,
                "text": _plain("Resolve", BUTTON_TEXT),
                "style": "danger",
                "value": value,
                "confirm": {
                    "title": _plain("Resolve this incident?", CONFIRM_TITLE),
                    "text": _plain(
                        f"This closes incident {incident_id} and lets the runbook write the "
                        "postmortem. Resolve only when the service has recovered.",
                        CONFIRM_TEXT,
                    ),
                    "confirm": _plain("Resolve", CONFIRM_BUTTON),
                    "deny": _plain("Cancel", CONFIRM_BUTTON),
                    "style": "danger",
                },
            },
        ],
    }


def summary_blocks(
    incident: Incident,
    *,
    timezone: str = "UTC",
    default_region: str = "us-east-1",
    verdict: str | Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The channel's first message: header, facts, description, links, buttons, CLI hint."""
    region = incident.region or default_region
    if verdict is None:  # the record's, once diagnostics stored it (else the placeholder)
        verdict = getattr(incident, "verdict", None)
    emoji = _EMOJI.get(incident.severity, "")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain(f"{emoji} {headline(incident)}".strip(), HEADER_TEXT)},
        {"type": "section", "fields": _fields(incident, timezone, region, verdict)},
    ]
    if incident.description:
        quoted = "\n".join(f">{line}" for line in escape(incident.description).splitlines())
        blocks.append({"type": "section", "text": _mrkdwn(quoted or ">", SECTION_TEXT)})
    if len(incident.resources) > 1:
        others = ", ".join(f"{escape(r.id)} ({escape(r.type)})" for r in incident.resources[1:])
        blocks.append(
            {"type": "context", "elements": [_mrkdwn(f"Also affected: {others}", CONTEXT_TEXT)]}
        )
    links = _links(incident, region)
    if links:
        blocks.append({"type": "section", "text": _mrkdwn(links, SECTION_TEXT)})
    blocks.append(action_buttons(incident.incident_id))
    ident = incident.incident_id
    hint = f'From a terminal: `runbook ack {ident}` · `runbook resolve {ident} --note "..."`'
    blocks.append({"type": "context", "elements": [_mrkdwn(escape(hint), CONTEXT_TEXT)]})
    return blocks[:MAX_BLOCKS]


def summary_text(
    incident: Incident, *, timezone: str = "UTC", default_region: str = "us-east-1"
) -> str:
    """The plain fallback (notifications, screen readers): severity, what, when, where."""
    region = incident.region or default_region
    opened = _opened(incident, timezone).replace("\n", " / ")
    lines = [
        f"*{escape(headline(incident))}*",
        f"Incident `{escape(incident.incident_id)}` opened {opened}",
    ]
    if incident.alarm_name:
        lines.append(f"Alarm: {escape(incident.alarm_name)}")
    if incident.execution_arn:
        lines.append(
            link(execution_console_url(incident.execution_arn, region), "Runbook execution")
        )
    return clip("\n".join(lines), FALLBACK_TEXT)


def _without_actions(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [b for b in blocks if b.get("block_id") != ACTIONS_BLOCK_ID]


def _stamp(line: str) -> dict[str, Any]:
    return {"type": "context", "elements": [_mrkdwn(line, CONTEXT_TEXT)]}


def acknowledged_blocks(
    original: list[dict[str, Any]], by: str, at: str | None = None
) -> list[dict[str, Any]]:
    """The summary after an acknowledgement: Acknowledge gone, Resolve kept, who and when."""
    blocks: list[dict[str, Any]] = []
    for block in original:
        if block.get("block_id") == ACTIONS_BLOCK_ID:
            kept = [e for e in block.get("elements", []) if e.get("action_id") != ACK_ACTION]
            blocks.append(_stamp(f":eyes: Acknowledged by {who(by)} at {escape(at or now_iso())}"))
            if kept:
                blocks.append({**block, "elements": kept})
        else:
            blocks.append(block)
    return blocks[:MAX_BLOCKS]


def resolved_blocks(
    original: list[dict[str, Any]], by: str, at: str | None = None
) -> list[dict[str, Any]]:
    """The summary after Resolve: no buttons left, who and when instead."""
    stamp = _stamp(f":white_check_mark: Resolved by {who(by)} at {escape(at or now_iso())}")
    return [*_without_actions(original), stamp][:MAX_BLOCKS]


def proposal_blocks(
    incident_id: str, summary: str, *, may_decide: str, expires_at: str
) -> list[dict[str, Any]]:
    """A proposed remediation with Approve / Reject (Approve asks for confirmation)."""
    value = incident_id[:BUTTON_VALUE]
    return [
        {"type": "section", "text": _mrkdwn(escape(summary), SECTION_TEXT)},
        {
            "type": "context",
            "elements": [
                _mrkdwn(
                    f"Only {escape(may_decide)} may decide. Nobody deciding by "
                    f"{escape(expires_at)} means it is not run.",
                    CONTEXT_TEXT,
                )
            ],
        },
        {
            "type": "actions",
            "block_id": "remediation_actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": "remediation_approve",
                    "text": _plain("Approve", BUTTON_TEXT),
                    "style": "primary",
                    "value": value,
                    "confirm": {
                        "title": _plain("Run this remediation?", CONFIRM_TITLE),
                        "text": _plain(clip(summary, CONFIRM_TEXT), CONFIRM_TEXT),
                        "confirm": _plain("Approve", CONFIRM_BUTTON),
                        "deny": _plain("Cancel", CONFIRM_BUTTON),
                    },
                },
                {
                    "type": "button",
                    "action_id": "remediation_reject",
                    "text": _plain("Reject", BUTTON_TEXT),
                    "style": "danger",
                    "value": value,
                },
            ],
        },
    ]
