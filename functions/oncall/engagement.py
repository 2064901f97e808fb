"""One escalation plan run for one incident (docs/oncall.md, "Escalation"), as pure state.

The `Engagement` lives on the incident record; the workflow calls `advance` when `next_wake`
comes, sends what `due` returns and records each outcome with `mark`. Nothing here reads a
clock or calls AWS: who is on call comes from `overrides_for` and `rotation.on_call`, so the
whole escalation is a unit test.

- Stage n+1 begins at stage n's `ends_at` (not when `advance` happened to run), and rotations
  are asked who is on call at that moment.
- A contact is engaged once per engagement: twice in one stage, or again in a later stage,
  pages nobody twice. Engaging pages each channel at its offset from the stage's beginning,
  even after that stage ended, until somebody acknowledges or the incident closes.
- After the last stage ends the plan is exhausted (the escalation topic's turn); pages owed to
  contacts engaged before that are still sent: `next_wake` names them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import msgspec

from oncall.declaration import EscalationPlan, ResponseConfig, ResponsePlan
from oncall.rotation import Override, on_call
from shared.records import read
from shared.timeutil import iso, parse_time

PageStatus = Literal["pending", "sent", "failed", "cancelled"]
Status = Literal["active", "acknowledged", "exhausted", "stopped"]
OverridesFor = Callable[[str], Sequence[Override]]
_MARKS = ("sent", "failed", "cancelled")


class EngagementError(ValueError):
    """A malformed stored engagement or a request that does not fit it; names the field."""


class PlannedPage(msgspec.Struct, frozen=True, kw_only=True):
    """One channel of one contact, due at `due_at`; `via` says which target engaged them."""

    stage: int
    contact: str
    contact_name: str
    channel: str
    channel_type: str
    via: str  # "rotation:<id>" | "contact"
    due_at: str
    status: PageStatus = "pending"
    sent_at: str | None = None
    detail: str = ""


class StageRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A stage that began: whom it engaged, why a target engaged nobody (`nobody`), and
    who it targeted that an earlier stage had engaged already (`already_engaged`)."""

    index: int
    started_at: str
    ends_at: str
    contacts: tuple[str, ...]
    nobody: tuple[str, ...] = ()
    already_engaged: tuple[str, ...] = ()


class Engagement(msgspec.Struct, frozen=True, kw_only=True):
    plan: str
    response_plan: str
    started_at: str
    stages: tuple[StageRecord, ...]
    pages: tuple[PlannedPage, ...]
    status: Status = "active"
    acknowledged_by: str | None = None
    acknowledged_at: str | None = None
    ack_stage: int | None = None
    stopped_reason: str = ""
    stopped_at: str | None = None
    exhausted_at: str | None = None

    @property
    def engaged(self) -> tuple[str, ...]:
        """Every contact engaged so far, in the order they were."""
        return tuple(c for stage in self.stages for c in stage.contacts)


def load_engagement(data: Any) -> Engagement:
    """An engagement as stored on the incident (plain dicts); EngagementError if malformed."""
    return read(Engagement, data, "engagement", error=EngagementError)


def dump_engagement(engagement: Engagement) -> dict[str, Any]:
    """Plain dicts for the incident record and the execution state."""
    dumped: dict[str, Any] = msgspec.to_builtins(engagement)
    return dumped


def _second(moment: datetime) -> datetime:
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return aware.replace(microsecond=0)


def _targets(
    config: ResponseConfig, plan: EscalationPlan, index: int, at: datetime, ask: OverridesFor
) -> tuple[list[tuple[str, str]], list[str]]:
    """(contact, via) for each target of stage `index` at `at`, and why some engage nobody."""
    engaged: list[tuple[str, str]] = []
    nobody: list[str] = []
    for target in plan.stages[index].targets:
        if target.contact is not None:
            engaged.append((target.contact, "contact"))
            continue
        rotation_id = target.rotation or ""
        rotation = config.rotations.get(rotation_id)
        if rotation is None:
            nobody.append(f"rotation {rotation_id}: not declared any more")
            continue
        answer = on_call(rotation, at, ask(rotation_id))
        if not answer.contacts:
            nobody.append(f"rotation {rotation_id}: {answer.reason}")
        engaged += [(contact, f"rotation:{rotation_id}") for contact in answer.contacts]
    return engaged, nobody


def _begin(
    config: ResponseConfig,
    plan: EscalationPlan,
    engagement: Engagement,
    index: int,
    at: datetime,
    ask: OverridesFor,
) -> Engagement:
    stage = plan.stages[index]
    before = set(engagement.engaged)
    targeted, nobody = _targets(config, plan, index, at, ask)
    via: dict[str, str] = {}
    already: list[str] = []
    for contact_id, how in targeted:
        if contact_id in before:
            already.append(contact_id)
        elif contact_id not in config.contacts:
            nobody.append(f"contact {contact_id} ({how}): not declared")
        else:
            via.setdefault(contact_id, how)
    pages = []
    for contact_id, how in via.items():
        contact = config.contacts[contact_id]
        for step in contact.engagement:
            channel = contact.channel(step.channel)
            pages.append(
                PlannedPage(
                    stage=index,
                    contact=contact_id,
                    contact_name=contact.name,
                    channel=channel.name,
                    channel_type=channel.type,
                    via=how,
                    due_at=iso(at + timedelta(seconds=step.after_seconds)),
                )
            )
    record = StageRecord(
        index=index,
        started_at=iso(at),
        ends_at=iso(at + timedelta(seconds=stage.duration_seconds)),
        contacts=tuple(via),
        nobody=tuple(dict.fromkeys(nobody)),
        already_engaged=tuple(dict.fromkeys(already)),
    )
    return msgspec.structs.replace(
        engagement,
        stages=(*engagement.stages, record),
        pages=(*engagement.pages, *pages),
    )


