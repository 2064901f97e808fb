"""ECS source against moto: a service with many stopped tasks, read with paginated ListTasks
and DescribeTasks in batches of at most 100; stop causes from AWS-shaped tasks (Stubber)."""

from __future__ import annotations

import json
from datetime import timedelta

import boto3
from botocore.stub import Stubber

from diagnostics.ecs import EcsSource
from diagnostics.paging import Deadline
from diagnostics.targets import Targets
from shared.timeutil import utcnow

from .diag_stubs import REGION, client, count_calls


def _service_with_stopped_tasks(stopped: int) -> None:
    ecs = boto3.client("ecs", region_name=REGION)
    ec2 = boto3.client("ec2", region_name=REGION)
    ecs.create_cluster(clusterName="prod")
    image = ec2.describe_images()["Images"][0]["ImageId"]
    for _ in range(2):
        instance = boto3.resource("ec2", region_name=REGION).create_instances(
            ImageId=image, MinCount=1, MaxCount=1
        )[0]
        document = json.dumps({"instanceId": instance.id, "accountId": "123456789012"})
        ecs.register_container_instance(cluster="prod", instanceIdentityDocument=document)
    ecs.register_task_definition(
        family="web",
        containerDefinitions=[{"name": "web", "image": "nginx", "memory": 16, "essential": True}],
    )
    ecs.create_service(cluster="prod", serviceName="web", taskDefinition="web", desiredCount=0)
    arns = []
    for _ in range(stopped // 10):
        arns += [t["taskArn"] for t in ecs.run_task(
            cluster="prod", taskDefinition="web", count=10, startedBy="ecs-svc/1",
            group="service:web")["tasks"]]  # fmt: skip
    for arn in arns:
        ecs.stop_task(cluster="prod", task=arn, reason="Task failed ELB health checks in (tg)")


def test_stopped_tasks_are_read_in_batches_of_100(moto) -> None:
    _service_with_stopped_tasks(150)
    ecs = client("ecs")
    calls = count_calls(ecs)
    targets = Targets(ecs_services=[("prod", "web")])
    start = utcnow() - timedelta(hours=1)
    (finding,) = EcsSource(ecs).collect(targets, start, Deadline.after(30))
    assert finding.status == "ok", finding.message
    assert calls["DescribeTasks"] == 2
    assert len(finding.evidence["stopped_tasks"]) == 150
    assert finding.summary["stopped_in_window"] == 150


OOM = "OutOfMemoryError: Container killed due to memory usage"


def test_stop_causes_with_scope(moto) -> None:
    ecs = client("ecs")
    now = utcnow()
    service = {"serviceName": "web", "runningCount": 4, "desiredCount": 6, "pendingCount": 0,
               "events": [], "deployments": []}  # fmt: skip
    tasks = [
        {"taskArn": f"arn:aws:ecs:{REGION}:123456789012:task/prod/{i}", "stoppedAt": now,
         "stopCode": "EssentialContainerExited", "stoppedReason": "Essential container in task "
         "exited", "containers": [{"name": "web", "exitCode": 137,
                                   "reason": OOM}]}
        for i in range(2)
    ]  # fmt: skip
    with Stubber(ecs) as stub:
        stub.add_response("describe_services", {"services": [service], "failures": []})
        stub.add_response("list_tasks", {"taskArns": [tasks[0]["taskArn"]], "nextToken": "p2"})
        stub.add_response("list_tasks", {"taskArns": [tasks[1]["taskArn"]]})
        stub.add_response("describe_tasks", {"tasks": tasks, "failures": []})
        (finding,) = EcsSource(ecs).collect(
            Targets(ecs_services=[("prod", "web")]), now - timedelta(hours=1), Deadline.after(30)
        )
        stub.assert_no_pending_responses()
    (cause,) = finding.causes
    assert cause.code == "ecs.out_of_memory"
    assert cause.scope == "2 of 6 tasks"
    assert "web=137" in cause.evidence[0]
