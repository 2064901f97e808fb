"""An incident a joining signal raises to critical after it was classified pages again, at the
new severity, exactly once, even when the first publish fails (docs/contracts.md,
`upgrade_page_pending`); one raised before classify ran is paged by the workflow alone."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from handlers import ingest
from handlers.classify import final
from incidents import alarm_tags
from incidents.classification import Classification
from incidents.correlation_store import CorrelationStore
from incidents.repository import IncidentRepository
from shared.config import reset_settings
from shared.errors import TransientDependencyError

REGION = "us-east-1"


@pytest.fixture(autouse=True)
def ready(incident_table, state_machine) -> str:
    alarm_tags.clear_cache()
    return state_machine


@pytest.fixture
def pager(moto, monkeypatch) -> Any:
    """Critical and high topics, each with an SQS queue standing in for the pager."""
    sns = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    queues = {}
    for severity in ("critical", "high"):
        topic = sns.create_topic(Name=f"{severity}-pages")["TopicArn"]
        queue = sqs.create_queue(QueueName=f"{severity}-pager")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
        monkeypatch.setenv(f"{severity.upper()}_TOPIC_ARN", topic)
        queues[severity] = queue
    reset_settings()

    def pages(severity: str) -> list[dict[str, Any]]:
        got = sqs.receive_message(QueueUrl=queues[severity], MaxNumberOfMessages=10)
        return [json.loads(m["Body"]) for m in got.get("Messages", [])]

    return pages


def _critical_alarm() -> None:
    boto3.client("cloudwatch", region_name=REGION).put_metric_alarm(
        AlarmName="orders-api-p1-latency", MetricName="Duration", Namespace="AWS/Lambda",
        Statistic="Average", Period=60, EvaluationPeriods=1, Threshold=1,
        ComparisonOperator="GreaterThanThreshold",
        Tags=[{"Key": "Severity", "Value": "critical"}],
    )  # fmt: skip


def _classified(table: Any, incident_id: str) -> None:
    """What classify records for a standard incident (it ran before the upgrade)."""
    repo = IncidentRepository(table)
    incident = repo.get(incident_id)
    assert incident.execution_arn
    assert repo.set_classification(
        incident_id, "standard", "default", incident.execution_arn, incident.severity_rule
    )


def test_an_upgrade_after_classify_pages_at_the_new_severity_once(
    pager, lambda_context, alarm_event, incident_table
) -> None:
    _critical_alarm()
    opened = ingest.lambda_handler(alarm_event(alarm_name="orders-api-errors"), lambda_context)
    _classified(incident_table, opened["incident_id"])
    severe = alarm_event(
        alarm_name="orders-api-p1-latency", timestamp="2019-10-02T17:06:00.000+0000"
    )

    result = ingest.lambda_handler(severe, lambda_context)

    assert result["upgraded_to"] == "critical"
    (page,) = pager("critical")
    assert page["Subject"].startswith("[CRITICAL] ")
    assert page["Message"].startswith("UPGRADED to CRITICAL while open")
    assert opened["incident_id"] in page["Message"]
    item = incident_table.get_item(Key={"incident_id": opened["incident_id"]})["Item"]
    assert "upgrade_page_pending" not in item
    assert item["timeline"][-1]["event"] == "paged"
    # A redelivery of the same signal changes nothing and pages nobody.
    assert ingest.lambda_handler(severe, lambda_context)["status"] == "duplicate"
    assert pager("critical") == [] and pager("high") == []


def test_a_failed_upgrade_page_is_sent_by_the_retried_delivery(
    pager, lambda_context, alarm_event, incident_table, monkeypatch
) -> None:
    _critical_alarm()
    opened = ingest.lambda_handler(alarm_event(alarm_name="orders-api-errors"), lambda_context)
    _classified(incident_table, opened["incident_id"])
    severe = alarm_event(
        alarm_name="orders-api-p1-latency", timestamp="2019-10-02T17:06:00.000+0000"
    )
    from moto.sns.models import SNSBackend

    original = SNSBackend.publish
    calls = {"n": 0}

    def throttled_once(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ClientError({"Error": {"Code": "Throttling", "Message": "slow down"}}, "Publish")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SNSBackend, "publish", throttled_once)
    with pytest.raises(TransientDependencyError, match="SNS Publish"):
        ingest.lambda_handler(severe, lambda_context)
    item = incident_table.get_item(Key={"incident_id": opened["incident_id"]})["Item"]
    assert item["severity"] == "critical" and item["upgrade_page_pending"] == "critical"
    assert pager("critical") == []

    retried = ingest.lambda_handler(severe, lambda_context)  # Lambda's async retry

    assert retried["status"] == "duplicate"
    assert len(pager("critical")) == 1
    item = incident_table.get_item(Key={"incident_id": opened["incident_id"]})["Item"]
    assert "upgrade_page_pending" not in item


def test_an_upgrade_before_classify_raises_the_severity_without_paging(
    pager, lambda_context, alarm_event, incident_table
) -> None:
    """The joining signal lands before classify ran (a slow start, an alarm storm): ingest
    only raises the severity. Classify keeps the stored, higher severity and the workflow
    pages at it, so a page from ingest as well would page on-call twice for one incident."""
    _critical_alarm()
    opened = ingest.lambda_handler(alarm_event(alarm_name="orders-api-errors"), lambda_context)
    severe = alarm_event(
        alarm_name="orders-api-p1-latency", timestamp="2019-10-02T17:06:00.000+0000"
    )

    result = ingest.lambda_handler(severe, lambda_context)

    assert result["upgraded_to"] == "critical"
    assert pager("critical") == [] and pager("high") == []
    stored = IncidentRepository(incident_table).get(opened["incident_id"])
    assert stored.severity == "critical" and stored.upgrade_page_pending is None
    # Classify, deciding `standard` for the first alarm, keeps the critical the record holds.
    decided = Classification(severity="standard", rule="default")
    assert final(decided, stored).severity == "critical"


def test_an_upgrade_racing_classify_pages_once(lambda_context, alarm_event, incident_table) -> None:
    """Classify records its decision between the upgrade's two conditional writes: the upgrade
    looks again and, the incident now classified, leaves the page pending for ingest."""
    opened = ingest.lambda_handler(alarm_event(alarm_name="orders-api-errors"), lambda_context)
    store = CorrelationStore(incident_table)
    first_try = store._update
    calls: list[str] = []

    def classify_lands_after_the_first_try(*args: Any) -> bool:
        calls.append(args[2])
        answered = first_try(*args)
        if len(calls) == 1:
            _classified(incident_table, opened["incident_id"])
        return answered

    store._update = classify_lands_after_the_first_try  # type: ignore[method-assign]
    assert store.upgrade(opened["incident_id"], "critical", "tag", "p1")
    assert len(calls) == 3  # classified? no. pending? no (classify landed). classified? yes.
    stored = IncidentRepository(incident_table).get(opened["incident_id"])
    assert stored.severity == "critical" and stored.upgrade_page_pending == "critical"
