"""`make demo` saves the postmortem in its workdir, since the emulator's bucket goes away with
the demo: the document, and the graph it embeds as `metric.png` when one was stored (the
emulator cannot render one, so the e2e demo test only sees the document; this covers both)."""

from __future__ import annotations

from pathlib import Path

import boto3

from runbook.context import Context
from runbook.demo import save_postmortem
from tests.conftest import BUCKET_NAME, REGION

INCIDENT_ID = "inc-20261122-031500-aaaaaaaa"
KEY = f"incidents/{INCIDENT_ID}/postmortem.md"
URI = f"s3://{BUCKET_NAME}/{KEY}"
DOCUMENT = "# Postmortem: orders-api-errors is in ALARM\n\n![graph](metric.png)\n"


def test_the_document_alone_when_no_graph_was_stored(artifact_bucket: str, tmp_path: Path) -> None:
    path, with_graph = save_postmortem(Context(), URI, DOCUMENT, tmp_path / "pm" / INCIDENT_ID)
    assert path == tmp_path / "pm" / INCIDENT_ID / "postmortem.md"
    assert path.read_text(encoding="utf-8") == DOCUMENT
    assert not with_graph and not (path.parent / "metric.png").exists()


def test_the_graph_comes_along_when_one_was_stored(artifact_bucket: str, tmp_path: Path) -> None:
    png = b"\x89PNG\r\n\x1a\nfake"
    s3 = boto3.client("s3", region_name=REGION)
    s3.put_object(Bucket=artifact_bucket, Key=f"incidents/{INCIDENT_ID}/metric.png", Body=png)
    path, with_graph = save_postmortem(Context(), URI, DOCUMENT, tmp_path)
    assert with_graph
    assert path.read_text(encoding="utf-8") == DOCUMENT
    assert (tmp_path / "metric.png").read_bytes() == png
