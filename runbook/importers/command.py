"""`runbook import incident-manager`: choose the source, read, map, write the two files.

Nothing is overwritten without --force and both files are written whole (a temporary file
renamed into place), so a failed import never leaves half a declaration behind.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError

from runbook.importers import mapping
from runbook.importers.incident_manager import (
    DirectorySource,
    ImportFailure,
    RecordingSource,
    Source,
    live_source,
    read_account,
)
from runbook.importers.values import utc_text
from runbook.importers.yaml_writer import render

DEFAULT_OUT = Path("incident-response.yaml")
DEFAULT_OVERRIDE_DAYS = 90


@dataclass(frozen=True)
class Request:
    out: Path | None = None
    overrides_out: Path | None = None
    from_json: Path | None = None
    save_json: Path | None = None
    overrides_days: int = DEFAULT_OVERRIDE_DAYS
    force: bool = False


@dataclass(frozen=True)
class Outcome:
    out: Path
    overrides_out: Path
    where: str
    imported: mapping.Imported

    def counts(self) -> dict[str, int]:
        doc = self.imported.document
        return {
            "contacts": len(doc.get("contacts", {})),
            "rotations": len(doc.get("rotations", {})),
            "escalationPlans": len(doc.get("escalationPlans", {})),
            "responsePlans": len(doc.get("responsePlans", [])),
            "overrides": len(self.imported.overrides),
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": str(self.out),
            "overridesFile": str(self.overrides_out),
            "source": self.where,
            "counts": self.counts(),
            "notes": [n.as_dict() for n in self.imported.notes.sorted()],
        }

    def text(self) -> str:
        c = self.counts()
        lines = [
            f"Wrote {self.out}: {c['contacts']} contacts, {c['rotations']} rotations, "
            f"{c['escalationPlans']} escalation plans, {c['responsePlans']} response plans "
            "(the last is the default)",
            f"Wrote {self.overrides_out}: {c['overrides']} future rotation overrides; add them "
            f"with `runbook oncall override import {self.overrides_out}` once the stack is "
            "deployed",
        ]
        notes = self.imported.notes.sorted()
        if notes:
            lines.append(f"{len(notes)} notes (also at the top of {self.out}):")
            lines.extend(f"  {n.line()}" for n in notes)
        else:
            lines.append("Everything was carried over.")
        return "\n".join(lines)


def _now() -> datetime:
    return datetime.now(UTC)


def _refuse_overwrite(path: Path, force: bool) -> None:
    if path.exists() and not force:
        raise ImportFailure(f"{path} exists: choose another --out/--overrides-out, or --force")


def _write_whole(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _header(outcome_where: str, imported: mapping.Imported, now: datetime) -> list[str]:
    source = outcome_where
    if imported.account_id:
        source = f"account {imported.account_id}, {outcome_where}"
    lines = [
        "Response declaration (docs/oncall.md) imported from AWS Systems Manager Incident Manager",
        f"by `runbook import incident-manager` at {utc_text(now)}",
        f"from {source}.",
        "Review it (docs/migrate-from-incident-manager.md); from now on this file is the source.",
        "",
    ]
    notes = imported.notes.sorted()
    if not notes:
        return [*lines, "Everything was carried over."]
    lines.append("What was not carried over as it was (one line each):")
    return lines + [f"  {n.line()}" for n in notes]


def run(request: Request, session_factory: Callable[[], Any]) -> Outcome:
    """Import and write. `session_factory` gives a boto3 session (not called for --from-json)."""
    out = request.out or DEFAULT_OUT
    overrides_out = request.overrides_out or out.with_name(f"{out.stem}.overrides.json")
    if out.resolve() == overrides_out.resolve():
        raise ImportFailure("--out and --overrides-out name the same file")
    _refuse_overwrite(out, request.force)
    _refuse_overwrite(overrides_out, request.force)
    if request.overrides_days < 1:
        raise ImportFailure("--overrides-days must be at least 1")
    source: Source
    if request.from_json is not None:
        source = DirectorySource(request.from_json)
    else:
        try:
            session = session_factory()
        except BotoCoreError as err:
            raise ImportFailure(f"cannot open the AWS session: {err}") from None
        source = live_source(session)
        if request.save_json is not None:
            saved = request.save_json
            occupied = saved.exists() and (not saved.is_dir() or any(saved.iterdir()))
            if occupied and not request.force:
                raise ImportFailure(f"--save-json {saved} is not an empty directory (--force)")
            source = RecordingSource(source, saved)
    now = _now()
    account = read_account(source, now=now, overrides_days=request.overrides_days)
    if not (account.contacts or account.rotations or account.response_plans):
        raise ImportFailure(
            f"no Incident Manager contacts, rotations or response plans in {source.where}: "
            "is this the region of your replication set? (--region)"
        )
    imported = mapping.map_account(account, now=now)
    sidecar = {
        "version": 1,
        "source": source.where,
        "importedAt": utc_text(now),
        "overrides": imported.overrides,
    }
    try:
        _write_whole(out, render(imported.document, _header(source.where, imported, now)))
        _write_whole(overrides_out, json.dumps(sidecar, indent=2) + "\n")
    except OSError as err:
        raise ImportFailure(f"cannot write the import: {err}") from None
    return Outcome(out, overrides_out, source.where, imported)
