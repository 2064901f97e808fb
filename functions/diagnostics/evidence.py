"""Full evidence to S3; a small summary (< 32 KB) for the execution state, which must stay
well below Step Functions' 256 KB payload limit alongside everything else."""

from __future__ import annotations

import json
from typing import Any

from diagnostics.finding import FAILED_STATUSES, Finding
from shared.errors import transient_errors

SUMMARY_LIMIT_BYTES = 32 * 1024


def evidence_key(incident_id: str) -> str:
    """`incidents/<id>/diagnostics.json` (docs/contracts.md, "Artifacts")."""
    return f"incidents/{incident_id}/diagnostics.json"


def overall_status(findings: list[Finding]) -> str:
    """completed (nothing failed), failed (everything failed) or partial."""
    failed = sum(1 for f in findings if f.status in FAILED_STATUSES)
    if failed == 0:
        return "completed"
    return "failed" if failed == len(findings) else "partial"


def _size(value: Any) -> int:
    return len(json.dumps(value, default=str).encode("utf-8"))


def summarise(findings: list[Finding], window: dict[str, str]) -> dict[str, Any]:
    """Per-source status, message and headline numbers, trimmed until it fits the limit."""
    sources = [
        {
            "source": f.source,
            "target": f.target,
            "status": f.status,
            "message": f.message[:500],
            **f.summary,
        }
        for f in findings
    ]
    summary: dict[str, Any] = {"window": window, "sources": sources}
    if not findings:
        summary["note"] = "no diagnostic source applies to this incident's resources"
    if _size(summary) <= SUMMARY_LIMIT_BYTES:
        return summary
    # Too big: keep status and message only; the numbers are in the S3 evidence.
    summary["sources"] = [
        {k: s[k] for k in ("source", "target", "status", "message")} for s in sources
    ]
    while _size(summary) > SUMMARY_LIMIT_BYTES and summary["sources"]:
        summary["sources"].pop()
        summary["truncated"] = True
    return summary


class EvidenceStore:
    """Writes the evidence document to the artifact bucket through an injected S3 client."""

    def __init__(self, s3: Any, bucket: str) -> None:
        self._s3 = s3
        self._bucket = bucket

    def put(self, incident_id: str, document: dict[str, Any]) -> str:
        """Store the document; returns its s3:// URI."""
        key = evidence_key(incident_id)
        with transient_errors("S3 PutObject"):
            self._s3.put_object(
                Bucket=self._bucket,
                Key=key,
                Body=json.dumps(document, indent=2, default=str).encode("utf-8"),
                ContentType="application/json",
            )
        return f"s3://{self._bucket}/{key}"
