"""Store the postmortem in the artifact bucket and close the incident record."""

from __future__ import annotations

from typing import Any

from incidents.model import Incident
from incidents.repository import IncidentRepository
from shared.errors import IncidentNotFound, transient_errors


def postmortem_key(incident_id: str) -> str:
    """`incidents/<id>/postmortem.md` (docs/contracts.md, "Artifacts")."""
    return f"incidents/{incident_id}/postmortem.md"


class PostmortemWriter:
    """Writes through an injected S3 client and an IncidentRepository."""

    def __init__(self, s3: Any, bucket: str, repository: IncidentRepository) -> None:
        self._s3 = s3
        self._bucket = bucket
        self._repo = repository

    def write(
        self, incident: Incident, markdown: str, status: str, diagnostics_uri: str = ""
    ) -> str:
        """Put the document, then mark the incident RESOLVED/UNRESOLVED; returns the URI."""
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
        if diagnostics_uri:
            fields["diagnostics_uri"] = diagnostics_uri
        detail = f"{status}: {uri}"
        try:
            self._repo.update(
                incident.incident_id, fields, "postmortem", detail, remove=("task_token",)
            )
        except IncidentNotFound:
            # Only when classification failed before the record existed: keep one anyway.
            self._repo.create_if_absent(incident)
            self._repo.update(incident.incident_id, fields, "postmortem", detail)
        return uri
