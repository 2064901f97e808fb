"""The task-token protocol end to end on moto's executing Step Functions: a real
waitForTaskToken task (SQS integration) hands out a real token; monitor_recovery stores it;
an alarm OK or an operator resumes the execution exactly once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from handlers import monitor_recovery, recovery
from recovery.resume import RecoveryResumer, WaitExpired
from shared.errors import AlreadyResolved, IncidentNotFound, TransientDependencyError

from .token_workflow import ALARM_ARN, INCIDENT_ID, REGION, Workflow, executing_moto


@pytest.fixture
def moto(aws_env: None) -> Iterator[None]:
    """Overrides the shared fixture: this module needs executions that really run."""
    yield from executing_moto()


@pytest.fixture
def workflow(sfn_role_arn: str) -> Workflow:
    return Workflow(sfn_role_arn)


@pytest.fixture
def incident(incident_table) -> Any:
    incident_table.put_item(
        Item={
            "incident_id": INCIDENT_ID,
            "title": "orders-api-errors is in ALARM",
            "status": "OPEN",
            "severity": "critical",
            "source": "aws.cloudwatch",
            "alarm_name": "orders-api-errors",
            "alarm_arn": ALARM_ARN,
            "opened_at": "2019-10-02T17:04:40Z",
            "timeline": [],
        }
    )
    return incident_table


def _item(table) -> dict[str, Any]:
    return table.get_item(Key={"incident_id": INCIDENT_ID}, ConsistentRead=True)["Item"]


def _monitor(execution: str, token: str, context) -> dict[str, Any]:
    payload = {"task_token": token, "incident_id": INCIDENT_ID, "execution_arn": execution}
    return monitor_recovery.lambda_handler(payload, context)


def test_alarm_ok_resumes_the_waiting_execution_once(
    workflow, incident, alarm_event, lambda_context
) -> None:
    execution, token = workflow.start()
    assert _monitor(execution, token, lambda_context) == {"status": "waiting"}
    stored = _item(incident)
    assert stored["task_token"] == token
    assert stored["status"] == "MONITORING"

    result = recovery.lambda_handler(alarm_event(state="OK"), lambda_context)

    assert result == {"status": "resumed", "incident_id": INCIDENT_ID}
    finished = workflow.finish(execution)
    assert finished["status"] == "SUCCEEDED"
    resumed_with = json.loads(finished["output"])["recovery"]
    assert resumed_with["status"] == "recovered"
    assert resumed_with["by"] == "alarm:orders-api-errors"
    assert "Threshold Crossed" in resumed_with["note"]
    stored = _item(incident)
    assert "task_token" not in stored
    # An OK is a recovery being confirmed (stabilisation), not yet a resolution.
    assert stored["recovering"]["by"] == "alarm:orders-api-errors"
    assert "resolved_by" not in stored
    assert [t["event"] for t in stored["timeline"]] == ["monitoring", "recovering"]

    # A second OK is normal for alarms: answered, never a second success. An operator may
    # still resolve (it decides the stabilisation check), once; a second time is an error.
    again = recovery.lambda_handler(alarm_event(state="OK"), lambda_context)
    assert again["status"] == "already_resolved"
    assert "(alarm:orders-api-errors)" in again["reason"]
    resumer = RecoveryResumer(incident, workflow.sfn)
    assert resumer.resolve(INCIDENT_ID, by="operator:alice", note="rolled back") == "recorded"
    with pytest.raises(AlreadyResolved):
        resumer.resolve(INCIDENT_ID, by="operator:alice", note="double resolve")


def test_ok_before_the_token_resumes_as_soon_as_monitoring_starts(
    workflow, incident, alarm_event, lambda_context
) -> None:
    early = recovery.lambda_handler(alarm_event(state="OK"), lambda_context)
    assert early == {"status": "recorded", "incident_id": INCIDENT_ID}
    assert _item(incident)["recovery_signal"]["by"] == "alarm:orders-api-errors"

    execution, token = workflow.start()
    assert _monitor(execution, token, lambda_context) == {"status": "resumed_early"}

    finished = workflow.finish(execution)
    assert finished["status"] == "SUCCEEDED"
    assert json.loads(finished["output"])["recovery"]["status"] == "recovered"
    assert "task_token" not in _item(incident)


def test_operator_resolve_and_double_resolve(workflow, incident, lambda_context) -> None:
    execution, token = workflow.start()
    _monitor(execution, token, lambda_context)
    request = {"incident_id": INCIDENT_ID, "by": "operator:alice", "note": "rolled back v42"}

    assert recovery.lambda_handler(request, lambda_context)["status"] == "resumed"
    finished = workflow.finish(execution)
    output = json.loads(finished["output"])["recovery"]
    assert (output["status"], output["by"], output["note"]) == (
        "resolved",
        "operator:alice",
        "rolled back v42",
    )
    with pytest.raises(AlreadyResolved, match="already resolved"):
        recovery.lambda_handler(request, lambda_context)


def test_cli_resolve_before_monitoring_is_recorded(workflow, incident) -> None:
    resumer = RecoveryResumer(incident, workflow.sfn)
    assert resumer.resolve(INCIDENT_ID, by="operator:bob", note="fixed") == "recorded"
    with pytest.raises(AlreadyResolved):
        resumer.resolve(INCIDENT_ID, by="operator:carol")


def test_unknown_incident(workflow, incident_table) -> None:
    with pytest.raises(IncidentNotFound):
        RecoveryResumer(incident_table, workflow.sfn).resolve("inc-nope", by="x")


def test_ok_without_an_open_incident_is_ignored(incident_table, alarm_event, lambda_context):
    result = recovery.lambda_handler(alarm_event(state="OK"), lambda_context)
    assert result == {"status": "ignored", "reason": "no open incident for orders-api-errors"}


def test_a_token_from_a_finished_execution_is_reported_as_expired(workflow, incident) -> None:
    execution, token = workflow.start()
    workflow.sfn.send_task_success(taskToken=token, output="{}")  # e.g. resumed elsewhere
    workflow.finish(execution)
    incident.update_item(
        Key={"incident_id": INCIDENT_ID},
        UpdateExpression="SET task_token = :t",
        ExpressionAttributeValues={":t": token},
    )

    # The workflow closed the incident meanwhile: nothing waits for a resolution any more.
    class ClosesThenTimesOut:
        def send_task_success(self, **_: Any) -> None:
            incident.update_item(
                Key={"incident_id": INCIDENT_ID},
                UpdateExpression="SET #s = :x",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":x": "UNRESOLVED"},
            )
            error = {"Error": {"Code": "TaskTimedOut", "Message": "Task Timed Out"}}
            raise ClientError(error, "SendTaskSuccess")

    with pytest.raises(WaitExpired):
        RecoveryResumer(incident, ClosesThenTimesOut()).resolve(INCIDENT_ID, by="operator:alice")


def test_throttled_send_puts_the_token_back_for_a_retry(incident) -> None:
    incident.update_item(
        Key={"incident_id": INCIDENT_ID},
        UpdateExpression="SET task_token = :t",
        ExpressionAttributeValues={":t": "token-1"},
    )
    sfn = boto3.client("stepfunctions", region_name=REGION)
    with Stubber(sfn) as stub:
        stub.add_client_error("send_task_success", "ThrottlingException", http_status_code=400)
        stub.add_response("send_task_success", {})
        resumer = RecoveryResumer(incident, sfn)
        with pytest.raises(TransientDependencyError):
            resumer.resolve(INCIDENT_ID, by="operator:alice")
        stored = _item(incident)
        assert stored["task_token"] == "token-1"
        assert "resolved_at" not in stored
        assert resumer.resolve(INCIDENT_ID, by="operator:alice") == "resumed"
        stub.assert_no_pending_responses()


def test_monitor_after_failed_classification_creates_a_resolvable_record(
    workflow, incident_table, lambda_context
) -> None:
    execution, token = workflow.start()
    assert _monitor(execution, token, lambda_context) == {"status": "waiting"}
    stored = _item(incident_table)
    assert stored["severity"] == "critical"
    assert stored["task_token"] == token
    assert RecoveryResumer(incident_table, workflow.sfn).resolve(INCIDENT_ID, by="x") == "resumed"
    assert workflow.finish(execution)["status"] == "SUCCEEDED"


def test_malformed_resolve_request_is_recorded_not_raised(incident_table, lambda_context) -> None:
    result = recovery.lambda_handler({"by": "operator:alice"}, lambda_context)
    assert result["status"] == "rejected"
    assert result["error"] == "InvalidIncidentInput"
    assert "incident_id" in result["reason"]
    (item,) = incident_table.scan()["Items"]
    assert item["incident_id"].startswith("error#")
