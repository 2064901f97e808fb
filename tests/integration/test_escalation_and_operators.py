"""Acknowledge / escalate / resolve, the escalate step, the stabilisation check and the
recovery watch, against moto with a real waiting execution (docs/contracts.md, "Paging,
escalation and operator actions")."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from handlers import check_stability, escalate, monitor_recovery, recovery, recovery_watch
from incidents.model import Incident
from recovery.operator import OperatorActions
from recovery.resume import RecoveryResumer
from shared.config import reset_settings
from shared.errors import AlreadyAcknowledged, AlreadyResolved, IncidentNotFound, NotWaiting

from .token_workflow import INCIDENT_ID, REGION, Workflow, executing_moto

ALARM = "orders-api-errors"
ALARM_ARN = f"arn:aws:cloudwatch:{REGION}:123456789012:alarm:{ALARM}"
STATE = {
    "incident_id": INCIDENT_ID,
    "title": "orders-api-errors is in ALARM",
    "severity": "critical",
    "source": "aws.cloudwatch",
    "alarm_name": ALARM,
    "alarm_arn": ALARM_ARN,
    "resources": [{"type": "AWS::Lambda::Function", "id": "orders-api"}],
    "opened_at": "2019-10-02T17:04:40Z",
    "execution_arn": f"arn:aws:states:{REGION}:123456789012:execution:IncidentResponse:x",
}


@pytest.fixture
def moto(aws_env: None) -> Iterator[None]:
    yield from executing_moto()


@pytest.fixture
def workflow(sfn_role_arn: str) -> Workflow:
    return Workflow(sfn_role_arn)


@pytest.fixture
def incident(incident_table) -> Any:
    incident_table.put_item(Item={**STATE, "status": "OPEN", "timeline": []})
    return incident_table


@pytest.fixture
def pager(moto, monkeypatch) -> Any:
    """The escalation topic with an SQS subscriber that stands in for the pager."""
    sns = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    topic = sns.create_topic(Name="escalation")["TopicArn"]
    queue = sqs.create_queue(QueueName="pager")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    monkeypatch.setenv("ESCALATION_TOPIC_ARN", topic)
    monkeypatch.setenv("MAX_ESCALATIONS", "2")
    monkeypatch.setenv("TIMEZONE", "Europe/Berlin")
    reset_settings()

    def pages() -> list[dict[str, Any]]:
        got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"]) for m in got]

    return pages


@pytest.fixture
def alarm(moto) -> Any:
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    cloudwatch.put_metric_alarm(
        AlarmName=ALARM,
        MetricName="Errors",
        Namespace="AWS/Lambda",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )

    def set_state(value: str) -> None:
        cloudwatch.set_alarm_state(AlarmName=ALARM, StateValue=value, StateReason=f"test {value}")

    set_state("ALARM")
    return set_state


def _item(table) -> dict[str, Any]:
    return table.get_item(Key={"incident_id": INCIDENT_ID}, ConsistentRead=True)["Item"]


def _events(table) -> list[str]:
    return [entry["event"] for entry in _item(table)["timeline"]]


def _wait(workflow: Workflow, context) -> tuple[str, str]:
    execution, token = workflow.start()
    payload = {"task_token": token, "incident_id": INCIDENT_ID, "execution_arn": execution}
    assert monitor_recovery.lambda_handler(payload, context)["status"] == "waiting"
    return execution, token


def _escalate(context, reason: str = "timeout", **extra: str) -> dict[str, Any]:
    request = {"reason": reason, **extra}
    return escalate.lambda_handler(
        {"incident": STATE, "request": request, "execution_arn": STATE["execution_arn"]}, context
    )


# -- acknowledge ---------------------------------------------------------------------------
def test_acknowledge_once_then_a_clear_error_naming_who(incident, workflow) -> None:
    actions = OperatorActions(incident, workflow.sfn)
    acked = actions.acknowledge(INCIDENT_ID, by="operator:alice", note="looking")
    assert acked.acknowledged_by == "operator:alice"
    assert acked.status == "OPEN"  # acknowledging never closes
    assert "acknowledged" in _events(incident)
    with pytest.raises(AlreadyAcknowledged, match="operator:alice"):
        actions.acknowledge(INCIDENT_ID, by="slack:bob")
    with pytest.raises(IncidentNotFound):
        actions.acknowledge("inc-nope", by="x")


def test_a_resolved_incident_cannot_be_acknowledged(incident, workflow) -> None:
    actions = OperatorActions(incident, workflow.sfn)
    assert actions.resolve(INCIDENT_ID, by="operator:alice", note="fixed") == "recorded"
    with pytest.raises(AlreadyResolved):
        actions.acknowledge(INCIDENT_ID, by="operator:bob")


# -- operator escalation -------------------------------------------------------------------
def test_operator_escalation_resumes_the_wait_with_escalate(
    incident, workflow, lambda_context
) -> None:
    execution, _ = _wait(workflow, lambda_context)
    actions = OperatorActions(incident, workflow.sfn)
    assert actions.escalate(INCIDENT_ID, by="operator:alice", note="db team") == "resumed"
    output = json.loads(workflow.finish(execution)["output"])["recovery"]
    assert output["status"] == "escalate"
    assert output["by"] == "operator:alice" and output["note"] == "db team"
    stored = _item(incident)
    assert "task_token" not in stored and "resolved_at" not in stored
    assert "escalation requested" in _events(incident)
    with pytest.raises(NotWaiting, match="not waiting"):
        actions.escalate(INCIDENT_ID, by="operator:alice")


# -- the escalate step ---------------------------------------------------------------------
def test_timeout_pages_the_escalation_topic_with_the_elapsed_time(
    incident, pager, lambda_context
) -> None:
    result = _escalate(lambda_context)
    assert result == {
        "escalations": 1,
        "paged": True,
        "acknowledged": False,
        "close": False,
        "engagement": None,  # no `settings` in this payload: no next wait to compute
    }
    (page,) = pager()
    assert len(page["Subject"]) < 100
    assert page["Subject"].startswith("[ESCALATION 1] orders-api: orders-api-errors - open ")
    body = page["Message"]
    assert "is still open after" in body and "nobody resolved it within the wait" in body
    assert "CEST" in body or "CET" in body  # the team's zone next to UTC
    assert f"runbook ack {INCIDENT_ID}" in body
    stored = _item(incident)
    assert stored["escalation_count"] == 1 and stored["timeout_count"] == 1
    assert "escalated" in _events(incident)


def test_acknowledged_incident_is_not_paged_on_timeout_but_closes_when_waits_run_out(
    incident, pager, workflow, lambda_context
) -> None:
    OperatorActions(incident, workflow.sfn).acknowledge(INCIDENT_ID, by="operator:alice")
    first = _escalate(lambda_context)
    assert first["paged"] is False and first["acknowledged"] is True and first["close"] is False
    assert pager() == []
    assert _escalate(lambda_context)["close"] is False
    last = _escalate(lambda_context)  # the third timeout with maxEscalations 2
    assert last["close"] is True and last["paged"] is True
    (page,) = pager()
    assert page["Subject"].startswith("[CLOSING UNRESOLVED]")
    assert "Acknowledged by operator:alice" in page["Message"]


def test_operator_escalation_pages_even_when_acknowledged_and_never_closes(
    incident, pager, workflow, lambda_context
) -> None:
    OperatorActions(incident, workflow.sfn).acknowledge(INCIDENT_ID, by="operator:alice")
    for _ in range(4):
        result = _escalate(lambda_context, "operator", by="operator:bob", note="need db team")
        assert result["paged"] is True and result["close"] is False
    pages = pager()
    assert len(pages) == 4
    assert "operator:bob: need db team" in pages[0]["Message"]
    assert "timeout_count" not in _item(incident)


def test_a_timeout_forgets_the_spent_token(incident, pager, workflow, lambda_context) -> None:
    _wait(workflow, lambda_context)
    assert "task_token" in _item(incident)
    _escalate(lambda_context)
    assert "task_token" not in _item(incident)


def test_malformed_escalation_request_is_a_typed_error(incident, pager, lambda_context) -> None:
    from shared.errors import InvalidIncidentInput

    with pytest.raises(InvalidIncidentInput, match="reason"):
        _escalate(lambda_context, "panic")


# -- stabilisation -------------------------------------------------------------------------
def test_alarm_ok_is_recovering_not_resolved_until_stable(
    incident, workflow, alarm, alarm_event, lambda_context
) -> None:
    execution, _ = _wait(workflow, lambda_context)
    alarm("OK")
    assert recovery.lambda_handler(alarm_event(state="OK"), lambda_context)["status"] == "resumed"
    stored = _item(incident)
    assert stored["recovering"]["by"] == f"alarm:{ALARM}" and "resolved_at" not in stored
    assert Incident.from_item(stored).is_open  # a re-fire now joins instead of reopening
    again = recovery.lambda_handler(alarm_event(state="OK"), lambda_context)
    assert again["status"] == "already_resolved"

    result = check_stability.lambda_handler({"incident": STATE, "recovery": {}}, lambda_context)
    assert result == {"stable": True, "status": "recovered", "alarm_state": "OK"}
    stored = _item(incident)
    assert stored["resolved_by"] == f"alarm:{ALARM}" and "recovering" not in stored
    assert workflow.finish(execution)["status"] == "SUCCEEDED"


def test_an_alarm_that_fires_again_while_stabilising_goes_back_to_waiting(
    incident, workflow, alarm, alarm_event, lambda_context
) -> None:
    _wait(workflow, lambda_context)
    alarm("OK")
    recovery.lambda_handler(alarm_event(state="OK"), lambda_context)
    alarm("ALARM")
    result = check_stability.lambda_handler({"incident": STATE, "recovery": {}}, lambda_context)
    assert result == {"stable": False, "status": "flapped", "alarm_state": "ALARM"}
    stored = _item(incident)
    assert stored["flap_count"] == 1
    assert "recovering" not in stored and "resolved_at" not in stored
    assert "flapped" in _events(incident)
    # The workflow waits again: a new token is stored and the next OK resumes it.
    token = "token-of-the-second-wait"
    payload = {"task_token": token, "incident_id": INCIDENT_ID, "execution_arn": "x"}
    assert monitor_recovery.lambda_handler(payload, lambda_context)["status"] == "waiting"
    assert _item(incident)["task_token"] == token


def test_an_operator_resolve_while_stabilising_decides(
    incident, workflow, alarm, alarm_event, lambda_context
) -> None:
    _wait(workflow, lambda_context)
    alarm("OK")
    recovery.lambda_handler(alarm_event(state="OK"), lambda_context)
    actions = OperatorActions(incident, workflow.sfn)
    assert actions.resolve(INCIDENT_ID, by="operator:alice", note="rolled back") == "recorded"
    alarm("ALARM")
    result = check_stability.lambda_handler({"incident": STATE, "recovery": {}}, lambda_context)
    assert result["status"] == "resolved" and result["stable"] is True


# -- the recovery watch --------------------------------------------------------------------
def test_watch_sends_heartbeats_for_waiting_incidents(
    incident, workflow, alarm, lambda_context
) -> None:
    _, token = _wait(workflow, lambda_context)
    with Stubber(workflow.sfn) as stub:
        stub.add_response("send_task_heartbeat", {}, {"taskToken": token})
        from recovery.watch import RecoveryWatch

        cloudwatch = boto3.client("cloudwatch", region_name=REGION)
        report = RecoveryWatch(incident, workflow.sfn, cloudwatch).run()
        stub.assert_no_pending_responses()
    assert report.as_dict() == {"heartbeats": 1, "expired": 0, "recovered": 0, "failed": 0}


def test_watch_forgets_a_token_the_workflow_no_longer_waits_on(
    incident, workflow, alarm, lambda_context
) -> None:
    execution, token = _wait(workflow, lambda_context)
    workflow.sfn.send_task_success(taskToken=token, output="{}")  # the wait ended elsewhere
    workflow.finish(execution)
    result = recovery_watch.lambda_handler({"detail-type": "Scheduled Event"}, lambda_context)
    assert result["expired"] == 1 and result["heartbeats"] == 0
    assert "task_token" not in _item(incident)


def test_watch_resumes_an_incident_whose_ok_event_was_lost(
    incident, workflow, alarm, lambda_context
) -> None:
    from recovery.watch import RecoveryWatch

    execution, token = _wait(workflow, lambda_context)
    alarm("OK")  # no OK event delivered
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    # A fresh OK is left to its own event for a while (it is usually on its way) ...
    with Stubber(workflow.sfn) as stub:
        stub.add_response("send_task_heartbeat", {}, {"taskToken": token})
        fresh = RecoveryWatch(incident, workflow.sfn, cloudwatch).run()
    assert fresh.recovered == 0 and fresh.heartbeats == 1
    # ... and resumed by the watch once it should have arrived.
    result = RecoveryWatch(incident, workflow.sfn, cloudwatch, ok_grace_seconds=0).run()
    assert result.recovered == 1
    output = json.loads(workflow.finish(execution)["output"])["recovery"]
    assert output["status"] == "recovered" and output["by"].startswith("watch:")


def test_resolve_after_the_wait_timed_out_is_kept_for_the_next_wait(incident) -> None:
    """The token expired (the workflow is escalating): the resolution is recorded, and the
    next MonitorRecovery resumes at once with it."""
    incident.update_item(
        Key={"incident_id": INCIDENT_ID},
        UpdateExpression="SET task_token = :t, #s = :m",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":t": "old-token", ":m": "MONITORING"},
    )
    sfn = boto3.client("stepfunctions", region_name=REGION)
    with Stubber(sfn) as stub:
        stub.add_client_error("send_task_success", "TaskTimedOut", "Task Timed Out")
        outcome = RecoveryResumer(incident, sfn).resolve(INCIDENT_ID, by="operator:alice")
    assert outcome == "recorded"
    stored = _item(incident)
    assert stored["recovery_signal"]["by"] == "operator:alice"
    assert "task_token" not in stored


# -- incidents with several alarms -----------------------------------------------------------
OTHER = "orders-api-throttles"
OTHER_ARN = f"arn:aws:cloudwatch:{REGION}:123456789012:alarm:{OTHER}"


@pytest.fixture
def two_alarms(incident, alarm) -> Any:
    """The incident also holds a second alarm that folded into it (its key and its claim)."""
    from incidents.claims import ClaimStore, claim_id
    from incidents.correlation_keys import alarm_key

    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    cloudwatch.put_metric_alarm(
        AlarmName=OTHER, MetricName="Throttles", Namespace="AWS/Lambda", Statistic="Sum",
        Period=60, EvaluationPeriods=1, Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )  # fmt: skip
    incident.update_item(
        Key={"incident_id": INCIDENT_ID},
        UpdateExpression="ADD correlation_keys :k",
        ExpressionAttributeValues={":k": {alarm_key(ALARM_ARN), alarm_key(OTHER_ARN)}},
    )
    incident.put_item(
        Item={
            "incident_id": claim_id(alarm_key(OTHER_ARN)),
            "key": alarm_key(OTHER_ARN),
            "current": INCIDENT_ID,
            "claimed_at": "2019-10-02T17:05:00Z",
        }
    )
    assert ClaimStore(incident).read(alarm_key(OTHER_ARN)).current == INCIDENT_ID

    def set_other(value: str) -> None:
        cloudwatch.set_alarm_state(AlarmName=OTHER, StateValue=value, StateReason=value)

    set_other("ALARM")
    return set_other


def test_an_ok_while_another_alarm_of_the_incident_fires_resumes_nothing(
    workflow, two_alarms, alarm, alarm_event, lambda_context, incident
) -> None:
    _wait(workflow, lambda_context)
    alarm("OK")
    result = recovery.lambda_handler(alarm_event(state="OK"), lambda_context)
    assert result["status"] == "ignored"
    assert f"{OTHER} still fires" in result["reason"]
    assert "task_token" in _item(incident)  # still waiting

    # The folded alarm's own OK (it has no by_alarm entry: found through its claim) resumes.
    two_alarms("OK")
    other_ok = alarm_event(state="OK", alarm_name=OTHER)
    other_ok["resources"] = [OTHER_ARN]
    other_ok["detail"]["alarmName"] = OTHER
    assert recovery.lambda_handler(other_ok, lambda_context)["status"] == "resumed"


def test_stability_checks_every_alarm_of_the_incident(
    workflow, two_alarms, alarm, alarm_event, lambda_context, incident
) -> None:
    _wait(workflow, lambda_context)
    two_alarms("OK")
    alarm("OK")
    assert recovery.lambda_handler(alarm_event(state="OK"), lambda_context)["status"] == "resumed"
    two_alarms("ALARM")  # the folded alarm fires again while stabilising
    result = check_stability.lambda_handler({"incident": STATE, "recovery": {}}, lambda_context)
    assert result["status"] == "flapped"
    assert OTHER in _item(incident)["timeline"][-1]["detail"]
