"""The replay's clock (runbook/replay/clock.py): one mapping for the functions (through the
file) and for moto's CloudWatch (patched while a replay runs)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import moto.cloudwatch.models as cloudwatch_models

from runbook.replay.clock import ReplayClock
from shared.virtual_clock import read_anchor, virtual_time

HISTORY = datetime(2024, 5, 1, 6, 0, tzinfo=UTC)


class FakeWall:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_before_the_start_history_time_is_the_machines(tmp_path: Path) -> None:
    wall = FakeWall()
    clock = ReplayClock(tmp_path / "clock.json", wall)
    assert clock.now() == datetime.fromtimestamp(wall.now, tz=UTC)
    assert read_anchor(str(clock.path)).speed == 1.0


def test_history_runs_at_the_speed_after_the_lead(tmp_path: Path) -> None:
    wall = FakeWall()
    clock = ReplayClock(tmp_path / "clock.json", wall)
    clock.start(HISTORY, speed=120, lead_seconds=1.0)
    assert clock.wall_at(HISTORY) == wall.now + 1.0
    wall.now += 1.0 + 30  # 30 s later: an hour of history
    assert clock.now() == HISTORY + timedelta(hours=1)
    # The functions read the same time from the file.
    machine = datetime.fromtimestamp(wall.now, tz=UTC)
    assert virtual_time(machine, str(clock.path)) == HISTORY + timedelta(hours=1)


def test_a_jump_skips_history_forward_only(tmp_path: Path) -> None:
    wall = FakeWall()
    clock = ReplayClock(tmp_path / "clock.json", wall)
    clock.start(HISTORY, speed=100, lead_seconds=0)
    wall.now += 10  # 1000 s of history
    clock.jump(HISTORY + timedelta(hours=5), lead_seconds=0.5)
    assert clock.wall_at(HISTORY + timedelta(hours=5)) == wall.now + 0.5
    clock.jump(HISTORY)  # backwards: ignored
    assert clock.wall_at(HISTORY + timedelta(hours=5)) == wall.now + 0.5
    assert read_anchor(str(clock.path)).virtual == (HISTORY + timedelta(hours=5)).timestamp()


def test_moto_follows_the_clock_and_a_pinned_change_has_its_exact_time(tmp_path: Path) -> None:
    wall = FakeWall()
    clock = ReplayClock(tmp_path / "clock.json", wall)
    clock.start(HISTORY, speed=60, lead_seconds=0)
    wall.now += 2
    original = cloudwatch_models.utcnow
    with clock.moto_follows():
        assert cloudwatch_models.utcnow() == datetime(2024, 5, 1, 6, 2)  # naive UTC, as moto
        exact = HISTORY + timedelta(minutes=1, milliseconds=250)
        with clock.pinned(exact):
            assert cloudwatch_models.utcnow() == exact.replace(tzinfo=None)
        assert cloudwatch_models.utcnow() == datetime(2024, 5, 1, 6, 2)
    assert cloudwatch_models.utcnow is original
