"""Before and after: what the diagnostics saw before the remediation and what they see after it
(or at recovery), cause by cause and resource by resource.

Causes are compared by (code, resource): `ec2.system_status_impaired` on i-1 before and not
after went away, on i-2 both times stayed, on i-3 only after is new. A cause counts as gone
only if whoever reported it looked again and answered: if its source could not be read the
second time (throttled, timed out) it is "not re-checked", not "gone". Causes read from a
summary may lack their source or resources (observed.py); then the code is compared alone and
the row says the resources were not recorded. Source statuses that changed are listed too (a
source that failed before and answers now, or the reverse).
"""

from __future__ import annotations

from typing import Literal

import msgspec

from remediation.observed import Observation, ObservedCause

Change = Literal["gone", "stayed", "new", "unchecked"]
ORDER: tuple[Change, ...] = ("gone", "stayed", "new", "unchecked")


class CauseChange(msgspec.Struct, frozen=True, kw_only=True):
    """One cause on one resource ('' when the cause names none; None when not recorded)."""

    change: Change
    code: str
    resource: str | None = ""
    title: str = ""
    domain: str = ""
    why: str = ""  # for `unchecked`: the source that could not be read


class SourceChange(msgspec.Struct, frozen=True, kw_only=True):
    source: str
    target: str
    before: str  # status, or "" when the source did not run
    after: str


class VerdictBrief(msgspec.Struct, frozen=True, kw_only=True):
    domain: str
    headline: str
    collected_at: str = ""


class FindingsDiff(msgspec.Struct, frozen=True, kw_only=True):
    before: VerdictBrief
    after: VerdictBrief
    causes: list[CauseChange] = msgspec.field(default_factory=list)
    sources: list[SourceChange] = msgspec.field(default_factory=list)

    def of(self, change: Change) -> list[CauseChange]:
        return [c for c in self.causes if c.change == change]

    @property
    def improved(self) -> bool:
        """Something went away and nothing new appeared."""
        return bool(self.of("gone")) and not self.of("new")


_Key = tuple[str, str]


def _keys(causes: tuple[ObservedCause, ...]) -> dict[_Key, ObservedCause]:
    """(code, resource) -> cause, for causes whose resources were recorded."""
    keyed: dict[_Key, ObservedCause] = {}
    for cause in causes:
        if cause.resources is None:
            continue
        for resource in cause.resources or ("",):
            keyed.setdefault((cause.code, resource), cause)
    return keyed


def _unrecorded(causes: tuple[ObservedCause, ...]) -> set[str]:
    return {c.code for c in causes if c.resources is None}


def _unchecked_why(cause: ObservedCause, after: Observation) -> str:
    """Why an absent cause cannot be called gone ('' when it can)."""
    if cause.source:
        if after.ran_cleanly(cause.source):
            return ""
        mine = [s for s in after.sources if s.source == cause.source]
        if not mine:
            return f"{cause.source} did not run again"
        return f"{cause.source} answered {', '.join(sorted({s.status for s in mine}))}"
    failed = sorted(after.failed_sources)
    return f"{', '.join(failed)} could not be read" if failed else ""


def _change(
    change: Change, key: _Key | tuple[str, None], cause: ObservedCause, why: str = ""
) -> CauseChange:
    return CauseChange(
        change=change,
        code=key[0],
        resource=key[1],
        title=cause.title,
        domain=cause.domain,
        why=why,
    )


def diff(before: Observation, after: Observation) -> FindingsDiff:
    """What went away, what stayed, what is new, and what could not be re-checked."""
    was, now = _keys(before.causes), _keys(after.causes)
    was_codes, now_codes = _unrecorded(before.causes), _unrecorded(after.causes)
    changes: list[CauseChange] = []
    for key, cause in was.items():
        if key in now:
            changes.append(_change("stayed", key, now[key]))
        elif key[0] in now_codes:
            # Seen again on another rung of the verdict, resources not recorded there.
            changes.append(_change("stayed", key, cause, "seen again; resources not recorded"))
        elif why := _unchecked_why(cause, after):
            changes.append(_change("unchecked", key, cause, why))
        else:
            changes.append(_change("gone", key, cause))
    for key, cause in now.items():
        if key not in was and key[0] not in was_codes:
            changes.append(_change("new", key, cause))
    seen_before = {c.code for c in before.causes}
    seen_after = {c.code for c in after.causes}
    for code in sorted(was_codes - {k[0] for k in was}):
        cause = next(c for c in before.causes if c.code == code)
        if code in seen_after:
            changes.append(_change("stayed", (code, None), cause))
        elif why := _unchecked_why(cause, after):
            changes.append(_change("unchecked", (code, None), cause, why))
        else:
            changes.append(_change("gone", (code, None), cause))
    for code in sorted(now_codes - {k[0] for k in now} - seen_before):
        cause = next(c for c in after.causes if c.code == code)
        changes.append(_change("new", (code, None), cause))
    changes.sort(key=lambda c: (ORDER.index(c.change), c.code, c.resource or ""))
    return FindingsDiff(
        before=VerdictBrief(
            domain=before.domain, headline=before.headline, collected_at=before.collected_at
        ),
        after=VerdictBrief(
            domain=after.domain, headline=after.headline, collected_at=after.collected_at
        ),
        causes=changes,
        sources=_source_changes(before, after),
    )


def _source_changes(before: Observation, after: Observation) -> list[SourceChange]:
    was = {(s.source, s.target): s.status for s in before.sources}
    now = {(s.source, s.target): s.status for s in after.sources}
    return [
        SourceChange(source=key[0], target=key[1], before=was.get(key, ""), after=now.get(key, ""))
        for key in sorted(set(was) | set(now))
        if was.get(key, "") != now.get(key, "")
    ]
