"""`make demo`'s scenario, run against the package's emulator so the demo cannot rot."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from runbook.context import Context
from runbook.demo import describe_evidence, run_scenario
from runbook.local.emulator import LocalEmulator

pytestmark = pytest.mark.e2e


_STAMP = re.compile(r"^\[\d\d:\d\d:\d\d\] ")


def test_demo_scenario_runs_a_whole_incident(
    emulator: LocalEmulator, unique: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    ctx = Context(endpoint_url=emulator.endpoint_url)
    result = run_scenario(ctx, function=f"payments-api-{unique}", workdir=tmp_path)

    assert result["status"] == "SUCCEEDED"
    incident = ctx.table().get_item(Key={"incident_id": result["incident_id"]})["Item"]
    assert incident["status"] == "RESOLVED"
    assert incident["severity"] == "critical"
    assert result["postmortem_uri"] == incident["postmortem_uri"]

    printed = capsys.readouterr().out
    assert "PAGE sent: [CRITICAL]" in printed
    assert "Verdict: " in printed
    assert "MonitorRecovery is waiting" in printed
    # The example declaration's payments plan: the on-call person, by name, and their channel.
    engagement = incident["engagement"]
    (first,) = engagement["stages"][0]["contacts"]
    name = next(p["contact_name"] for p in engagement["pages"] if p["contact"] == first)
    assert "People engaged (response plan payments-critical" in printed
    assert f"PAGED {name} via " in printed and "on call in rotation payments-primary" in printed
    assert "Execution SUCCEEDED" in printed
    assert f"# Postmortem: payments-api-{unique}-errors is in ALARM" in printed

    # It ends with the postmortem's S3 URI, the local copy that outlives the emulator (which
    # stops with `make demo`), and the summary.
    said = [_STAMP.sub("", line) for line in printed.splitlines() if _STAMP.match(line)]
    saved = tmp_path / "postmortems" / result["incident_id"] / "postmortem.md"
    assert said[-3:] == [
        f"Postmortem: {incident['postmortem_uri']}",
        f"Postmortem file: {saved}",
        f"Summary: {incident['postmortem_summary']}",
    ]
    assert result["postmortem_file"] == saved
    bucket, _, document_key = incident["postmortem_uri"].removeprefix("s3://").partition("/")
    document = ctx.client("s3").get_object(Bucket=bucket, Key=document_key)["Body"].read()
    assert saved.read_bytes() == document
    assert saved.read_text().startswith(f"# Postmortem: payments-api-{unique}-errors is in ALARM")
    # The emulator has no GetMetricWidgetImage: no graph was stored, so none is copied.
    assert not (saved.parent / "metric.png").exists()

    # The seeded connection-timeout lines reached the evidence through Logs Insights, and the
    # verdict names the outbound-connection cause they point at.
    bucket = ctx.output("ArtifactBucketName")
    key = f"incidents/{result['incident_id']}/diagnostics.json"
    body = ctx.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    evidence = json.loads(body)
    assert "host='payments.internal', port=443" in json.dumps(evidence)
    causes = [c["title"] for c in evidence["verdict"]["causes"]]
    assert any("Outbound connection timed out" in title for title in causes), causes


def test_describe_evidence_reads_like_a_responder_skims() -> None:
    evidence = {
        "verdict": {
            "headline": "AWS side: EC2 system status check failed",
            "scope": "1 of 3 instances",
            "causes": [{"title": "Host hardware", "fix": "Stop and start", "evidence": ["i-1"]}],
        },
        "findings": [{"source": "ec2", "target": "i-1", "status": "ok", "message": "impaired"}],
    }
    assert describe_evidence(evidence) == [
        "Verdict: AWS side: EC2 system status check failed (scope: 1 of 3 instances)",
        "  cause: Host hardware -> Stop and start",
        "    evidence: i-1",
        "  ec2 [i-1]: ok - impaired",
    ]
