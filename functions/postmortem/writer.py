"""The postmortem's artifacts in S3 and its index on the incident record.

Everything lives under `incidents/<id>/` (docs/contracts.md, "Artifacts"): the document
`postmortem.md`, the graph `metric.png` next to it, and the diagnostics evidence it reads.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from incidents.model import Incident
from incidents.repository import IncidentRepository
from postmortem.graph import IMAGE_NAME
from shared.errors import IncidentNotFound, error_code, transient_errors
from shared.s3uri import split_uri

# The evidence document is read whole; beyond this it is left in S3 and the summary is used.
MAX_EVIDENCE_BYTES = 20 * 1024 * 1024


def postmortem_key(incident_id: str) -> str:
    """`incidents/<id>/postmortem.md` (docs/contracts.md, "Artifacts")."""
    return f"incidents/{incident_id}/postmortem.md"


def image_key(incident_id: str) -> str:
    """`incidents/<id>/metric.png`, next to the document so it embeds as `metric.png`."""
    return f"incidents/{incident_id}/{IMAGE_NAME}"


class PostmortemWriter:
    """Reads and writes through an injected S3 client and an IncidentRepository."""

    def __init__(self, s3: Any, bucket: str, repository: IncidentRepository) -> None:
        self._s3 = s3
        self._bucket = bucket
        self._repo = repository

    @property
    def bucket(self) -> str:
        return self._bucket

    def put_image(self, incident_id: str, png: bytes) -> str:
        """Store the graph; returns its key."""
        key = image_key(incident_id)
        with transient_errors("S3 PutObject"):
            self._s3.put_object(Bucket=self._bucket, Key=key, Body=png, ContentType="image/png")
        return key

    def read_evidence(self, uri: str) -> tuple[dict[str, Any] | None, str]:
        """The diagnostics evidence document, or None and why it could not be read."""
        bucket, key = split_uri(uri)
        if not key:
            return None, f"{uri!r} is not an S3 URI"
        if bucket != self._bucket:
            return None, f"it is in bucket {bucket}, which this step may not read"
        try:
            found = self._s3.get_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            return None, f"it could not be read ({error_code(exc) or 'error'})"
        if int(found.get("ContentLength") or 0) > MAX_EVIDENCE_BYTES:
            return None, f"it is larger than {MAX_EVIDENCE_BYTES // (1024 * 1024)} MB"
        try:
            document = json.loads(found["Body"].read())
        except (ValueError, UnicodeDecodeError):
            return None, "it is not valid JSON"
        if not isinstance(document, dict):
            return None, "it is not a JSON object"
        return document, ""

    def write(
        self,
        incident: Incident,
        markdown: str,
        status: str,
        diagnostics_uri: str = "",
        summary: str = "",
        run: str | None = None,
    ) -> str:
        """Put the document, then close the incident RESOLVED/UNRESOLVED with the link and the
        short summary on its record; returns the document's URI. With `run` (this execution's
        ARN) the record is closed only while this run owns it: a run that ends after its
        incident was reopened leaves the reopened incident open (its document is still kept)."""
        key = postmortem_key(incident.incident_id)
        with transient_errors("S3 PutObject"):
            self._s3.put_object(
                Bucket=self._bucket,
                Key=key,
                Body=markdown.encode("utf-8"),
                ContentType="text/markdown; charset=utf-8",
            )
        uri = f"s3://{self._bucket}/{key}"
        fields: dict[str, Any] = {"status": status, "postmortem_uri": uri}
        if summary:
            fields["postmortem_summary"] = summary
        if diagnostics_uri:
            fields["diagnostics_uri"] = diagnostics_uri
        detail = f"{status}: {uri}"
        try:
            self._repo.update(
                incident.incident_id,
                fields,
                "postmortem",
                detail,
                remove=("task_token",),
                run=run,
            )
        except IncidentNotFound:
            # Only when classification failed before the record existed: keep one anyway.
            self._repo.create_if_absent(incident)
            self._repo.update(incident.incident_id, fields, "postmortem", detail)
        return uri
