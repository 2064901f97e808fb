"""A member account whose read-only role cannot be assumed: every source it would have served
becomes a finding naming the role ARN and the AWS error code, the sources of other regions
still run, and the evidence is still written. Denial through moto's IAM policy evaluation
(the caller may not sts:AssumeRole the member role); a region where STS is not activated
through a Stubber on that region's STS client (moto never refuses a region)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto.core import enable_iam_authentication

from diagnostics.runner import DiagnosticsRunner, Task, window_for
from handlers import collect_diagnostics
from incidents.model import Incident, Resource
from shared import aws
from shared.timeutil import iso, utcnow

from .diag_stubs import REGION, count_calls, health_without_support_plan

MEMBER = "111111111111"
ROLE_NAME = "IncidentRunbookReadOnly"
ROLE_ARN = f"arn:aws:iam::{MEMBER}:role/{ROLE_NAME}"


def _incident(region: str = REGION) -> Incident:
    return Incident(
        incident_id="inc-20240501-140307-0badcafe",
        title="orders is down in a member account",
        severity="critical",
        opened_at=iso(utcnow() - timedelta(minutes=5)),
        account=MEMBER,
        region=region,
        resources=[
            Resource(type="AWS::EC2::Instance", id="i-0123456789abcdef0"),
            Resource(type="AWS::Lambda::Function", id="orders-api"),
        ],
    )


@pytest.fixture
def denied_caller(artifact_bucket: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The central account's diagnostics identity: allowed everything but assuming the
    member account's role (as when the role's trust policy or an SCP leaves it out)."""
    monkeypatch.setenv("DIAGNOSTICS_ROLE_NAME", ROLE_NAME)
    iam = boto3.client("iam", region_name=REGION)
    iam.create_user(UserName="collect-diagnostics")
    iam.put_user_policy(
        UserName="collect-diagnostics",
        PolicyName="diagnostics",
        PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "*", "Resource": "*"},
                {"Effect": "Deny", "Action": "sts:AssumeRole", "Resource": ROLE_ARN},
            ],
        }),
    )  # fmt: skip
    key = iam.create_access_key(UserName="collect-diagnostics")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    aws.reset_clients()
    return artifact_bucket


def test_a_denied_role_is_a_finding_per_source_and_evidence_is_written(
    denied_caller: str, lambda_context: Any
) -> None:
    sts = aws.client("sts", region=REGION)
    calls = count_calls(sts)
    incident = _incident()
    with enable_iam_authentication():
        result = collect_diagnostics.lambda_handler(
            {"incident": incident.to_state()}, lambda_context
        )

    sources = result["summary"]["sources"]
    assert {s["source"] for s in sources} == {
        "health", "ec2", "lambda_metrics", "network", "xray", "logs_insights"
    }  # fmt: skip
    for source in sources:
        assert source["status"] == "error", source
        assert source["role_arn"] == ROLE_ARN and source["error_code"] == "AccessDenied"
        assert f"could not assume {ROLE_ARN} in {REGION} (AccessDenied" in source["message"]
        assert "trust this account's collect_diagnostics role" in source["message"]
    # The refusal is remembered for the region: STS is asked once, not once per source.
    assert calls["AssumeRole"] == 1
    assert result["status"] == "failed"
    assert result["summary"]["verdict"]["domain"] == "undetermined"
    key = f"incidents/{incident.incident_id}/diagnostics.json"
    assert result["evidence_uri"] == f"s3://{denied_caller}/{key}"
    body = boto3.client("s3", region_name=REGION).get_object(Bucket=denied_caller, Key=key)
    findings = json.loads(body["Body"].read())["findings"]
    assert {f["summary"]["error_code"] for f in findings} == {"AccessDenied"}


def test_a_region_without_sts_fails_its_sources_and_health_in_us_east_1_still_runs(
    moto: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIAGNOSTICS_ROLE_NAME", ROLE_NAME)
    incident = _incident("eu-west-1")
    # Health lives in us-east-1, where the role is assumed (moto) and the API has no plan.
    health = aws.client("health", account=MEMBER, region="us-east-1")
    regional_sts = aws.client("sts", region="eu-west-1")
    with Stubber(health) as health_stub, Stubber(regional_sts) as sts_stub:
        health_without_support_plan(health_stub)
        sts_stub.add_client_error(
            "assume_role",
            service_error_code="RegionDisabledException",
            service_message=f"STS is not activated in this region for account:{MEMBER}. Your "
            "account administrator can activate STS in this region using the IAM Console.",
            http_status_code=403,
        )
        runner = DiagnosticsRunner(collect_diagnostics.client_factory(incident), 20)
        findings = runner.run(runner.plan(incident, window_for(incident, 30, utcnow())))
        sts_stub.assert_no_pending_responses()

    by_source = {f.source: f for f in findings}
    assert by_source["health"].status == "ok"
    assert by_source["health"].summary["via"] == "stored events"
    refused = [f for f in findings if f.source != "health"]
    assert {f.source for f in refused} == {
        "ec2", "lambda_metrics", "network", "xray", "logs_insights"
    }  # fmt: skip
    for finding in refused:
        assert finding.status == "error"
        assert finding.summary == {
            "role_arn": ROLE_ARN, "region": "eu-west-1", "error_code": "RegionDisabledException"
        }  # fmt: skip
        assert "activate STS in eu-west-1 for account 111111111111" in finding.message


def test_a_role_refused_while_a_source_runs_is_reported_the_same_way(moto: None) -> None:
    """A source that makes clients on its own thread (log groups of an API) or a refresh of
    the assumed role's credentials meets the refusal mid-run."""

    def refused() -> list[Any]:
        raise aws.RoleUnavailable(ROLE_ARN, REGION, "AccessDenied", "not authorized")

    runner = DiagnosticsRunner(lambda service, region=None: None, 5)
    (finding,) = runner.run([Task("logs_insights", "log groups", refused)])
    assert finding.status == "error"
    assert finding.summary["role_arn"] == ROLE_ARN
    assert "could not assume" in finding.message and "AccessDenied" in finding.message
