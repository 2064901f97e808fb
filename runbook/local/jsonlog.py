"""One JSON object per line in a log file under ``<workdir>/logs``, stamped with the time.

The emulator's logs are for people reading a run afterwards (tests, the demo) and for tests
that read them back; a line never spans two, and writers on several threads never interleave.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from pathlib import Path
from typing import Any

LOGGER = logging.getLogger(__name__)


class JsonLog:
    """Appends ``{"time": ..., **fields}`` lines to ``path`` (nowhere when it is ``None``)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()

    def write(self, **fields: Any) -> dict[str, Any]:
        entry = {"time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"), **fields}
        if self.path is not None:
            line = json.dumps(entry, default=str)
            try:
                with self._lock, open(self.path, "a", encoding="utf-8") as out:
                    out.write(line + "\n")
            except OSError:
                LOGGER.exception("could not write %s", self.path)
        return entry

    def read(self) -> list[dict[str, Any]]:
        """Every line written so far (for tests)."""
        if self.path is None or not self.path.exists():
            return []
        with self._lock:
            text = self.path.read_text(encoding="utf-8")
        return [json.loads(line) for line in text.splitlines() if line.strip()]
