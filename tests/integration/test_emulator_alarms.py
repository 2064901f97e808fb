"""CloudWatch alarm actions and evaluation on the emulator (alarm_actions.py,
alarm_evaluator.py), against moto's server with the emulator's alarm hooks installed: actions
run on every actual state change whoever made it, the evaluator moves only the alarms it
watches."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from runbook.local import alarms
from runbook.local.alarm_actions import AlarmActions
from runbook.local.alarm_evaluator import AlarmEvaluator
from runbook.local.server import MotoServer, free_port

ACCOUNT, REGION = "123456789012", "us-east-1"
NOTIFICATION_KEYS = {
    "AlarmName",
    "AlarmDescription",
    "AWSAccountId",
    "AlarmConfigurationUpdatedTimestamp",
    "NewStateValue",
    "NewStateReason",
    "StateChangeTime",
    "Region",
    "AlarmArn",
    "OldStateValue",
    "OKActions",
    "AlarmActions",
    "InsufficientDataActions",
    "Trigger",
}


class Cloud:
    def __init__(self, server: MotoServer, actions: AlarmActions) -> None:
        self.server = server
        self.actions = actions

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.server.endpoint_url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"max_attempts": 1}),
        )

    def watched_topic(self, name: str) -> tuple[str, str]:
        """A topic and the queue that receives what it publishes."""
        sns, sqs = self.client("sns"), self.client("sqs")
        topic = sns.create_topic(Name=name)["TopicArn"]
        queue = sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
        return topic, queue

    def received(self, queue: str) -> list[dict[str, Any]]:
        sqs = self.client("sqs")
        found = []
        while True:
            batch = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                return found
            for message in batch:
                sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
                found.append(json.loads(message["Body"]))


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    log = Path(tmp_path_factory.mktemp("alarms")) / "alarms.log"
    actions = AlarmActions(log)
    server = MotoServer(free_port())
    server.start()
    alarms.install_alarm_events(alarms.emit_state_change, actions)
    try:
        yield Cloud(server, actions)
    finally:
        alarms.remove_alarm_events()
        server.stop()


def put_alarm(cloud: Cloud, name: str, topic: str, **extra: Any) -> None:
    params: dict[str, Any] = {
        "AlarmName": name,
        "AlarmDescription": "Errors of the orders API",
        "Namespace": "AWS/Lambda",
        "MetricName": "Errors",
        "Dimensions": [{"Name": "FunctionName", "Value": f"{name}-fn"}],
        "Statistic": "Sum",
        "Period": 60,
        "EvaluationPeriods": 1,
        "Threshold": 1,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "AlarmActions": [topic],
        "OKActions": [topic],
        **extra,
    }
    params = {key: value for key, value in params.items() if value is not None}
    cloud.client("cloudwatch").put_metric_alarm(**params)


def test_set_alarm_state_notifies_the_topics_of_the_new_state(cloud: Cloud) -> None:
    topic, queue = cloud.watched_topic("alarm-actions-a")
    put_alarm(cloud, "orders-errors-a", topic)
    cloudwatch = cloud.client("cloudwatch")

    cloudwatch.set_alarm_state(
        AlarmName="orders-errors-a", StateValue="ALARM", StateReason="Errors >= 1"
    )
    cloudwatch.set_alarm_state(
        AlarmName="orders-errors-a", StateValue="ALARM", StateReason="still"
    )  # no change: no action
    (sent,) = cloud.received(queue)
    assert sent["Subject"] == 'ALARM: "orders-errors-a" in US East (N. Virginia)'
    message = json.loads(sent["Message"])
    assert set(message) == NOTIFICATION_KEYS
    assert message["AlarmName"] == "orders-errors-a"
    assert (message["OldStateValue"], message["NewStateValue"]) == ("INSUFFICIENT_DATA", "ALARM")
    assert message["NewStateReason"] == "Errors >= 1"
    assert message["AWSAccountId"] == ACCOUNT
    assert message["Region"] == "US East (N. Virginia)"
    assert message["AlarmArn"] == f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:orders-errors-a"
    assert message["AlarmActions"] == [topic] and message["InsufficientDataActions"] == []
    assert dt.datetime.strptime(message["StateChangeTime"], "%Y-%m-%dT%H:%M:%S.%f%z")
    assert message["Trigger"] == {
        "MetricName": "Errors",
        "Namespace": "AWS/Lambda",
        "StatisticType": "Statistic",
        "Statistic": "SUM",
        "Unit": None,
        "Dimensions": [{"value": "orders-errors-a-fn", "name": "FunctionName"}],
        "Period": 60,
        "EvaluationPeriods": 1,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "Threshold": 1.0,
        "TreatMissingData": "missing",
        "EvaluateLowSampleCountPercentile": "",
    }

    cloudwatch.set_alarm_state(AlarmName="orders-errors-a", StateValue="OK", StateReason="fine")
    (ok,) = cloud.received(queue)
    assert json.loads(ok["Message"])["NewStateValue"] == "OK"
    assert ok["Subject"].startswith('OK: "orders-errors-a"')

    cloudwatch.disable_alarm_actions(AlarmNames=["orders-errors-a"])
    cloudwatch.set_alarm_state(AlarmName="orders-errors-a", StateValue="ALARM", StateReason="x")
    assert cloud.received(queue) == []
    logged = cloud.actions.log.read()
    assert [e["outcome"] for e in logged if e["alarm"] == "orders-errors-a"] == ["published"] * 2


def test_actions_that_are_not_topics_are_logged_as_not_emulated(cloud: Cloud) -> None:
    topic, queue = cloud.watched_topic("alarm-actions-b")
    lambda_action = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:responder"
    put_alarm(
        cloud,
        "latency-b",
        topic,
        AlarmActions=[lambda_action, topic],
        ExtendedStatistic="p99",
        Statistic=None,
    )
    cloud.client("cloudwatch").set_alarm_state(
        AlarmName="latency-b", StateValue="ALARM", StateReason="slow"
    )
    (sent,) = cloud.received(queue)
    trigger = json.loads(sent["Message"])["Trigger"]
    assert (trigger["StatisticType"], trigger["ExtendedStatistic"]) == ("ExtendedStatistic", "p99")
    outcomes = {
        e["action"]: e["outcome"] for e in cloud.actions.log.read() if e["alarm"] == "latency-b"
    }
    assert outcomes == {lambda_action: "not emulated: lambda actions", topic: "published"}


def heartbeat(cloud: Cloud, value: float = 1.0) -> None:
    cloud.client("cloudwatch").put_metric_data(
        Namespace="IncidentRunbook",
        MetricData=[
            {
                "MetricName": "DrillCompleted",
                "Dimensions": [{"Name": "service", "Value": "incident-runbook"}],
                "Value": value,
                "Unit": "Count",
            }
        ],
    )


def test_a_dead_mans_switch_alarms_when_heartbeats_stop_and_only_watched_alarms_move(
    cloud: Cloud, tmp_path: Path
) -> None:
    topic, queue = cloud.watched_topic("dead-mans-switch")
    switch = {
        "Namespace": "IncidentRunbook",
        "MetricName": "DrillCompleted",
        "Dimensions": [{"Name": "service", "Value": "incident-runbook"}],
        "Statistic": "Sum",
        "Period": 60,
        "EvaluationPeriods": 1,
        "Threshold": 1,
        "ComparisonOperator": "LessThanThreshold",
        "TreatMissingData": "breaching",
    }
    put_alarm(cloud, "drill-switch", topic, **switch)
    put_alarm(cloud, "drill-switch-unwatched", topic, **switch)  # a test's own alarm
    evaluator = AlarmEvaluator(time_scale=30.0, log_file=tmp_path / "alarms.log")  # 60 s = 2 s
    evaluator.watch("drill-switch", ACCOUNT, REGION)
    cloudwatch = cloud.client("cloudwatch")

    def state(name: str = "drill-switch") -> str:
        return str(cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"])

    heartbeat(cloud)
    assert [c["state"] for c in evaluator.evaluate()] == ["OK"]
    deadline = time.monotonic() + 4  # two compressed periods of heartbeats: stays OK
    while time.monotonic() < deadline:
        heartbeat(cloud)
        assert evaluator.evaluate() == []
        assert state() == "OK"
        time.sleep(0.4)

    silent_since = time.monotonic()
    while state() != "ALARM":
        assert time.monotonic() - silent_since < 5, "the switch never fired"
        evaluator.evaluate()
        time.sleep(0.2)
    assert time.monotonic() - silent_since >= 1.5  # not before the period without data ended
    alarm = cloudwatch.describe_alarms(AlarmNames=["drill-switch"])["MetricAlarms"][0]
    assert "missing datapoint was treated as [Breaching]" in alarm["StateReason"]
    notices = [json.loads(m["Message"]) for m in cloud.received(queue)]
    assert [(n["OldStateValue"], n["NewStateValue"]) for n in notices] == [
        ("INSUFFICIENT_DATA", "OK"),
        ("OK", "ALARM"),
    ]
    assert state("drill-switch-unwatched") == "INSUFFICIENT_DATA"
    assert [e["state"] for e in evaluator.log.read()] == ["OK", "ALARM"]

    heartbeat(cloud)  # a late drill brings it back
    assert [c["state"] for c in evaluator.evaluate()] == ["OK"]


def test_the_evaluator_thread_ticks_on_its_own(cloud: Cloud, tmp_path: Path) -> None:
    topic, _ = cloud.watched_topic("evaluator-thread")
    put_alarm(
        cloud,
        "thread-switch",
        topic,
        TreatMissingData="notBreaching",
        Dimensions=[{"Name": "FunctionName", "Value": "never-called"}],
    )
    evaluator = AlarmEvaluator(time_scale=600.0, log_file=tmp_path / "alarms.log")
    evaluator.watch("thread-switch", ACCOUNT, REGION)
    assert evaluator.tick_seconds == 0.25
    evaluator.start()
    try:
        deadline = time.monotonic() + 5
        cloudwatch = cloud.client("cloudwatch")
        while time.monotonic() < deadline:
            alarm = cloudwatch.describe_alarms(AlarmNames=["thread-switch"])["MetricAlarms"][0]
            if alarm["StateValue"] == "OK":
                break
            time.sleep(0.1)
        assert alarm["StateValue"] == "OK"  # no errors at all is within the threshold
    finally:
        evaluator.stop()
