"""The replay's clock: history time that runs `speed` times faster than the machine's.

One clock for everything that stamps or compares times during a replay:
- the functions read it from the file named by RUNBOOK_VIRTUAL_CLOCK (shared/virtual_clock.py,
  handed to every Lambda worker by the emulator), so a resolution, a closing or an escalation
  is stamped in history time;
- moto's CloudWatch reads it too (its alarm timestamps, so StateUpdatedTimestamp and the state
  change events carry history time), and each replayed change is pinned to the exact time the
  history gives it, so the runbook sees the events the history had.
Between changes the clock runs at `speed`; `jump` skips a quiet stretch (nothing open,
nothing running) by moving history time on without the machine's time passing.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import moto.cloudwatch.models as cloudwatch_models

from shared.timeutil import VIRTUAL_CLOCK_ENV
from shared.virtual_clock import Anchor, encode

ENV_NAME = VIRTUAL_CLOCK_ENV


class ReplayClock:
    """History time for one replay; `path` is the file the functions read."""

    def __init__(self, path: Path, wall: Callable[[], float] = time.time) -> None:
        self.path = path
        self._wall = wall
        self._lock = threading.Lock()
        self._pinned: datetime | None = None
        now = wall()
        # Until the replay starts, history time is the machine's (deploying, creating alarms).
        self._anchor = Anchor(virtual=now, wall=now, speed=1.0)
        self._write()

    # -- the mapping -------------------------------------------------------------------------
    @property
    def anchor(self) -> Anchor:
        with self._lock:
            return self._anchor

    def start(self, at: datetime, speed: float, lead_seconds: float = 1.0) -> None:
        """From `lead_seconds` from now on, history time `at` runs at `speed`."""
        self._set(Anchor(virtual=at.timestamp(), wall=self._wall() + lead_seconds, speed=speed))

    def jump(self, to: datetime, lead_seconds: float = 0.5) -> None:
        """Skip history time: `to` comes `lead_seconds` from now (only forward)."""
        current = self.anchor
        if to.timestamp() <= current.at(self._wall() + lead_seconds):
            return
        self._set(
            Anchor(virtual=to.timestamp(), wall=self._wall() + lead_seconds, speed=current.speed)
        )

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.anchor.at(self._wall()), tz=UTC)

    def wall_at(self, at: datetime) -> float:
        """When (machine time) history time `at` comes."""
        return self.anchor.wall_at(at.timestamp())

    def sleep_until(self, at: datetime) -> None:
        delay = self.wall_at(at) - self._wall()
        if delay > 0:
            time.sleep(delay)

    def _set(self, anchor: Anchor) -> None:
        with self._lock:
            self._anchor = anchor
        self._write()

    def _write(self) -> None:
        """Atomically, so a function never reads half a file."""
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        tmp.write_bytes(encode(self.anchor))
        os.replace(tmp, self.path)

    # -- moto's CloudWatch ---------------------------------------------------------------
    def _moto_now(self) -> datetime:
        pinned = self._pinned
        moment = pinned if pinned is not None else self.now()
        return moment.astimezone(UTC).replace(tzinfo=None)  # moto keeps naive UTC times

    @contextmanager
    def moto_follows(self) -> Iterator[None]:
        """moto's CloudWatch stamps alarms with this clock while the block runs."""
        original = cloudwatch_models.utcnow
        cloudwatch_models.utcnow = self._moto_now
        try:
            yield
        finally:
            cloudwatch_models.utcnow = original

    @contextmanager
    def pinned(self, at: datetime) -> Iterator[None]:
        """moto's CloudWatch time is exactly `at` while the block runs (one change at a time)."""
        with self._lock:
            self._pinned = at
        try:
            yield
        finally:
            with self._lock:
                self._pinned = None
