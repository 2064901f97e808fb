"""Remediation with a human in the loop, on the emulator (issue 14), through the real entry
path and the deployed example declaration (examples/incident-response.yaml: rule
`ec2-system-status` -> AWS-RestartEC2Instance; minutes run as seconds, timeCompression 60, so
the 15 min approval timeout is 15 s):

- an EC2 instance whose host fails its system status check raises its alarm; the diagnostics
  say AWS's side (ec2.system_status_impaired) and the workflow proposes the restart; `runbook
  remediate --approve --by` approves it; the execution runs (a stop clears the host fault), the
  diagnostics run again, and the postmortem shows the approver and the before/after diff;
- `--reject`: nothing runs, the postmortem says who rejected it;
- nobody decides: after the approval timeout it is not run, and the postmortem says so.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer

from runbook.cli import main as runbook_cli
from runbook.local.emulator import LocalEmulator

from .helpers import drain, finished, wait_for
from .test_incident_flow import incident_for_alarm

DOCUMENT = "AWS-RestartEC2Instance"


def _record(aws: Callable[[str], Any], outputs: dict[str, str], incident_id: str) -> dict:
    item = aws("dynamodb").get_item(
        TableName=outputs["IncidentTableName"],
        Key={"incident_id": {"S": incident_id}},
        ConsistentRead=True,
    )["Item"]
    deserializer = TypeDeserializer()
    return {k: deserializer.deserialize(v) for k, v in item.items()}


def _remediation(aws: Callable[[str], Any], outputs: dict[str, str], incident_id: str) -> dict:
    return dict(_record(aws, outputs, incident_id).get("remediation") or {})


def _cli(*args: str, endpoint: str, capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    code = runbook_cli([*args, "--endpoint-url", endpoint])
    out = capsys.readouterr()
    assert code == 0, out.err
    return out.out


def _impaired_instance(emulator: LocalEmulator, aws: Callable[[str], Any]) -> str:
    ec2 = aws("ec2")
    image = ec2.describe_images()["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0]
    emulator.host_faults.impair(instance["InstanceId"])
    return str(instance["InstanceId"])


_SEEN: list[dict[str, Any]] = []


def _pages(aws: Callable[[str], Any], queue: str) -> list[dict[str, Any]]:
    """Every SNS notification the pager queue received so far (kept across calls)."""
    _SEEN.extend(json.loads(m["Body"]) for m in drain(aws("sqs"), queue))
    return _SEEN


def _open(
    emulator: LocalEmulator, aws: Callable[[str], Any], outputs: dict[str, str], unique: str
) -> dict[str, Any]:
    """An impaired instance's system status alarm goes to ALARM: the incident it opened."""
    instance = _impaired_instance(emulator, aws)
    name = f"web-{unique}-system-status"
    cloudwatch = aws("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        AlarmDescription=f"{instance} fails its system status check",
        Namespace="AWS/EC2",
        MetricName="StatusCheckFailed_System",
        Dimensions=[{"Name": "InstanceId", "Value": instance}],
        Statistic="Maximum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        Tags=[{"Key": "Severity", "Value": "high"}],
    )
    arn = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["AlarmArn"]
    cloudwatch.set_alarm_state(
        AlarmName=name, StateValue="ALARM", StateReason="Threshold Crossed: 1 >= 1"
    )
    return {"alarm": name, "instance": instance, **incident_for_alarm(aws, outputs, arn)}


def _proposed(aws: Callable[[str], Any], outputs: dict[str, str], incident_id: str) -> dict:
    def probe() -> dict | None:
        record = _remediation(aws, outputs, incident_id)
        return record if record.get("proposal") or record.get("no_proposal") else None

    record = wait_for("the remediation proposal", probe, 60)
    assert record.get("proposal"), record.get("no_proposal")
    return record


def _executions_for(emulator: LocalEmulator, instance: str) -> list[dict[str, Any]]:
    return [
        e
        for e in emulator.automation.executions()
        if instance in str(e.get("Parameters", {}).get("InstanceId"))
    ]