def start(
    config: ResponseConfig, plan: ResponsePlan, now: datetime, overrides_for: OverridesFor
) -> Engagement | None:
    """Begin the plan's escalation (its first stage engages at `now`); None when the
    response plan escalates to nobody."""
    if plan.escalation_plan is None:
        return None
    escalation = config.escalation_plan(plan.escalation_plan)
    now = _second(now)
    engagement = Engagement(
        plan=escalation.id, response_plan=plan.id, started_at=iso(now), stages=(), pages=()
    )
    engagement = _begin(config, escalation, engagement, 0, now, overrides_for)
    return advance(config, engagement, now, overrides_for)


def advance(
    config: ResponseConfig, engagement: Engagement, now: datetime, overrides_for: OverridesFor
) -> Engagement:
    """Begin every stage whose time has come; exhausted once the last one has ended."""
    if engagement.status != "active" or not engagement.stages:
        return engagement
    plan = config.escalation_plans.get(engagement.plan)
    now = _second(now)
    if plan is None:  # redeployed without it mid-incident: the escalation topic takes over
        return msgspec.structs.replace(
            engagement,
            status="exhausted",
            exhausted_at=iso(now),
            stopped_reason=f"escalation plan {engagement.plan} is not declared any more",
        )
    while True:
        last = engagement.stages[-1]
        ends = parse_time(last.ends_at)
        if now < ends:
            return engagement
        if last.index + 1 < len(plan.stages):
            engagement = _begin(config, plan, engagement, last.index + 1, ends, overrides_for)
            continue
        return msgspec.structs.replace(engagement, status="exhausted", exhausted_at=last.ends_at)


def due(engagement: Engagement, now: datetime) -> list[PlannedPage]:
    """Pending pages whose time has come, earliest first (listed order among equals)."""
    now = _second(now)
    found = [
        page
        for page in engagement.pages
        if page.status == "pending" and parse_time(page.due_at) <= now
    ]
    return sorted(found, key=lambda page: page.due_at)


def mark(
    engagement: Engagement, page: PlannedPage, *, status: str, at: datetime, detail: str = ""
) -> Engagement:
    """Record what became of one page (`sent`, `failed` or `cancelled`)."""
    if status not in _MARKS:
        raise EngagementError(f"status: {status!r} is not one of {', '.join(_MARKS)}")
    key = (page.stage, page.contact, page.channel)
    pages = list(engagement.pages)
    for n, planned in enumerate(pages):
        if (planned.stage, planned.contact, planned.channel) == key:
            sent_at = iso(_second(at)) if status != "cancelled" else planned.sent_at
            pages[n] = msgspec.structs.replace(
                planned,
                status=status,  # one of _MARKS (checked above)
                sent_at=sent_at,
                detail=detail,
            )
            return msgspec.structs.replace(engagement, pages=tuple(pages))
    raise EngagementError(
        f"page: stage {page.stage} {page.contact}/{page.channel} is not in this engagement"
    )


def next_wake(engagement: Engagement) -> datetime | None:
    """When to look again: the earliest pending page, or the current stage's end (the next
    stage, or exhaustion). Exhausted with pages still owed: the earliest of those. None when
    nothing more will happen."""
    pending = [parse_time(p.due_at) for p in engagement.pages if p.status == "pending"]
    if engagement.status == "active" and engagement.stages:
        return min([*pending, parse_time(engagement.stages[-1].ends_at)])
    if engagement.status == "exhausted" and pending:
        return min(pending)
    return None


def _cancelled(pages: tuple[PlannedPage, ...], detail: str) -> tuple[PlannedPage, ...]:
    return tuple(
        msgspec.structs.replace(p, status="cancelled", detail=detail)
        if p.status == "pending"
        else p
        for p in pages
    )


def acknowledge(engagement: Engagement, *, by: str, at: datetime) -> Engagement:
    """Somebody owns it: nothing more is paged. `ack_stage` is the stage in force at `at`
    (the last stage begun, so advance to `at` first). The first acknowledgement stands."""
    if engagement.status in ("acknowledged", "stopped"):
        return engagement
    at = _second(at)
    begun = [s.index for s in engagement.stages if parse_time(s.started_at) <= at]
    stage = begun[-1] if begun else (engagement.stages[0].index if engagement.stages else None)
    return msgspec.structs.replace(
        engagement,
        status="acknowledged",
        acknowledged_by=by,
        acknowledged_at=iso(at),
        ack_stage=stage,
        pages=_cancelled(engagement.pages, f"acknowledged by {by}"),
    )


def stop(engagement: Engagement, *, at: datetime, reason: str) -> Engagement:
    """The incident closed: nothing more is paged (an acknowledged plan stays as it was)."""
    if engagement.status in ("acknowledged", "stopped"):
        return engagement
    return msgspec.structs.replace(
        engagement,
        status="stopped",
        stopped_reason=reason,
        stopped_at=iso(_second(at)),
        pages=_cancelled(engagement.pages, f"stopped: {reason}"),
    )


def time_to_ack(engagement: Engagement) -> list[tuple[int, int | None]]:
    """Per stage begun: seconds from its start to the acknowledgement, None for the stages
    it did not happen in."""
    acked = parse_time(engagement.acknowledged_at) if engagement.acknowledged_at else None
    out: list[tuple[int, int | None]] = []
    for stage in engagement.stages:
        if acked is not None and stage.index == engagement.ack_stage:
            seconds = int((acked - parse_time(stage.started_at)).total_seconds())
            out.append((stage.index, max(0, seconds)))
        else:
            out.append((stage.index, None))
    return out
