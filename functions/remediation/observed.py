"""What one diagnostics run saw, read the same way from either form it is kept in: the step's
result in the workflow state (`{"status", "summary", "evidence_uri"}`, docs/diagnostics.md)
or the full evidence document in S3 (`incidents/<id>/diagnostics.json`).

The evidence document is complete: every finding with its source, status and causes. The
summary is trimmed for the state: the verdict's causes (those of the verdict's fault domain,
with resources) and the codes seen on other rungs (`other_evidence`, without resources or
source). A cause read from the summary may therefore have no known source and, for codes of
other rungs, no known resources; the diff (diff.py) says so rather than guess.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from diagnostics.finding import FAILED_STATUSES, OK

UNDETERMINED = "undetermined"


class ObservedCause(msgspec.Struct, frozen=True, kw_only=True):
    """A known cause as recorded. `resources` None: not recorded (summary, other rungs);
    `source` '': not recorded (summary)."""

    code: str
    domain: str = ""
    title: str = ""
    resources: tuple[str, ...] | None = ()
    source: str = ""


class ObservedSource(msgspec.Struct, frozen=True, kw_only=True):
    source: str
    target: str
    status: str
    message: str = ""


class Observation(msgspec.Struct, frozen=True, kw_only=True):
    """One diagnostics run: its verdict, causes and per-source statuses."""

    domain: str = UNDETERMINED
    headline: str = ""
    causes: tuple[ObservedCause, ...] = ()
    sources: tuple[ObservedSource, ...] = ()
    collected_at: str = ""
    complete: bool = False  # read from the evidence document (every finding, every cause)

    @property
    def codes(self) -> frozenset[str]:
        return frozenset(c.code for c in self.causes)

    @property
    def failed_sources(self) -> frozenset[str]:
        """Sources that could not tell anything (throttled, timed out, errored)."""
        return frozenset(s.source for s in self.sources if s.status in FAILED_STATUSES)

    def ran_cleanly(self, source: str) -> bool:
        """Did `source` answer (status ok) for every target it had?"""
        mine = [s for s in self.sources if s.source == source]
        return bool(mine) and all(s.status == OK for s in mine)


def _strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(str(v) for v in value if v not in (None, ""))


def _cause(raw: Mapping[str, Any], source: str = "") -> ObservedCause | None:
    code = raw.get("code")
    if not isinstance(code, str) or not code:
        return None
    return ObservedCause(
        code=code,
        domain=str(raw.get("domain") or ""),
        title=str(raw.get("title") or ""),
        resources=_strings(raw.get("resources")),
        source=source,
    )


def _source(raw: Mapping[str, Any]) -> ObservedSource:
    return ObservedSource(
        source=str(raw.get("source") or ""),
        target=str(raw.get("target") or ""),
        status=str(raw.get("status") or ""),
        message=str(raw.get("message") or "")[:300],
    )


def _verdict(holder: Mapping[str, Any]) -> Mapping[str, Any]:
    verdict = holder.get("verdict")
    return verdict if isinstance(verdict, Mapping) else {}


def from_evidence(document: Mapping[str, Any]) -> Observation:
    """Every finding's causes, less those whose required symptom nobody saw (the verdict's
    own rule, diagnostics/verdict.py `standing`)."""
    findings = [f for f in document.get("findings") or [] if isinstance(f, Mapping)]
    raw = [
        (str(f.get("source") or ""), c)
        for f in findings
        for c in f.get("causes") or []
        if isinstance(c, Mapping)
    ]
    seen = {str(c.get("code")) for _, c in raw}
    causes = tuple(
        cause
        for source, c in raw
        if not (requires := _strings(c.get("requires"))) or seen.intersection(requires)
        if (cause := _cause(c, source)) is not None
    )
    verdict = _verdict(document)
    return Observation(
        domain=str(verdict.get("domain") or UNDETERMINED),
        headline=str(verdict.get("headline") or ""),
        causes=causes,
        sources=tuple(_source(f) for f in findings),
        collected_at=str(document.get("collected_at") or ""),
        complete=True,
    )


def from_result(result: Mapping[str, Any]) -> Observation:
    """The step's result in the state: the verdict's causes, the other rungs' codes (with
    no resources recorded) and the per-source statuses."""
    summary = result.get("summary")
    summary = summary if isinstance(summary, Mapping) else {}
    verdict = _verdict(summary)
    causes = [
        c for raw in verdict.get("causes") or [] if isinstance(raw, Mapping) if (c := _cause(raw))
    ]
    known = {c.code for c in causes}
    causes += [
        ObservedCause(code=code, resources=None)
        for code in _strings(verdict.get("other_evidence"))
        if code not in known
    ]
    window = summary.get("window")
    ended = str(window.get("end") or "") if isinstance(window, Mapping) else ""
    return Observation(
        domain=str(verdict.get("domain") or UNDETERMINED),
        headline=str(verdict.get("headline") or ""),
        causes=tuple(causes),
        sources=tuple(_source(s) for s in summary.get("sources") or [] if isinstance(s, Mapping)),
        collected_at=ended,
    )


def observe(
    result: Mapping[str, Any] | None, evidence: Mapping[str, Any] | None = None
) -> Observation:
    """From the evidence document when there is one (complete), else from the step's result;
    an absent or failed diagnostics run observes nothing."""
    if evidence and isinstance(evidence.get("findings"), list):
        return from_evidence(evidence)
    if result:
        return from_result(result)
    return Observation()
