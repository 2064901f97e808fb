"""Full evidence to S3; a small summary (< 32 KB) for the execution state, which must stay
well below Step Functions' 256 KB payload limit alongside everything else."""

from __future__ import annotations

import json
from typing import Any

from diagnostics.finding import FAILED_STATUSES, Finding
from shared.errors import transient_errors

SUMMARY_LIMIT_BYTES = 32 * 1024


def evidence_key(incident_id: str, phase: str = "initial") -> str:
    """`incidents/<id>/diagnostics.json` (docs/contracts.md, "Artifacts"); a re-run after a
    remediation or at recovery keeps the first: `diagnostics-<phase>.json`."""
    suffix = "" if phase == "initial" else f"-{phase}"
    return f"incidents/{incident_id}/diagnostics{suffix}.json"


def overall_status(findings: list[Finding]) -> str:
    """completed (nothing failed), failed (everything failed) or partial."""
    failed = sum(1 for f in findings if f.status in FAILED_STATUSES)
    if failed == 0:
        return "completed"
    return "failed" if failed == len(findings) else "partial"


def _size(value: Any) -> int:
    return len(json.dumps(value, default=str).encode("utf-8"))


def summarise(
    findings: list[Finding],
    window: dict[str, str],
    verdict: dict[str, Any] | None = None,
    support_case: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Verdict, support-case draft, per-source status, message and headline numbers,
    trimmed step by step until it fits the limit (everything is in the S3 evidence)."""
    sources = [
        {
            "source": f.source,
            "target": f.target[:200],
            "status": f.status,
            "message": f.message[:500],
            **f.summary,
        }
        for f in findings
    ]
    summary: dict[str, Any] = {"window": window}
    if verdict is not None:
        summary["verdict"] = verdict
    if support_case:
        summary["support_case"] = support_case
    summary["sources"] = sources
    if not findings:
        summary["note"] = "no diagnostic source applies to this incident's resources"
    for trim in _TRIMS:
        if _size(summary) <= SUMMARY_LIMIT_BYTES:
            break
        trim(summary)
        summary["truncated"] = True
    while _size(summary) > SUMMARY_LIMIT_BYTES and summary["sources"]:
        summary["sources"].pop()
    return summary


def _bare_sources(summary: dict[str, Any]) -> None:
    # Status and message only; the numbers are in the S3 evidence.
    keep = ("source", "target", "status", "message")
    summary["sources"] = [{k: s[k] for k in keep} for s in summary["sources"]]


def _short_verdict(summary: dict[str, Any]) -> None:
    verdict = summary.get("verdict")
    if verdict:
        for cause in verdict.get("causes", []):
            cause["evidence"] = [e[:200] for e in cause.get("evidence", [])[:2]]
            cause["resources"] = cause.get("resources", [])[:3]
        verdict["ruled_out"] = verdict.get("ruled_out", [])[:5]
        verdict["other_evidence"] = verdict.get("other_evidence", [])[:10]
    case = summary.get("support_case")
    if case:
        case["body"] = case.get("body", "")[:2000]
        case["evidence"] = {k: [e[:200] for e in v[:3]] for k, v in case["evidence"].items()}
        case["affected_resources"] = case.get("affected_resources", [])[:10]


def _short_messages(summary: dict[str, Any]) -> None:
    for source in summary["sources"]:
        source["message"] = source["message"][:120]
        source["target"] = source["target"][:80]


_TRIMS = (_bare_sources, _short_verdict, _short_messages)


class EvidenceStore:
    """Writes the evidence document to the artifact bucket through an injected S3 client."""

    def __init__(self, s3: Any, bucket: str) -> None:
        self._s3 = s3
        self._bucket = bucket

    def put(self, incident_id: str, document: dict[str, Any], phase: str = "initial") -> str:
        """Store the document; returns its s3:// URI."""
        key = evidence_key(incident_id, phase)
        with transient_errors("S3 PutObject"):
            self._s3.put_object(
                Bucket=self._bucket,
                Key=key,
                Body=json.dumps(document, indent=2, default=str).encode("utf-8"),
                ContentType="application/json",
            )
        return f"s3://{self._bucket}/{key}"
