"""The clock of a replayed history (`runbook replay`, docs/replay.md); never used on AWS.

During a replay the emulator gives every function `RUNBOOK_VIRTUAL_CLOCK`, the path of a small
JSON file `{"virtual": <epoch s>, "wall": <epoch s>, "speed": <factor>}` that maps the machine's
time onto the history's: `now = virtual + (wall_now - wall) * speed`. Event times then come
from the history and every time the functions stamp (a resolution, a closing, an escalation's
"open for") is on the same clock, so windows that compare the two (reopen, correlation) mean
what they mean on AWS. The replay rewrites the file (atomically) when it skips a quiet stretch;
every reading sees the newest anchor.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import msgspec

from shared.errors import ConfigurationError
from shared.records import read_json
from shared.timeutil import VIRTUAL_CLOCK_ENV as ENV_NAME


class Anchor(msgspec.Struct, kw_only=True, frozen=True):
    """One straight stretch of the mapping: wall time `wall` is history time `virtual`."""

    virtual: float
    wall: float
    speed: Annotated[float, msgspec.Meta(gt=0)]

    def at(self, wall_now: float) -> float:
        """History time (epoch seconds) at the machine's time `wall_now`."""
        return self.virtual + (wall_now - self.wall) * self.speed

    def wall_at(self, virtual: float) -> float:
        """The machine's time at which history time `virtual` comes."""
        return self.wall + (virtual - self.virtual) / self.speed


def encode(anchor: Anchor) -> bytes:
    return msgspec.json.encode(anchor)


def read_anchor(path: str) -> Anchor:
    """The file's anchor, read at every call (a few microseconds, and only during a replay):
    a rewrite is seen at once, whatever the file system's timestamp granularity."""
    try:
        with open(path, "rb") as handle:
            text = handle.read()
    except OSError as exc:
        raise ConfigurationError(f"{ENV_NAME}: cannot read {path}: {exc}") from exc
    return read_json(Anchor, text, f"{ENV_NAME} {path}", error=ConfigurationError)


def virtual_time(wall_now: datetime, path: str) -> datetime:
    """`wall_now` on the replay's clock."""
    moment = read_anchor(path).at(wall_now.timestamp())
    return datetime.fromtimestamp(moment, tz=UTC)
