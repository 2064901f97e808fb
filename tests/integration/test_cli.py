"""The operator CLI against moto: it finds everything through the stack's outputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from runbook.cli import main
from tests.conftest import ALARM_EVENT, BUCKET_NAME, REGION, TABLE_NAME


def _deploy_outputs(state_machine_arn: str) -> None:
    """A stack named IncidentRunbook whose outputs point at the moto resources."""
    template = {
        "Resources": {"Paging": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {
            "StateMachineArn": {"Value": state_machine_arn},
            "IncidentTableName": {"Value": TABLE_NAME},
            "ArtifactBucketName": {"Value": BUCKET_NAME},
            "PagingTopicArn": {"Value": {"Ref": "Paging"}},
        },
    }
    boto3.client("cloudformation", region_name=REGION).create_stack(
        StackName="IncidentRunbook", TemplateBody=json.dumps(template)
    )


@pytest.fixture
def deployed(incident_table: Any, artifact_bucket: str, state_machine: str) -> Any:
    _deploy_outputs(state_machine)
    return incident_table


def _seed(table: Any, incident_id: str, **extra: Any) -> None:
    item = {
        "incident_id": incident_id,
        "title": "orders-api errors",
        "severity": "critical",
        "severity_rule": "tag Severity=critical",
        "status": "MONITORING",
        "source": "aws.cloudwatch",
        "opened_at": "2026-11-22T03:15:00Z",
        "resources": [{"type": "AWS::Lambda::Function", "id": "orders-api"}],
        "timeline": [{"at": "2026-11-22T03:15:00Z", "event": "opened", "detail": "alarm"}],
        **extra,
    }
    table.put_item(Item=item)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_no_stack_is_one_clear_line(moto: None, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "list")
    assert code == 1
    assert out == ""
    assert err.startswith("runbook: no stack IncidentRunbook")
    assert len(err.strip().splitlines()) == 1


def test_list_json_and_table(deployed: Any, capsys: pytest.CaptureFixture[str]) -> None:
    _seed(deployed, "inc-20261122-031500-aaaaaaaa")
    _seed(
        deployed,
        "inc-20261122-041500-bbbbbbbb",
        opened_at="2026-11-22T04:15:00Z",
        status="RESOLVED",
    )
    deployed.put_item(Item={"incident_id": "error#abc", "reason": "malformed"})

    code, out, _ = run(capsys, "list", "--json")
    assert code == 0
    rows = json.loads(out)
    assert [r["incident_id"] for r in rows] == [
        "inc-20261122-041500-bbbbbbbb",
        "inc-20261122-031500-aaaaaaaa",
    ]
    assert {"incident_id", "status", "severity", "title", "execution_arn"} <= set(rows[0])

    code, out, _ = run(capsys, "list", "--status", "monitoring")
    assert code == 0
    assert "inc-20261122-031500-aaaaaaaa" in out
    assert "bbbbbbbb" not in out
    assert out.splitlines()[0].split() == ["ID", "STATUS", "SEVERITY", "OPENED", "TITLE"]


def test_show_hides_the_task_token(deployed: Any, capsys: pytest.CaptureFixture[str]) -> None:
    _seed(deployed, "inc-20261122-031500-aaaaaaaa", task_token="SECRET-TOKEN-VALUE")
    for argv in (
        ("show", "inc-20261122-031500-aaaaaaaa"),
        ("show", "inc-20261122-031500-aaaaaaaa", "--json"),
    ):
        code, out, _ = run(capsys, *argv)
        assert code == 0
        assert "SECRET-TOKEN-VALUE" not in out
        assert "orders-api errors" in out
    code, out, _ = run(capsys, "show", "inc-20261122-031500-aaaaaaaa")
    assert "Timeline" in out and "opened" in out
    assert "Summary" not in out

    _seed(deployed, "inc-20261122-031500-aaaaaaaa", postmortem_summary="Resolved in 5m by alice")
    code, out, _ = run(capsys, "show", "inc-20261122-031500-aaaaaaaa")
    assert "Resolved in 5m by alice" in out


def test_show_prints_the_postmortem_uri(deployed: Any, capsys: pytest.CaptureFixture[str]) -> None:
    incident_id = "inc-20261122-031500-aaaaaaaa"
    _seed(deployed, incident_id)
    code, out, _ = run(capsys, "show", incident_id)
    assert code == 0
    assert not [line for line in out.splitlines() if line.startswith("Postmortem")]

    uri = f"s3://{BUCKET_NAME}/incidents/{incident_id}/postmortem.md"
    _seed(
        deployed,
        incident_id,
        status="RESOLVED",
        postmortem_uri=uri,
        postmortem_summary="RESOLVED: critical incident orders-api errors.",
    )
    code, out, _ = run(capsys, "show", incident_id)
    assert code == 0
    lines = out.splitlines()
    (postmortem,) = [line for line in lines if line.startswith("Postmortem")]
    assert postmortem.split() == ["Postmortem", uri]
    # The summary follows the link, as the incident record keeps them together.
    assert lines[lines.index(postmortem) + 1].split(maxsplit=1) == [
        "Summary",
        "RESOLVED: critical incident orders-api errors.",
    ]
    code, out, _ = run(capsys, "show", incident_id, "--json")
    assert code == 0 and json.loads(out)["postmortem_uri"] == uri


def test_show_and_resolve_unknown_incident(
    deployed: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "show", "inc-20261122-031500-cccccccc")
    assert (code, err.strip()) == (1, "runbook: unknown incident inc-20261122-031500-cccccccc")
    code, _, err = run(capsys, "resolve", "inc-20261122-031500-cccccccc", "--note", "x")
    assert (code, err.strip()) == (1, "runbook: unknown incident inc-20261122-031500-cccccccc")


def test_resolve_before_the_wait_is_recorded_then_refused_twice(
    deployed: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    _seed(deployed, "inc-20261122-031500-aaaaaaaa", status="OPEN")
    code, out, _ = run(
        capsys, "resolve", "inc-20261122-031500-aaaaaaaa", "--note", "rolled back", "--by", "alice"
    )
    assert code == 0
    assert "Recorded" in out
    item = deployed.get_item(Key={"incident_id": "inc-20261122-031500-aaaaaaaa"})["Item"]
    assert item["recovery_signal"]["by"] == "alice"
    assert item["recovery_signal"]["note"] == "rolled back"

    code, _, err = run(capsys, "resolve", "inc-20261122-031500-aaaaaaaa", "--note", "again")
    assert code == 1
    assert "already" in err


def test_start_from_flags_and_from_an_event(
    deployed: Any, state_machine: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = run(
        capsys,
        "start",
        "--title",
        "Checkout failing",
        "--severity",
        "critical",
        "--resource",
        "AWS::Lambda::Function=orders-api",
        "--json",
    )
    assert code == 0
    started = json.loads(out)
    sfn = boto3.client("stepfunctions", region_name=REGION)
    execution = sfn.describe_execution(executionArn=started["execution_arn"])
    assert execution["name"] == started["incident_id"]
    assert json.loads(execution["input"]) == {
        "title": "Checkout failing",
        "severity": "critical",
        "resources": [{"type": "AWS::Lambda::Function", "id": "orders-api"}],
    }

    event_file = tmp_path / "alarm.json"
    event_file.write_text(json.dumps(ALARM_EVENT))
    code, out, _ = run(capsys, "start", "--event-file", str(event_file), "--json")
    assert code == 0
    first = json.loads(out)
    execution = sfn.describe_execution(executionArn=first["execution_arn"])
    assert json.loads(execution["input"]) == {
        "incident_id": first["incident_id"],
        "event": ALARM_EVENT,
    }

    # The same event again maps to the same incident and execution: no second response.
    code, out, _ = run(capsys, "start", "--event-file", str(event_file), "--json")
    assert code == 0
    assert json.loads(out) == first
    executions = sfn.list_executions(stateMachineArn=state_machine)["executions"]
    assert len(executions) == 2


def test_start_needs_a_title_or_an_event(deployed: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "start")
    assert code == 1
    assert "--title" in err


def test_start_refuses_an_incident_that_already_exists(
    deployed: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from incidents.ids import incident_id_for_input

    incident_id = incident_id_for_input(ALARM_EVENT, now=None)  # type: ignore[arg-type]
    _seed(deployed, incident_id)
    event_file = tmp_path / "alarm.json"
    event_file.write_text(json.dumps(ALARM_EVENT))
    code, _, err = run(capsys, "start", "--event-file", str(event_file))
    assert code == 1
    assert err.strip() == f"runbook: incident {incident_id} already exists (status MONITORING)"


def test_postmortem_download(
    deployed: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    key = "incidents/inc-20261122-031500-aaaaaaaa/postmortem.md"
    boto3.client("s3", region_name=REGION).put_object(
        Bucket=BUCKET_NAME, Key=key, Body=b"# Postmortem\n"
    )
    _seed(deployed, "inc-20261122-031500-aaaaaaaa", postmortem_uri=f"s3://{BUCKET_NAME}/{key}")
    out_file = tmp_path / "pm.md"
    code, _, _ = run(capsys, "postmortem", "inc-20261122-031500-aaaaaaaa", "--out", str(out_file))
    assert code == 0
    assert out_file.read_text() == "# Postmortem\n"
    assert not (tmp_path / "metric.png").exists()

    graph_key = "incidents/inc-20261122-031500-aaaaaaaa/metric.png"
    png = b"\x89PNG\r\n\x1a\nfake"
    boto3.client("s3", region_name=REGION).put_object(Bucket=BUCKET_NAME, Key=graph_key, Body=png)
    code, out, _ = run(capsys, "postmortem", "inc-20261122-031500-aaaaaaaa", "--out", str(out_file))
    assert code == 0
    assert "(+ metric.png)" in out
    assert (tmp_path / "metric.png").read_bytes() == png

    _seed(deployed, "inc-20261122-041500-bbbbbbbb")
    code, _, err = run(capsys, "postmortem", "inc-20261122-041500-bbbbbbbb")
    assert code == 1
    assert "no postmortem yet" in err
