"""Correlation: what one signal does to the incidents (docs/ingest.md, "Correlation").

In order: a redelivered signal is a duplicate; a signal whose key has an open incident joins it;
a closed Health update is only recorded; a key whose incident closed within the reopen window
reopens it; a signal sharing a resource (within the correlation window) or an AWS Health
service and region (while that issue is open) folds into that incident; anything else opens a
new incident. Every step is a compare-and-swap (claims.py, correlation_store.py); a lost race
re-reads and tries again, so concurrent deliveries end in one incident and one workflow.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Literal

import msgspec

from incidents.claims import Claim, ClaimStore
from incidents.classification import Classification, more_severe
from incidents.correlation_keys import HEALTH_SERVICES
from incidents.correlation_store import SIGNAL_IDS_CAP, TIMELINE_CAP, CorrelationStore
from incidents.model import Incident, Severity
from incidents.policy import IngestPolicy
from incidents.repository import IncidentRepository
from incidents.signal import Signal
from shared.errors import TransientDependencyError
from shared.timeutil import iso, parse_time, wallnow

Status = Literal["opened", "duplicate", "correlated", "folded", "reopened", "recorded", "late"]
Classifier = Callable[[Signal], Classification]

# A claimed start that has not produced an execution after this long is taken over (the
# delivery that claimed it died); a duplicate polls this long for the run to appear.
START_STALE_AFTER = timedelta(seconds=5)
START_POLL_SECONDS = 0.25
START_WAITS = 36
MAX_ATTEMPTS = 25
MAX_MARKED = 50


class _Pending:
    """A claim names an incident that is still being written: wait and look again."""


PENDING = _Pending()


class Outcome(msgspec.Struct, kw_only=True, frozen=True):
    """What ingest did; `start` names the execution to start now (None: nothing to start)."""

    status: Status
    incident_id: str | None
    start: str | None = None
    upgraded_to: Severity | None = None
    reason: str = ""
    execution_arn: str | None = None
    # An upgrade's page the record says is still owed (a failed publish): ingest sends it.
    page_pending: Severity | None = None


def run_name(incident: Incident) -> str:
    """The execution the incident should have: its id, then `<id>-r<n>` after each reopen."""
    count = incident.reopen_count or 0
    return incident.incident_id if not count else f"{incident.incident_id}-r{count}"


class Correlator:
    """Correlates signals over one table; `classifier` decides a joining signal's severity."""

    def __init__(
        self,
        table: object,
        policy: IngestPolicy,
        classifier: Classifier,
        *,
        clock: Callable[[], datetime] = wallnow,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.claims = ClaimStore(table)
        self.store = CorrelationStore(table)
        self.repo = IncidentRepository(table)
        self.policy = policy
        self._classifier = classifier
        self._clock = clock
        self._sleep = sleep

    def ingest(self, signal: Signal) -> Outcome:
        """Apply the signal; TransientDependencyError if the table kept changing under it."""
        signal_id = signal.incident_id()
        if signal.record:
            self.store.put_health_item(signal.record)
        for attempt in range(MAX_ATTEMPTS):
            outcome = self._attempt(signal, signal_id)
            if outcome is not None:
                return outcome
            self._sleep(random.uniform(0, min(0.02 * 2**attempt, 0.5)))  # noqa: S311
        raise TransientDependencyError(f"correlation of {signal_id} kept racing; retry")

    # -- one attempt -----------------------------------------------------------------------
    def _attempt(self, signal: Signal, signal_id: str) -> Outcome | None:
        opened = self.repo.find(signal_id)
        if opened is not None:  # this very signal opened an incident: a redelivery
            return self._again(opened, "duplicate")
        key_claim = self.claims.read(signal.correlation_key)
        current = self._holder(key_claim)
        if current is PENDING:
            return None
        assert not isinstance(current, _Pending)
        if current is not None and current.is_open:
            return self._join(current, signal, signal_id, "correlated", signal.correlation_key)
        if not signal.opens_incident:
            return Outcome(status="recorded", incident_id=current.incident_id if current else None)
        if current is not None:
            decided = self._after_close(current, signal, signal_id)
            if decided != "new":
                return decided
        folded = self._fold_target(signal)
        if folded is PENDING:
            return None
        assert not isinstance(folded, _Pending)
        target, via, reads = folded
        if target is not None:
            if not self.claims.swap(signal.correlation_key, target.incident_id, key_claim.current):
                return None
            return self._join(target, signal, signal_id, "folded", via)
        return self._open(signal, signal_id, key_claim, reads)

    def _holder(self, claim: Claim) -> Incident | _Pending | None:
        """The incident a claim names; PENDING while a fresh claim's incident is being written."""
        if not claim.current:
            return None
        incident = self.repo.find(claim.current)
        if incident is None and claim.pending(self._clock()):
            return PENDING
        return incident

    # -- joining ---------------------------------------------------------------------------
    def _join(
        self, target: Incident, signal: Signal, signal_id: str, status: Status, via: str
    ) -> Outcome | None:
        shared = status == "folded"
        new_resources = [r for r in signal.resources if r not in target.resources] if shared else []
        detail = f"{signal.title} (shares {via})" if shared else signal.title
        flags = (True, True)
        for _ in range(3):
            joined = self.store.join(
                target.incident_id,
                signal_id,
                at=self._last_signal_at(target, signal),
                event=status,
                detail=detail,
                key=signal.correlation_key,
                resources=new_resources,
                with_timeline=flags[0],
                with_ids=flags[1],
            )
            if joined:
                upgraded = self._upgrade(target, signal)
                return self._again(target, status, upgraded)
            item = self.store.item(target.incident_id)
            if item is None:
                return None
            incident = Incident.from_item(item)
            if signal_id in item.get("signal_ids", set()) or self.store.seen(signal_id):
                return self._again(incident, "duplicate")
            if not incident.is_open:
                return None
            flags = (
                len(item.get("timeline", [])) < TIMELINE_CAP,
                len(item.get("signal_ids", set())) < SIGNAL_IDS_CAP,
            )
        return None

    @staticmethod
    def _last_signal_at(target: Incident, signal: Signal) -> str:
        at = iso(signal.occurred_at)
        return max(at, target.last_signal_at or "")

    def _upgrade(self, target: Incident, signal: Signal) -> Severity | None:
        decided = self._classifier(signal)
        if not more_severe(decided.severity, target.severity):
            return None
        rule = f"upgraded: {decided.rule} ({signal.title})"
        if self.store.upgrade(target.incident_id, decided.severity, rule, signal.title):
            return decided.severity
        return None

    # -- closed incidents: reopen, or a late signal ----------------------------------------
    def _after_close(
        self, closed: Incident, signal: Signal, signal_id: str
    ) -> Outcome | Literal["new"] | None:
        closed_at = parse_time(closed.closed_at() or closed.opened_at)
        since = signal.occurred_at - closed_at
        if since < timedelta(0):
            return self._late(closed, signal, signal_id)
        if since > self.policy.reopen_window:
            return "new"
        detail = f"{signal.title} ({int(since.total_seconds())} s after closing)"
        seen = closed.reopen_count or 0
        at = iso(signal.occurred_at)
        if self.store.reopen(
            closed.incident_id, signal_id, at=at, seen_reopens=seen, detail=detail
        ):
            name = f"{closed.incident_id}-r{seen + 1}"
            return Outcome(status="reopened", incident_id=closed.incident_id, start=name)
        item = self.store.item(closed.incident_id)
        if item is not None and signal_id in item.get("signal_ids", set()):
            return self._again(Incident.from_item(item), "duplicate")
        return None

    def _late(self, closed: Incident, signal: Signal, signal_id: str) -> Outcome | None:
        """A signal that fired before its incident closed, delivered after (EventBridge retries
        for hours): kept on the closed incident's timeline and counted, never reopening it."""
        detail = f"{signal.title} (fired before the incident closed, delivered after)"
        flags = (True, True)
        for _ in range(3):
            if self.store.join(
                closed.incident_id,
                signal_id,
                at=self._last_signal_at(closed, signal),
                event="late signal",
                detail=detail,
                key=signal.correlation_key,
                with_timeline=flags[0],
                with_ids=flags[1],
                require_open=False,
            ):
                return Outcome(
                    status="late",
                    incident_id=closed.incident_id,
                    reason="fired before the incident closed",
                )
            item = self.store.item(closed.incident_id)
            if item is None:
                return None
            if signal_id in item.get("signal_ids", set()) or self.store.seen(signal_id):
                return self._again(Incident.from_item(item), "duplicate")
            flags = (
                len(item.get("timeline", [])) < TIMELINE_CAP,
                len(item.get("signal_ids", set())) < SIGNAL_IDS_CAP,
            )
        return None

    # -- folding ---------------------------------------------------------------------------
    def _fold_target(
        self, signal: Signal
    ) -> tuple[Incident | None, str, dict[str, Claim]] | _Pending:
        reads: dict[str, Claim] = {}
        if self.policy.fold_by_resource:
            for key in signal.fold_keys:
                claim = reads[key] = self.claims.read(key)
                holder = self._holder(claim)
                if holder is PENDING:
                    return PENDING
                if isinstance(holder, Incident) and holder.is_open and self._near(holder, signal):
                    return holder, key, reads
        if signal.kind != "health":
            for key in signal.service_keys:
                holder = self._holder(self.claims.read(key))
                if isinstance(holder, Incident) and holder.is_open and holder.aws_side:
                    return holder, key, reads
        return None, "", reads

    def _near(self, incident: Incident, signal: Signal) -> bool:
        last = parse_time(incident.last_signal_at or incident.opened_at)
        return abs(signal.occurred_at - last) <= self.policy.correlation_window

    # -- opening ---------------------------------------------------------------------------
    def _open(
        self, signal: Signal, signal_id: str, key_claim: Claim, reads: dict[str, Claim]
    ) -> Outcome | None:
        if not self.claims.swap(signal.correlation_key, signal_id, key_claim.current):
            return None
        folds = (
            sorted(k for k in signal.fold_keys if k.startswith("resource:"))
            if self.policy.fold_by_resource
            else []
        )
        taken: list[tuple[str, str | None]] = []
        for key in folds:
            seen = (reads.get(key) or self.claims.read(key)).current
            if not self.claims.swap(key, signal_id, seen):
                # Another incident took a shared resource meanwhile: undo, then fold into it.
                for undo, before in taken:
                    self.claims.swap(undo, before, signal_id)
                self.claims.swap(signal.correlation_key, key_claim.current, signal_id)
                return None
            taken.append((key, seen))
        incident = signal.to_incident(signal_id)
        if not self.store.create(incident, signal_id, starting=signal_id):
            return self._again(self.repo.get(signal_id), "duplicate")
        if signal.aws_side:
            self._hold_services(signal, signal_id)
        return Outcome(status="opened", incident_id=signal_id, start=signal_id)

    def _hold_services(self, signal: Signal, incident_id: str) -> None:
        """An AWS Health issue holds its service and region, and marks what is open there."""
        for key in signal.service_keys:
            claim = self.claims.read(key)
            holder = self._holder(claim)
            if not (isinstance(holder, Incident) and holder.is_open):
                self.claims.swap(key, incident_id, claim.current)
        service = signal.service_keys[0].rsplit(":", 1)[-1] if signal.service_keys else ""
        event_arn = (signal.record or {}).get("event_arn", signal.correlation_key)
        detail = f"AWS Health issue {event_arn} ({service} in {signal.region})"
        for incident in self._open_incidents():
            if incident.incident_id == incident_id or incident.aws_side:
                continue
            if incident.region != signal.region or incident.account not in (None, signal.account):
                continue
            if any(HEALTH_SERVICES.get(r.type) == service for r in incident.resources):
                self.store.mark_aws_side(incident.incident_id, str(event_arn), detail)

    def _open_incidents(self) -> list[Incident]:
        found: list[Incident] = []
        for status in ("OPEN", "MONITORING"):
            found += self.repo.list(status=status, limit=MAX_MARKED)
        return found

    # -- starting the workflow -------------------------------------------------------------
    def _again(
        self, incident: Incident, status: Status, upgraded: Severity | None = None
    ) -> Outcome:
        """The outcome for an incident that exists. It names a run to start only when the
        incident's current run was never started and whoever claimed starting it went quiet
        (it died between writing the incident and starting the run). A duplicate waits a
        moment for the run first: it is often the same event, delivered twice at once, or
        the retry of the delivery that died."""
        name = run_name(incident)
        waits = START_WAITS if status == "duplicate" else 1
        for attempt in range(waits):
            if incident.execution_arn and incident.execution_arn.endswith(f":{name}"):
                return Outcome(
                    status=status,
                    incident_id=incident.incident_id,
                    upgraded_to=upgraded,
                    execution_arn=incident.execution_arn,
                    page_pending=incident.upgrade_page_pending,
                )
            if not incident.is_open:
                break
            stale = iso(self._clock() - START_STALE_AFTER)
            if self.store.claim_start(incident.incident_id, name, stale):
                return Outcome(
                    status=status,
                    incident_id=incident.incident_id,
                    start=name,
                    upgraded_to=upgraded,
                    page_pending=incident.upgrade_page_pending,
                )
            if attempt + 1 < waits:
                self._sleep(START_POLL_SECONDS)
                found = self.repo.find(incident.incident_id)
                if found is None:
                    break
                incident, name = found, run_name(found)
        return Outcome(
            status=status,
            incident_id=incident.incident_id,
            upgraded_to=upgraded,
            page_pending=incident.upgrade_page_pending,
        )
