"""The escalation plan inside the workflow: engage stage 1 when the response starts, then, on
each wake-up of MonitorRecovery (its wait is cut to the plan's next event), page what is due
and begin the stages whose time came. Pure of AWS: the pager, the overrides and the clock are
given (docs/oncall.md, "Escalation").

The workflow's wait is the plan's: while a plan is active MonitorRecovery times out exactly
when the next page or stage is due, and Escalate turns that timeout into a tick instead of an
escalation. Once the plan is exhausted (or acknowledged) the wait is the recovery timeout
again and escalation works as it always did.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import msgspec

from incidents.model import Incident
from incidents.payloads import WaitSettings
from oncall import engagement as plan_runner
from oncall.declaration import ResponseConfig
from oncall.engagement import Engagement, PlannedPage
from oncall.rotation import Override
from shared.timeutil import clock_speed, iso, parse_time

# Step Functions' bound for TimeoutSeconds (and HeartbeatSeconds).
MAX_WAIT_SECONDS = 99_999_999
MIN_WAIT_SECONDS = 2
SMS_LIMIT = 300

OverridesFor = Callable[[str], Sequence[Override]]


class Waiting(msgspec.Struct, frozen=True, kw_only=True):
    """`$.engagement` in the state: how long MonitorRecovery waits before the next wake-up and
    its heartbeat (kept below the wait, as Step Functions requires), and what the plan is at."""

    active: bool
    wait_seconds: int
    heartbeat_seconds: int
    status: str = "none"
    stage: int | None = None
    engaged: tuple[str, ...] = ()


def decode(raw: dict[str, Any] | None) -> Engagement | None:
    """The engagement stored on the incident record, if any."""
    return plan_runner.load_engagement(raw) if raw else None


encode = plan_runner.dump_engagement


def waiting(
    engagement: Engagement | None, now: datetime, *, recovery_timeout: int, heartbeat: int
) -> Waiting:
    """The next wait: up to the plan's next event while it is active, else the recovery
    timeout (with the configured heartbeat)."""
    wake = plan_runner.next_wake(engagement) if engagement else None
    if engagement is None or engagement.status != "active" or wake is None:
        return Waiting(
            active=False,
            wait_seconds=recovery_timeout,
            heartbeat_seconds=heartbeat,
            status=engagement.status if engagement else "none",
            stage=_current_stage(engagement),
            engaged=_engaged_names(engagement),
        )
    # The plan's clock is the incident's (a replay's history runs clock_speed() times faster
    # than the machine whose seconds Step Functions waits).
    ahead = (wake - now).total_seconds() / clock_speed()
    wait = max(MIN_WAIT_SECONDS, math.ceil(ahead))
    wait = min(wait, MAX_WAIT_SECONDS)
    return Waiting(
        active=True,
        wait_seconds=wait,
        heartbeat_seconds=max(1, min(heartbeat, wait - 1)),
        status="active",
        stage=_current_stage(engagement),
        engaged=_engaged_names(engagement),
    )


def _current_stage(engagement: Engagement | None) -> int | None:
    if engagement is None or not engagement.stages:
        return None
    return engagement.stages[-1].index


def _engaged_names(engagement: Engagement | None) -> tuple[str, ...]:
    if engagement is None:
        return ()
    names = [p.contact_name for p in engagement.pages if p.status == "sent"]
    return tuple(dict.fromkeys(names))


def page_text(incident: Incident, page: PlannedPage, subject: str, message: str) -> str:
    """The body for one channel: SMS short (a lock screen), email and Slack whole. Every page
    says who it was meant for and how to acknowledge (which stops the plan)."""
    ack = f"Acknowledge: runbook ack {incident.incident_id} --by {page.contact}"
    why = (
        f"You are paged as on-call ({page.via.replace('rotation:', 'rotation ')}), "
        f"escalation stage {page.stage + 1}."
    )
    if page.channel_type == "sms":
        return f"{subject}\n{ack}"[:SMS_LIMIT]
    return f"{message}\n\n{why}\n{ack}"


def send_due(
    config: ResponseConfig,
    engagement: Engagement,
    incident: Incident,
    now: datetime,
    send: Callable[..., tuple[str, str]],
    *,
    subject: str,
    message: str,
) -> tuple[Engagement, list[PlannedPage]]:
    """Send every page that is due; returns the engagement with their outcome, and them."""
    sent: list[PlannedPage] = []
    for page in plan_runner.due(engagement, now):
        status, detail = send(
            config, page, subject=subject, message=page_text(incident, page, subject, message)
        )
        engagement = plan_runner.mark(engagement, page, status=status, at=now, detail=detail)
        sent.append(msgspec.structs.replace(page, status=status, sent_at=iso(now), detail=detail))
    return engagement, sent


def tick(
    config: ResponseConfig,
    engagement: Engagement,
    incident: Incident,
    now: datetime,
    overrides_for: OverridesFor,
    send: Callable[..., tuple[str, str]],
    *,
    subject: str,
    message: str,
) -> tuple[Engagement, list[PlannedPage]]:
    """One wake-up: an acknowledgement (recorded on the incident by whoever acked) or a closed
    incident stops the plan; otherwise begin due stages and send due pages."""
    if engagement.status != "active":
        return engagement, []
    if incident.acknowledged_at or not incident.is_open:
        return settle(engagement, incident, now, f"incident {incident.status}"), []
    engagement = plan_runner.advance(config, engagement, now, overrides_for)
    return send_due(config, engagement, incident, now, send, subject=subject, message=message)


def settle(engagement: Engagement, incident: Incident, now: datetime, reason: str) -> Engagement:
    """The plan's end without a page: acknowledged (at the acknowledgement recorded on the
    incident, also when it recovered before the plan's next wake-up), else stopped now."""
    if incident.acknowledged_at:
        return plan_runner.acknowledge(
            engagement,
            by=incident.acknowledged_by or "unknown",
            at=parse_time(incident.acknowledged_at),
        )
    return plan_runner.stop(engagement, at=now, reason=reason)


def next_wait(engagement: Engagement | None, now: datetime, wait: WaitSettings) -> dict[str, Any]:
    """`$.engagement` as the state carries it (waiting() as plain data)."""
    found = waiting(
        engagement,
        now,
        recovery_timeout=wait.recovery_timeout_seconds,
        heartbeat=wait.heartbeat_seconds,
    )
    state: dict[str, Any] = msgspec.to_builtins(found)
    return state


def timeline_detail(pages: Sequence[PlannedPage]) -> str:
    """`stage 1: Alice Moreau via sms (rotation primary); ...` for the incident's timeline."""
    parts = []
    for page in pages:
        via = page.via.replace("rotation:", "rotation ")
        outcome = "" if page.status == "sent" else f" FAILED ({page.detail})"
        parts.append(
            f"stage {page.stage + 1}: {page.contact_name} via {page.channel} ({via}){outcome}"
        )
    return "; ".join(parts)[:2000]
