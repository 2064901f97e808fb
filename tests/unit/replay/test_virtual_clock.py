"""The replay's virtual clock as the functions see it (shared.timeutil, shared.virtual_clock)."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shared import timeutil, virtual_clock
from shared.errors import ConfigurationError
from shared.virtual_clock import Anchor, encode

HISTORY = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)


def _write(path: Path, anchor: Anchor) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(encode(anchor))
    os.replace(tmp, path)


def test_without_the_variable_utcnow_is_the_machines_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(timeutil.VIRTUAL_CLOCK_ENV, raising=False)
    before = datetime.now(UTC)
    assert before <= timeutil.utcnow() <= datetime.now(UTC)


def test_utcnow_follows_the_history_at_the_replay_speed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = tmp_path / "clock.json"
    wall = time.time()
    _write(clock, Anchor(virtual=HISTORY.timestamp(), wall=wall - 10, speed=60))
    monkeypatch.setenv(timeutil.VIRTUAL_CLOCK_ENV, str(clock))
    now = timeutil.utcnow()
    # 10 s of the machine's time at 60x are 10 minutes of history (give the test 1 s slack).
    assert HISTORY + timedelta(minutes=10) <= now < HISTORY + timedelta(minutes=11)
    assert now.tzinfo is not None
    assert timeutil.now_iso().startswith("2024-05-01T09:1")


def test_wallnow_ignores_the_replay(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = tmp_path / "clock.json"
    _write(clock, Anchor(virtual=HISTORY.timestamp(), wall=time.time(), speed=60))
    monkeypatch.setenv(timeutil.VIRTUAL_CLOCK_ENV, str(clock))
    assert abs(timeutil.wallnow() - datetime.now(UTC)) < timedelta(seconds=1)


def test_a_rewritten_file_is_read_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = tmp_path / "clock.json"
    monkeypatch.setenv(timeutil.VIRTUAL_CLOCK_ENV, str(clock))
    _write(clock, Anchor(virtual=HISTORY.timestamp(), wall=time.time(), speed=1))
    assert timeutil.utcnow() < HISTORY + timedelta(minutes=1)
    later = HISTORY + timedelta(hours=3)  # the replay skipped a quiet stretch
    _write(clock, Anchor(virtual=later.timestamp(), wall=time.time(), speed=1))
    assert later <= timeutil.utcnow() < later + timedelta(minutes=1)


def test_anchor_maps_both_ways() -> None:
    anchor = Anchor(virtual=1000.0, wall=50.0, speed=120.0)
    assert anchor.at(51.0) == 1120.0
    assert anchor.wall_at(1120.0) == 51.0


@pytest.mark.parametrize(
    ("content", "named"),
    [
        (b"{", "not JSON"),
        (b'{"virtual": 1, "wall": 2}', "speed: required"),
        (b'{"virtual": 1, "wall": 2, "speed": 0}', "speed"),
    ],
)
def test_a_bad_clock_file_is_a_configuration_error_naming_the_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: bytes, named: str
) -> None:
    clock = tmp_path / "clock.json"
    clock.write_bytes(content)
    monkeypatch.setenv(timeutil.VIRTUAL_CLOCK_ENV, str(clock))
    with pytest.raises(ConfigurationError, match=named):
        timeutil.utcnow()


def test_a_missing_clock_file_is_a_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(timeutil.VIRTUAL_CLOCK_ENV, str(tmp_path / "absent.json"))
    with pytest.raises(ConfigurationError, match=virtual_clock.ENV_NAME):
        timeutil.utcnow()
