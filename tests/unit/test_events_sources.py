"""Each source ingest handles, parsed from events shaped exactly as AWS documents them.

The samples below are the documented ones (CloudWatch User Guide "Alarm events and
EventBridge"; AWS Health User Guide "AWS Health events Amazon EventBridge schema"; ECS Developer
Guide "Amazon ECS task state change events"; EventBridge event reference "AWS CodeDeploy
events"). Where AWS documents only a RUNNING task or a SUCCESS deployment, the variants change
only the documented fields (lastStatus, stopCode, stoppedReason, exitCode, state).
Other test modules import them from here.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from incidents.events import parse_eventbridge_event
from incidents.model import Resource
from incidents.sources import parse_source_event
from incidents.sources.health import health_item_id
from shared.errors import InvalidIncidentInput

ACCOUNT = "123456789012"

# -- CloudWatch: a composite alarm with a suppressor (documented sample) ----------------------
COMPOSITE_ALARM_EVENT: dict[str, Any] = {
    "version": "0",
    "id": "d3dfc86d-384d-24c8-0345-9f7986db0b80",
    "detail-type": "CloudWatch Alarm State Change",
    "source": "aws.cloudwatch",
    "account": "123456789012",
    "time": "2022-07-22T15:57:45Z",
    "region": "us-east-1",
    "resources": ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:ServiceAggregatedAlarm"],
    "detail": {
        "alarmName": "ServiceAggregatedAlarm",
        "state": {
            "actionsSuppressedBy": "WaitPeriod",
            "actionsSuppressedReason": "Actions suppressed by WaitPeriod",
            "value": "ALARM",
            "reason": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:SuppressionDemo.EventBridge"
            ".FirstChild transitioned to ALARM at Friday 22 July, 2022 15:57:45 UTC",
            "reasonData": '{"triggeringAlarms":[{"arn":"arn:aws:cloudwatch:us-east-1:'
            '123456789012:alarm:ServerCpuTooHigh","state":{"value":"ALARM",'
            '"timestamp":"2022-07-22T15:57:45.394+0000"}}]}',
            "timestamp": "2022-07-22T15:57:45.394+0000",
        },
        "previousState": {
            "value": "OK",
            "reason": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:SuppressionDemo.EventBridge"
            ".Main was created and its alarm rule evaluates to OK",
            "reasonData": '{"triggeringAlarms":[{"arn":"arn:aws:cloudwatch:us-east-1:'
            '123456789012:alarm:TotalNetworkTrafficTooHigh","state":{"value":"OK",'
            '"timestamp":"2022-07-14T16:28:57.770+0000"}},{"arn":"arn:aws:cloudwatch:'
            'us-east-1:123456789012:alarm:ServerCpuTooHigh","state":{"value":"OK",'
            '"timestamp":"2022-07-14T16:28:54.191+0000"}}]}',
            "timestamp": "2022-07-22T15:56:14.552+0000",
        },
        "configuration": {
            "alarmRule": "ALARM(ServerCpuTooHigh) OR ALARM(TotalNetworkTrafficTooHigh)",
            "actionsSuppressor": "ServiceMaintenanceAlarm",
            "actionsSuppressorWaitPeriod": 120,
            "actionsSuppressorExtensionPeriod": 180,
        },
    },
}

# -- AWS Health (documented samples) ---------------------------------------------------------
HEALTH_EC2_ISSUE: dict[str, Any] = {
    "version": "0",
    "id": "7bf73129-1428-4cd3-a780-95db273d1602",
    "detail-type": "AWS Health Event",
    "source": "aws.health",
    "account": "123456789012",
    "time": "2023-01-27T09:01:22Z",
    "region": "af-south-1",
    "resources": [],
    "detail": {
        "eventArn": "arn:aws:health:af-south-1::event/EC2/AWS_EC2_OPERATIONAL_ISSUE/"
        "AWS_EC2_OPERATIONAL_ISSUE_7f35c8ae-af1f-54e6-a526-d0179ed6d68f",
        "service": "EC2",
        "eventTypeCode": "AWS_EC2_OPERATIONAL_ISSUE",
        "eventTypeCategory": "issue",
        "eventScopeCode": "PUBLIC",
        "communicationId": "01b0993207d81a09dcd552ebd1e633e36cf1f09a-1",
        "startTime": "Fri, 27 Jan 2023 06:02:51 GMT",
        "endTime": "Fri, 27 Jan 2023 09:01:22 GMT",
        "lastUpdatedTime": "Fri, 27 Jan 2023 09:01:22 GMT",
        "statusCode": "open",
        "eventRegion": "af-south-1",
        "eventDescription": [
            {
                "language": "en_US",
                "latestDescription": "Current severity level: Operating normally\n\n[RESOLVED] "
                "\n\n [03:15 PM PST] We continue see recovery \n\nThe following AWS services "
                "were previously impacted but are now operating normally: APPSYNC, BACKUP, "
                "EVENTS.",
            }
        ],
        "affectedEntities": [],
        "page": "1",
        "totalPages": "1",
        "backupEvent": "false",
        "affectedAccount": "123456789012",
        "personas": ["OPERATIONS"],
    },
}

HEALTH_ELB_ISSUE: dict[str, Any] = {
    "version": "0",
    "id": "121345678-1234-1234-1234-123456789012",
    "detail-type": "AWS Health Event",
    "source": "aws.health",
    "account": "123456789012",
    "time": "2022-06-10T06:27:57Z",
    "region": "ap-southeast-2",
    "resources": [],
    "detail": {
        "eventArn": "arn:aws:health:ap-southeast-2::event/"
        "AWS_ELASTICLOADBALANCING_API_ISSUE_90353408594353980",
        "service": "ELASTICLOADBALANCING",
        "eventTypeCode": "AWS_ELASTICLOADBALANCING_API_ISSUE",
        "eventTypeCategory": "issue",
        "eventScopeCode": "ACCOUNT_SPECIFIC",
        "communicationId": "01b0993207d81a09dcd552ebd1e633e36cf1f09a-1",
        "startTime": "Fri, 10 Jun 2022 05:01:10 GMT",
        "endTime": "Fri, 10 Jun 2022 05:30:57 GMT",
        "statusCode": "open",
        "eventRegion": "ap-southeast-2",
        "eventDescription": [
            {
                "language": "en_US",
                "latestDescription": "A description of the event will be provided here",
            }
        ],
        "page": "1",
        "totalPages": "1",
        "backupEvent": "false",
        "affectedAccount": "123456789012",
        "personas": ["OPERATIONS"],
    },
}

HEALTH_EC2_RETIREMENT: dict[str, Any] = {
    "version": "0",
    "id": "7bf73129-1428-4cd3-a780-95db273d1602",
    "detail-type": "AWS Health Event",
    "source": "aws.health",
    "account": "123456789012",
    "time": "2026-01-27T01:43:21Z",
    "region": "us-east-1",
    "detail": {
        "eventArn": "arn:aws:health:us-east-1::event/"
        "AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED_90353408594353983",
        "service": "EC2",
        "eventTypeCode": "AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED",
        "eventTypeCategory": "scheduledChange",
        "eventScopeCode": "ACCOUNT_SPECIFIC",
        "communicationId": "1234abc01232a4012345678-1",
        "startTime": "Thu, 27 Aug 2026 13:19:03 GMT",
        "lastUpdatedTime": "Thu, 27 Jan 2026 13:44:13 GMT",
        "statusCode": "open",
        "eventRegion": "us-east-1",
        "eventDescription": [
            {
                "language": "en_US",
                "latestDescription": "A description of the event will be provided here",
            }
        ],
        "eventMetadata": {
            "keystring1": "valuestring1",
            "keystring2": "valuestring2",
            "keystring3": "valuestring3",
            "keystring4": "valuestring4",
            "truncated": "true",
        },
        "affectedEntities": [
            {
                "entityValue": "arn:aws:ec2:us-east-1:123456789012:instance/i-1234567890abcdef0",
                "lastUpdatedTime": "Thu, 26 Jan 2026 19:01:55 GMT",
                "status": "PENDING",
            }
        ],
        "affectedAccount": "123456789012",
        "page": "1",
        "totalPages": "1",
        "backupEvent": "false",
        "personas": ["OPERATIONS"],
        "actionability": "ACTION_REQUIRED",
    },
}


def health_event(base: dict[str, Any] = HEALTH_EC2_ISSUE, **detail: Any) -> dict[str, Any]:
    """A copy of a documented Health event with some detail fields changed."""
    event = copy.deepcopy(base)
    event["detail"].update(detail)
    return event


# -- ECS (the documented task state change; STOPPED variants) ---------------------------------
ECS_TASK_EVENT: dict[str, Any] = {
    "version": "0",
    "id": "3317b2af-7005-947d-b652-f55e762e571a",
    "detail-type": "ECS Task State Change",
    "source": "aws.ecs",
    "account": "111122223333",
    "time": "2020-01-23T17:57:58Z",
    "region": "us-west-2",
    "resources": [
        "arn:aws:ecs:us-west-2:111122223333:task/FargateCluster/c13b4cb40f1f4fe4a2971f76ae5a47ad"
    ],
    "detail": {
        "attachments": [
            {
                "id": "1789bcae-ddfb-4d10-8ebe-8ac87ddba5b8",
                "type": "eni",
                "status": "ATTACHED",
                "details": [
                    {"name": "subnetId", "value": "subnet-abcd1234"},
                    {"name": "networkInterfaceId", "value": "eni-abcd1234"},
                    {"name": "macAddress", "value": "0a:98:eb:a7:29:ba"},
                    {"name": "privateIPv4Address", "value": "10.0.0.139"},
                ],
            }
        ],
        "availabilityZone": "us-west-2c",
        "clusterArn": "arn:aws:ecs:us-west-2:111122223333:cluster/FargateCluster",
        "containers": [
            {
                "containerArn": "arn:aws:ecs:us-west-2:111122223333:container/"
                "cf159fd6-3e3f-4a9e-84f9-66cbe726af01",
                "lastStatus": "RUNNING",
                "name": "FargateApp",
                "image": "111122223333.dkr.ecr.us-west-2.amazonaws.com/hello-repository:latest",
                "imageDigest": "sha256:"
                "74b2c688c700ec95a93e478cdb959737c148df3fbf5ea706abe0318726e885e6",
                "runtimeId": "ad64cbc71c7fb31c55507ec24c9f77947132b03d48d9961115cf24f3b7307e1e",
                "taskArn": "arn:aws:ecs:us-west-2:111122223333:task/FargateCluster/"
                "c13b4cb40f1f4fe4a2971f76ae5a47ad",
                "networkInterfaces": [
                    {
                        "attachmentId": "1789bcae-ddfb-4d10-8ebe-8ac87ddba5b8",
                        "privateIpv4Address": "10.0.0.139",
                    }
                ],
                "cpu": "0",
            }
        ],
        "createdAt": "2020-01-23T17:57:34.402Z",
        "launchType": "FARGATE",
        "cpu": "256",
        "memory": "512",
        "desiredStatus": "RUNNING",
        "group": "family:sample-fargate",
        "lastStatus": "RUNNING",
        "overrides": {"containerOverrides": [{"name": "FargateApp"}]},
        "connectivity": "CONNECTED",
        "connectivityAt": "2020-01-23T17:57:38.453Z",
        "pullStartedAt": "2020-01-23T17:57:52.103Z",
        "startedAt": "2020-01-23T17:57:58.103Z",
        "pullStoppedAt": "2020-01-23T17:57:55.103Z",
        "updatedAt": "2020-01-23T17:57:58.103Z",
        "taskArn": "arn:aws:ecs:us-west-2:111122223333:task/FargateCluster/"
        "c13b4cb40f1f4fe4a2971f76ae5a47ad",
        "taskDefinitionArn": "arn:aws:ecs:us-west-2:111122223333:task-definition/sample-fargate:1",
        "version": 4,
        "platformVersion": "1.3.0",
    },
}


def ecs_stopped(
    stop_code: str | None = "EssentialContainerExited",
    reason: str = "Essential container in task exited",
    exit_code: int | None = 1,
    group: str = "service:sample-fargate",
    task: str = "c13b4cb40f1f4fe4a2971f76ae5a47ad",
    stopped_at: str = "2020-01-23T18:04:10.512Z",
) -> dict[str, Any]:
    """The documented task event, stopped: the fields ECS sets when a task stops."""
    event = copy.deepcopy(ECS_TASK_EVENT)
    task_arn = f"arn:aws:ecs:us-west-2:111122223333:task/FargateCluster/{task}"
    event["resources"] = [task_arn]
    detail = event["detail"]
    detail.update(
        lastStatus="STOPPED",
        desiredStatus="STOPPED",
        group=group,
        stoppedReason=reason,
        stoppingAt=stopped_at,
        stoppedAt=stopped_at,
        executionStoppedAt=stopped_at,
        updatedAt=stopped_at,
        taskArn=task_arn,
        version=6,
    )
    if stop_code is not None:
        detail["stopCode"] = stop_code
    for container in detail["containers"]:
        container.update(lastStatus="STOPPED", taskArn=task_arn)
        if exit_code is not None:
            container["exitCode"] = exit_code
    return event


# -- CodeDeploy (documented deployment state change; FAILURE variant) -------------------------
CODEDEPLOY_EVENT: dict[str, Any] = {
    "account": "123456789012",
    "region": "us-east-1",
    "detail-type": "CodeDeploy Deployment State-change Notification",
    "source": "aws.codedeploy",
    "version": "0",
    "time": "2016-06-30T22:06:31Z",
    "id": "c071bfbf-83c4-49ca-a6ff-3df053957145",
    "resources": [
        "arn:aws:codedeploy:us-east-1:123456789012:application:myApplication",
        "arn:aws:codedeploy:us-east-1:123456789012:deploymentgroup:myApplication/myDeploymentGroup",
    ],
    "detail": {
        "instanceGroupId": "9fd2fbef-2157-40d8-91e7-6845af69e2d2",
        "region": "us-east-1",
        "application": "myApplication",
        "deploymentId": "d-123456789",
        "state": "SUCCESS",
        "deploymentGroup": "myDeploymentGroup",
    },
}


def codedeploy_event(state: str = "FAILURE", deployment: str = "d-123456789") -> dict[str, Any]:
    event = copy.deepcopy(CODEDEPLOY_EVENT)
    event["detail"].update(state=state, deploymentId=deployment)
    return event


# == tests ====================================================================================


def test_metric_alarm_keys(alarm_event) -> None:
    signal = parse_source_event(alarm_event())
    arn = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:orders-api-errors"
    assert signal.correlation_key == f"alarm:{arn}"
    assert signal.category == "metric"
    assert signal.fold_keys == ["resource:123456789012:us-east-1:AWS::Lambda::Function:orders-api"]
    assert signal.service_keys == ["service:123456789012:us-east-1:LAMBDA"]


def test_composite_alarm_folds_on_its_triggering_children() -> None:
    signal = parse_source_event(COMPOSITE_ALARM_EVENT)
    assert signal.kind == "alarm"
    assert signal.category == "composite"
    assert signal.alarm_name == "ServiceAggregatedAlarm"
    assert signal.state_value == "ALARM"
    assert signal.resources == []
    assert signal.correlation_key.endswith(":alarm:ServiceAggregatedAlarm")
    assert signal.fold_keys == [
        "alarm:arn:aws:cloudwatch:us-east-1:123456789012:alarm:ServerCpuTooHigh"
    ]
    assert signal.occurred_at == datetime(2022, 7, 22, 15, 57, 45, 394000, tzinfo=UTC)


def test_composite_alarm_with_unreadable_reason_data_still_parses() -> None:
    event = copy.deepcopy(COMPOSITE_ALARM_EVENT)
    event["detail"]["state"]["reasonData"] = "not json"
    assert parse_source_event(event).fold_keys == []


def test_public_health_issue_is_aws_side_and_stored_as_documented() -> None:
    signal = parse_source_event(HEALTH_EC2_ISSUE)
    assert signal.kind == "health"
    assert signal.opens_incident and signal.aws_side
    assert signal.region == "af-south-1"
    assert signal.account == ACCOUNT
    assert signal.title == ("AWS Health issue (open): EC2 AWS_EC2_OPERATIONAL_ISSUE in af-south-1")
    assert signal.service_keys == ["service:123456789012:af-south-1:EC2"]
    arn = HEALTH_EC2_ISSUE["detail"]["eventArn"]
    assert signal.correlation_key == f"health:{ACCOUNT}:{arn}"
    record = signal.record
    assert record is not None
    assert record["incident_id"] == health_item_id(ACCOUNT, arn)
    assert record["incident_id"].startswith("health#") and len(record["incident_id"]) == 23
    assert record["status"] == "HEALTH_EVENT"
    assert record["kind"] == "health_event"
    assert record["opened_at"] == record["start_time"] == "2023-01-27T06:02:51Z"
    assert record["end_time"] == "2023-01-27T09:01:22Z"
    assert record["last_updated"] == "2023-01-27T09:01:22Z"
    assert record["status_code"] == "open"
    assert record["event_type_category"] == "issue"
    assert record["service"] == "EC2"
    assert record["region"] == "af-south-1"
    assert record["description"].startswith("Current severity level")
    assert record["affected_entities"] == []
    assert signal.to_incident("inc-x").health_event_arn == arn


def test_health_issue_without_last_updated_time_uses_the_notification_time() -> None:
    record = parse_source_event(HEALTH_ELB_ISSUE).record
    assert record is not None
    assert record["last_updated"] == "2022-06-10T06:27:57Z"
    assert parse_source_event(HEALTH_ELB_ISSUE).service_keys == [
        "service:123456789012:ap-southeast-2:ELASTICLOADBALANCING"
    ]


def test_scheduled_change_without_resources_opens_but_is_not_aws_side() -> None:
    signal = parse_source_event(HEALTH_EC2_RETIREMENT)
    assert signal.opens_incident and not signal.aws_side
    assert signal.category == "scheduledChange"
    assert signal.service_keys == []
    assert signal.resources == [
        Resource(
            type="AWS::ARN", id="arn:aws:ec2:us-east-1:123456789012:instance/i-1234567890abcdef0"
        )
    ]
    record = signal.record
    assert record is not None
    assert record["affected_entities"] == [
        "arn:aws:ec2:us-east-1:123456789012:instance/i-1234567890abcdef0"
    ]


def test_closed_health_event_is_recorded_without_opening() -> None:
    signal = parse_source_event(health_event(statusCode="closed"))
    assert not signal.opens_incident
    assert signal.record is not None and signal.record["status_code"] == "closed"


def test_health_backup_copy_is_the_same_signal() -> None:
    backup = health_event(backupEvent="true")
    backup["id"] = "another-delivery"
    backup["region"] = "us-west-2"
    assert parse_source_event(backup).incident_id() == (
        parse_source_event(HEALTH_EC2_ISSUE).incident_id()
    )


def test_health_update_is_a_new_signal_for_the_same_key() -> None:
    update = health_event(lastUpdatedTime="Fri, 27 Jan 2023 10:00:00 GMT")
    first, later = parse_source_event(HEALTH_EC2_ISSUE), parse_source_event(update)
    assert first.correlation_key == later.correlation_key
    assert first.signal_key != later.signal_key


def test_health_organizational_view_uses_the_affected_account() -> None:
    event = health_event(affectedAccount="210987654321")
    signal = parse_source_event(event)
    assert signal.account == "210987654321"
    assert signal.correlation_key.startswith("health:210987654321:")


@pytest.mark.parametrize(
    "event",
    [
        health_event(eventTypeCategory="accountNotification"),
        health_event(startTime="the day before yesterday"),
        health_event(eventArn=""),
        {**HEALTH_EC2_ISSUE, "detail": {"service": "EC2"}},
    ],
)
def test_unusable_health_events_are_typed_errors(event) -> None:
    with pytest.raises(InvalidIncidentInput):
        parse_source_event(event)


def test_ecs_essential_container_exit_opens_for_the_service() -> None:
    signal = parse_source_event(ecs_stopped())
    assert signal.kind == "ecs"
    assert signal.category == "EssentialContainerExited"
    assert signal.title == "ECS task stopped in FargateCluster/sample-fargate: FargateApp exited 1"
    assert (
        signal.correlation_key == "ecs:111122223333:us-west-2:FargateCluster/service:sample-fargate"
    )
    assert signal.resources[0] == Resource(
        type="AWS::ECS::Service", id="FargateCluster/sample-fargate"
    )
    assert signal.fold_keys == [
        "resource:111122223333:us-west-2:AWS::ECS::Service:FargateCluster/sample-fargate"
    ]
    assert signal.service_keys == ["service:111122223333:us-west-2:ECS"]
    assert signal.occurred_at == datetime(2020, 1, 23, 18, 4, 10, 512000, tzinfo=UTC)


def test_ecs_standalone_task_correlates_by_family() -> None:
    signal = parse_source_event(ecs_stopped(group="family:sample-fargate"))
    assert signal.correlation_key.endswith("FargateCluster/family:sample-fargate")
    assert signal.fold_keys == []  # no service resource; a task ARN never folds


@pytest.mark.parametrize(
    ("stop_code", "reason", "exit_code"),
    [
        (
            "TaskFailedToStart",
            "CannotPullContainerError: pull image manifest has been retried",
            None,
        ),
        ("SpotInterruption", "Your Spot Task was interrupted.", 143),
        ("ServiceSchedulerInitiated", "Task failed ELB health checks in (target-group arn)", 143),
        ("EssentialContainerExited", "Essential container in task exited", 137),
    ],
)
def test_abnormal_ecs_stops_are_incidents(stop_code, reason, exit_code) -> None:
    signal = parse_source_event(ecs_stopped(stop_code, reason, exit_code))
    assert signal.category == stop_code


@pytest.mark.parametrize(
    ("stop_code", "reason", "exit_code"),
    [
        (
            "ServiceSchedulerInitiated",
            "Scaling activity initiated by (deployment ecs-svc/8698694698746607723)",
            0,
        ),
        ("UserInitiated", "Task stopped by user", 143),
        ("EssentialContainerExited", "Essential container in task exited", 0),
    ],
)
def test_normal_ecs_stops_are_typed_rejections(stop_code, reason, exit_code) -> None:
    with pytest.raises(InvalidIncidentInput, match="not an incident"):
        parse_source_event(ecs_stopped(stop_code, reason, exit_code))


def test_documented_running_task_is_not_an_incident() -> None:
    with pytest.raises(InvalidIncidentInput, match="RUNNING, not STOPPED"):
        parse_source_event(ECS_TASK_EVENT)


def test_ecs_redelivery_in_another_envelope_is_the_same_signal() -> None:
    again = ecs_stopped()
    again["id"] = "redelivered"
    assert (
        parse_source_event(again).incident_id() == parse_source_event(ecs_stopped()).incident_id()
    )


def test_codedeploy_failure_opens_for_the_deployment_group() -> None:
    signal = parse_source_event(codedeploy_event())
    assert signal.kind == "codedeploy"
    assert (
        signal.title
        == "CodeDeploy deployment d-123456789 of myApplication/myDeploymentGroup failed"
    )
    assert (
        signal.correlation_key
        == "codedeploy:123456789012:us-east-1:myApplication/myDeploymentGroup"
    )
    assert signal.resources == [
        Resource(type="AWS::CodeDeploy::DeploymentGroup", id="myApplication/myDeploymentGroup"),
        Resource(type="AWS::CodeDeploy::Deployment", id="d-123456789"),
    ]
    assert signal.occurred_at == datetime(2016, 6, 30, 22, 6, 31, tzinfo=UTC)


def test_documented_successful_deployment_is_not_an_incident() -> None:
    with pytest.raises(InvalidIncidentInput, match="not a failure"):
        parse_source_event(CODEDEPLOY_EVENT)


@pytest.mark.parametrize(
    "event",
    [
        {"source": "aws.ec2", "detail-type": "EC2 Instance State-change Notification"},
        {"hello": "world"},
        ["not", "an", "object"],
        "a string",
        None,
    ],
)
def test_unknown_or_non_object_events_are_typed_errors(event) -> None:
    with pytest.raises(InvalidIncidentInput):
        parse_source_event(event)


def test_state_machine_input_still_accepts_other_events_generically() -> None:
    event = {**CODEDEPLOY_EVENT, "source": "com.example.deployer"}
    signal = parse_eventbridge_event(event)
    assert signal.kind == "event"
    assert Resource(type="AWS::CodeDeploy::Deployment", id="d-123456789") in signal.resources


def test_state_machine_input_parses_known_sources_as_ingest_does() -> None:
    assert parse_eventbridge_event(ecs_stopped()).incident_id() == (
        parse_source_event(ecs_stopped()).incident_id()
    )


def _without(event: dict[str, Any], *path: str) -> dict[str, Any]:
    """A copy of `event` with the key at `path` removed."""
    broken = copy.deepcopy(event)
    node = broken
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return broken


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (
            _without(COMPOSITE_ALARM_EVENT, "detail", "state", "value"),
            "malformed CloudWatch alarm event: detail.state.value: required",
        ),
        (
            {**COMPOSITE_ALARM_EVENT, "time": "yesterday"},
            "malformed CloudWatch alarm event: time: invalid RFC3339 encoded datetime",
        ),
        (
            health_event(affectedEntities=[{"entityValue": 7}]),
            "malformed AWS Health event: detail.affectedEntities[0].entityValue: expected `str`, "
            "got `int`",
        ),
        (
            _without(ECS_TASK_EVENT, "detail", "taskArn"),
            "malformed ECS task state change event: detail.taskArn: required",
        ),
        (
            codedeploy_event(deployment=""),
            "malformed CodeDeploy deployment event: detail.deploymentId: expected `str` of "
            "length >= 1",
        ),
    ],
)
def test_a_malformed_event_names_the_path_of_the_problem(event, message) -> None:
    with pytest.raises(InvalidIncidentInput) as caught:
        parse_source_event(event)
    assert str(caught.value).startswith(message)
