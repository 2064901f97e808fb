"""The runner and the handler end to end: every source concurrently under one budget, a source
that times out or is throttled becomes a finding (the step still answers), a member account is
diagnosed through the assumed read-only role (moto STS), and the AWS-side verdict comes with a
support-case draft."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from diagnostics.runner import DiagnosticsRunner, window_for
from handlers import collect_diagnostics
from incidents.model import Incident, Resource
from shared import aws
from shared.timeutil import iso, utcnow

from .diag_stubs import ACCOUNT, REGION, client, health_without_support_plan

MEMBER = "111111111111"


def _incident(account: str, *resources: tuple[str, str]) -> Incident:
    return Incident(
        incident_id="inc-20240501-140307-0badcafe",
        title="orders is down",
        severity="critical",
        opened_at=iso(utcnow() - timedelta(minutes=5)),
        account=account,
        region=REGION,
        resources=[Resource(type=t, id=i) for t, i in resources],
    )


def _instance(session: Any = boto3) -> str:
    ec2 = session.client("ec2", region_name=REGION)
    image = ec2.describe_images()["Images"][0]["ImageId"]
    return str(
        ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    )


def _slow(service_client: Any, seconds: float) -> None:
    """Every call of this client hangs (a dependency that stopped answering)."""
    service_client.meta.events.register("before-send", lambda **_: time.sleep(seconds))


def _runner(incident: Incident, budget: float) -> DiagnosticsRunner:
    return DiagnosticsRunner(collect_diagnostics.client_factory(incident), budget)


def test_a_source_that_times_out_is_reported_and_the_rest_answer(moto) -> None:
    instance = _instance()
    incident = _incident(ACCOUNT, ("AWS::EC2::Instance", instance))
    _slow(client("ec2"), 3.0)
    with Stubber(client("health", "us-east-1")) as health:
        health_without_support_plan(health)
        runner = _runner(incident, budget=1.5)
        findings = runner.run(runner.plan(incident, window_for(incident, 30, utcnow())))
    status = {f.source: f.status for f in findings}
    assert status["ec2"] == "timeout"
    assert status["health"] == "ok"
    assert "no answer within" in next(f.message for f in findings if f.source == "ec2")


def _own_ec2_client_for_the_ec2_source(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The EC2 source gets a client of its own (stubbed by the test); the flow-log lookup of
    the logs source keeps the shared one, so the two threads never share a Stubber queue."""
    own = boto3.client("ec2", region_name=REGION)
    real = collect_diagnostics.client_factory

    def factory(incident: Incident) -> Any:
        shared = real(incident)
        handed = []

        def clients(service: str, region: str | None = None) -> Any:
            if service == "ec2" and not handed:
                handed.append(True)
                return own
            return shared(service, region)

        return clients

    monkeypatch.setattr(collect_diagnostics, "client_factory", factory)
    return own


def test_a_throttled_source_is_reported_not_raised(moto, monkeypatch) -> None:
    incident = _incident(ACCOUNT, ("AWS::EC2::Instance", _instance()))
    ec2 = _own_ec2_client_for_the_ec2_source(monkeypatch)
    with Stubber(client("health", "us-east-1")) as health, Stubber(ec2) as ec2_stub:
        health.add_client_error("describe_events", "ThrottlingException", "Rate exceeded", 400)
        ec2_stub.add_client_error("describe_instance_status", "RequestLimitExceeded", "slow", 400)
        runner = _runner(incident, budget=10)
        findings = runner.run(runner.plan(incident, window_for(incident, 30, utcnow())))
    status = {f.source: f.status for f in findings}
    assert status["health"] == "throttled"
    assert status["ec2"] == "throttled"


def test_member_account_is_read_through_the_assumed_role(moto, monkeypatch) -> None:
    monkeypatch.setenv("DIAGNOSTICS_ROLE_NAME", "IncidentRunbookReadOnly")
    creds = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn=f"arn:aws:iam::{MEMBER}:role/IncidentRunbookReadOnly", RoleSessionName="setup"
    )["Credentials"]
    member = boto3.session.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=REGION,
    )
    instance = _instance(member)
    assert not boto3.client("ec2", region_name=REGION).describe_instances()["Reservations"]
    incident = _incident(MEMBER, ("AWS::EC2::Instance", instance))
    factory = collect_diagnostics.client_factory(incident)
    identity = factory("sts").get_caller_identity()
    assert identity["Account"] == MEMBER
    assert "assumed-role/IncidentRunbookReadOnly/incident-runbook" in identity["Arn"]
    with Stubber(aws.client("health", account=MEMBER, region="us-east-1")) as health:
        health_without_support_plan(health)
        runner = _runner(incident, budget=20)
        findings = runner.run(runner.plan(incident, window_for(incident, 30, utcnow())))
    ec2 = next(f for f in findings if f.source == "ec2")
    assert ec2.status == "ok" and instance in ec2.summary["instances"]


@pytest.fixture
def impaired_world(artifact_bucket: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """An EC2 incident whose instance fails its system status check; Health has no plan."""
    ec2 = _own_ec2_client_for_the_ec2_source(monkeypatch)
    health = client("health", "us-east-1")
    with Stubber(ec2) as ec2_stub, Stubber(health) as health_stub:
        health_without_support_plan(health_stub)
        status = {
            "InstanceId": "i-0abc", "AvailabilityZone": f"{REGION}a",
            "InstanceState": {"Code": 16, "Name": "running"},
            "SystemStatus": {"Status": "impaired", "Details": [
                {"Name": "reachability", "Status": "failed",
                 "ImpairedSince": utcnow() - timedelta(minutes=7)}]},
            "InstanceStatus": {"Status": "ok", "Details": [{"Name": "reachability",
                                                          "Status": "passed"}]},
        }  # fmt: skip
        ec2_stub.add_response("describe_instance_status", {"InstanceStatuses": [status]})
        yield
        ec2_stub.assert_no_pending_responses()


def test_aws_side_verdict_with_support_case_draft(impaired_world, lambda_context) -> None:
    incident = _incident(ACCOUNT, ("AWS::EC2::Instance", "i-0abc")).to_state()
    result = collect_diagnostics.lambda_handler({"incident": incident}, lambda_context)
    verdict = result["summary"]["verdict"]
    assert verdict["domain"] == "aws", verdict
    assert verdict["scope"] == "1 of 1 instances"
    case = result["summary"]["support_case"]
    assert case["region"] == REGION and case["affected_resources"][0] == "i-0abc"
    assert case["ongoing"] is True and case["started_at"].endswith("(UTC)")
    assert case["severity"] == "urgent"
    assert len(json.dumps(result)) < 32 * 1024