def _close(
    aws: Callable[[str], Any], outputs: dict[str, str], incident: dict[str, Any], emulator: Any
) -> str:
    """The alarm returns to OK; the workflow ends; the postmortem's text."""
    aws("cloudwatch").set_alarm_state(
        AlarmName=incident["alarm"], StateValue="OK", StateReason="Threshold no longer crossed"
    )
    sfn = aws("stepfunctions")
    described = wait_for(
        "the execution to finish", lambda: finished(sfn, incident["execution_arn"]), 90
    )
    assert described["status"] == "SUCCEEDED", described
    record = _record(aws, outputs, incident["incident_id"])
    bucket, key = record["postmortem_uri"].removeprefix("s3://").split("/", 1)
    return str(aws("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode())


def test_approve_from_the_cli_runs_the_restart_and_the_postmortem_has_the_diff(
    emulator: LocalEmulator,
    aws: Callable[[str], Any],
    outputs: dict[str, str],
    unique: str,
    capsys: pytest.CaptureFixture[str],
    pager_queue: str,
) -> None:
    incident = _open(emulator, aws, outputs, unique)
    incident_id = incident["incident_id"]
    record = _proposed(aws, outputs, incident_id)
    # The proposal is paged too (the high topic: the alarm's Severity tag), with how to decide.
    proposal_page = wait_for(
        "the proposal's page",
        lambda: next(
            (
                m
                for m in _pages(aws, pager_queue)
                if incident_id in m.get("Subject", "") and "Fix proposed" in m["Subject"]
            ),
            None,
        ),
        30,
    )
    assert proposal_page["Subject"].startswith("[HIGH] Fix proposed: " + DOCUMENT)
    assert f"runbook remediate {incident_id} --approve" in proposal_page["Message"]
    proposal = record["proposal"]
    assert proposal["document_name"] == DOCUMENT
    assert proposal["rule_id"] == "ec2-system-status"
    assert proposal["parameters"]["InstanceId"] == [incident["instance"]]
    assert proposal["parameters"]["AutomationAssumeRole"][0].startswith("arn:aws:iam::")
    assert "ec2.system_status_impaired" in proposal["causes"]
    assert _executions_for(emulator, incident["instance"]) == []  # nothing before approval

    out = _cli(
        "remediate",
        incident_id,
        "--approve",
        "--by",
        "Alice Moreau",
        endpoint=emulator.endpoint_url,
        capsys=capsys,
    )
    assert "Approved" in out

    def compared() -> dict | None:
        found = _remediation(aws, outputs, incident_id)
        return found if found.get("after") else None

    record = wait_for("the run and the re-run diagnostics", compared, 90)
    decision = record["decision"]
    assert decision["outcome"] == "approved" and decision["via"] == "cli"
    assert decision["label"] == "Alice Moreau"
    assert decision["by"].startswith("arn:aws:")  # the caller's IAM principal, from STS
    assert record["execution"]["outcome"] == "success"
    assert [s["name"] for s in record["execution"]["steps"]]  # the run's steps recorded
    (execution,) = _executions_for(emulator, incident["instance"])
    assert execution["AutomationExecutionStatus"] == "Success"
    changes = {(c["change"], c["code"]) for c in record["after"]["causes"]}
    assert ("gone", "ec2.system_status_impaired") in changes

    postmortem = _close(aws, outputs, incident, emulator)
    assert "## Remediation" in postmortem
    assert "approved by Alice Moreau" in postmortem
    assert DOCUMENT in postmortem
    assert "### Before and after" in postmortem
    assert "went away" in postmortem
    assert "remediation approved by Alice Moreau" in postmortem  # the timeline
    # ... and the diagnostics ran once more at recovery, compared with those before the fix.
    at_recovery = _remediation(aws, outputs, incident_id).get("at_recovery")
    assert at_recovery is not None
    assert ("gone", "ec2.system_status_impaired") in {
        (c["change"], c["code"]) for c in at_recovery["causes"]
    }
    assert "at recovery" in postmortem


def test_reject_from_the_cli_runs_nothing(
    emulator: LocalEmulator,
    aws: Callable[[str], Any],
    outputs: dict[str, str],
    unique: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    incident = _open(emulator, aws, outputs, unique)
    incident_id = incident["incident_id"]
    _proposed(aws, outputs, incident_id)
    out = _cli("remediate", incident_id, "--reject", endpoint=emulator.endpoint_url, capsys=capsys)
    assert "Rejected" in out
    # A second decision is refused: one decision per proposal.
    capsys.readouterr()
    assert (
        runbook_cli(
            ["remediate", incident_id, "--approve", "--endpoint-url", emulator.endpoint_url]
        )
        != 0
    )
    assert "already rejected" in capsys.readouterr().err

    postmortem = _close(aws, outputs, incident, emulator)
    record = _remediation(aws, outputs, incident_id)
    assert record["decision"]["outcome"] == "rejected"
    assert not record.get("execution_id")
    assert _executions_for(emulator, incident["instance"]) == []
    assert "rejected by" in postmortem and "not run" in postmortem


def test_nobody_decides_the_proposal_expires_unrun_and_the_postmortem_says_so(
    emulator: LocalEmulator,
    aws: Callable[[str], Any],
    outputs: dict[str, str],
    unique: str,
) -> None:
    incident = _open(emulator, aws, outputs, unique)
    incident_id = incident["incident_id"]
    record = _proposed(aws, outputs, incident_id)
    timeout = int(record["proposal"]["approval_timeout_seconds"])
    assert timeout == 15  # 15 min, compressed

    def expired() -> dict | None:
        found = _remediation(aws, outputs, incident_id)
        return found if (found.get("decision") or {}).get("outcome") == "expired" else None

    wait_for("the approval timeout", expired, timeout + 30)
    postmortem = _close(aws, outputs, incident, emulator)
    assert _executions_for(emulator, incident["instance"]) == []
    assert "nobody decided within" in postmortem and "**not run**" in postmortem
