"""The API Gateway path end to end: an alarm's ApiName dimension becomes a RestApi resource,
the REST API (moto) names its stages' access-log group, the api_gateway_errors query runs over
the access-log lines there (the emulator's evaluator), and its rows become causes: 5xx is the
application, 4xx alone the callers. A stage without access logging is said, not skipped
silently; GetRestApis is paged (`position`) through a Stubber."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from diagnostics import queries
from diagnostics.log_groups import LogGroupResolver
from diagnostics.logs import LogsSource
from diagnostics.logs_insights import LogsInsights
from diagnostics.paging import Deadline
from diagnostics.runner import DiagnosticsRunner, window_for
from diagnostics.targets import Targets, targets_for
from diagnostics.verdict import decide
from incidents.events import parse_eventbridge_event
from incidents.model import Incident
from shared.timeutil import utcnow

from .diag_evaluator import evaluator, put_lines  # noqa: F401 - the fixture
from .diag_stubs import ACCOUNT, REGION, client, count_calls

ACCESS_LOG = "/aws/apigateway/orders-api-access"


def _rest_api(name: str, access_logs: dict[str, str | None]) -> str:
    """A REST API deployed to stages, each logging to its group (None: no access logging)."""
    apigateway = boto3.client("apigateway", region_name=REGION)
    api = apigateway.create_rest_api(name=name)["id"]
    root = apigateway.get_resources(restApiId=api)["items"][0]["id"]
    apigateway.put_method(
        restApiId=api, resourceId=root, httpMethod="GET", authorizationType="NONE"
    )
    apigateway.put_integration(restApiId=api, resourceId=root, httpMethod="GET", type="MOCK")
    for stage, group in access_logs.items():
        apigateway.create_deployment(restApiId=api, stageName=stage)
        if group is None:
            continue
        arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}"
        apigateway.update_stage(restApiId=api, stageName=stage, patchOperations=[
            {"op": "replace", "path": "/accessLogSettings/destinationArn", "value": arn},
            {"op": "replace", "path": "/accessLogSettings/format",
             "value": '{"requestId":"$context.requestId","status":"$context.status",'
                      '"resourcePath":"$context.resourcePath",'
                      '"responseLatency":"$context.responseLatency",'
                      '"integrationLatency":"$context.integrationLatency"}'},
        ])  # fmt: skip
    return str(api)


def _access(status: int, path: str, latency: int, integration: int | str) -> str:
    """One access-log line in the JSON format above."""
    return json.dumps({
        "requestId": f"req-{status}-{latency}", "status": str(status), "resourcePath": path,
        "responseLatency": str(latency), "integrationLatency": str(integration),
    })  # fmt: skip


def _incident(alarm_event: Any, api: str) -> Incident:
    """The incident an API Gateway alarm (ApiName and Stage dimensions) opens."""
    event = alarm_event()
    metric = event["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]
    metric.update(namespace="AWS/ApiGateway", name="5XXError",
                  dimensions={"ApiName": api, "Stage": "prod"})  # fmt: skip
    signal = parse_eventbridge_event(event)
    return Incident(
        incident_id="inc-20240501-140307-0badcafe",
        title="orders-api 5XXError",
        severity="critical",
        opened_at="2024-05-01T14:03:07Z",
        account=ACCOUNT,
        region=REGION,
        resources=signal.resources,
    )


def _collect(targets: Targets) -> list[Any]:
    insights = LogsInsights(client("logs"), sleep=lambda _: None)
    source = LogsSource(lambda service, region=None: client(service), insights)
    now = utcnow()
    return source.collect(targets, now - timedelta(minutes=30), now, Deadline.after(30))


@pytest.mark.parametrize(
    ("lines", "code", "domain", "evidence"),
    [
        (
            [_access(504, "/orders", 29012, 29000)] * 3
            + [_access(404, "/nope", 3, "-"), _access(200, "/orders", 80, 75)],
            "api.server_errors",
            "application",
            "504 /orders x3 (integration 29000 ms)",
        ),
        (
            [_access(403, "/orders", 4, "-")] * 2 + [_access(200, "/orders", 80, 75)],
            "api.client_errors",
            "outside",
            "403 /orders x2",
        ),
    ],
)
@pytest.mark.usefixtures("evaluator")
def test_api_name_alarm_reads_the_stage_access_log(
    alarm_event, lines: list[str], code: str, domain: str, evidence: str
) -> None:
    _rest_api("orders-api", {"prod": ACCESS_LOG})
    put_lines(ACCESS_LOG, *lines)
    incident = _incident(alarm_event, "orders-api")
    targets = targets_for(incident)
    assert targets.apis == ["orders-api"]
    logs = client("logs")
    calls = count_calls(logs)

    findings = _collect(targets)

    (api,) = findings
    assert api.target == f"api_gateway_errors: {ACCESS_LOG}"
    assert api.evidence["query"] == queries.API_GATEWAY_ERRORS
    assert api.evidence["log_groups"] == [ACCESS_LOG]
    assert calls["StartQuery"] == 1
    (cause,) = api.causes
    assert (cause.code, cause.domain) == (code, domain)
    assert cause.evidence[0] == evidence
    assert decide(findings)["domain"] == domain


@pytest.mark.usefixtures("evaluator")
def test_a_stage_without_access_logging_is_a_finding(alarm_event) -> None:
    _rest_api("orders-api", {"prod": None})

    findings = _collect(targets_for(_incident(alarm_event, "orders-api")))

    (finding,) = findings
    assert finding.status == "skipped"
    assert finding.target == "api_gateway_errors: orders-api"
    assert finding.message.startswith(
        "not run: no stage of orders-api sends access logs to CloudWatch Logs; turn on "
        "access logging"
    )


def test_the_runner_plans_health_xray_and_logs_for_an_api(moto, alarm_event) -> None:
    incident = _incident(alarm_event, "orders-api")
    runner = DiagnosticsRunner(lambda service, region=None: client(service, region or REGION), 5)
    plan = runner.plan(incident, window_for(incident, 30, utcnow()))
    assert [(t.source, t.target) for t in plan] == [
        ("health", REGION), ("xray", "traces"), ("logs_insights", "log groups")
    ]  # fmt: skip


def test_rest_apis_are_paged_by_position(moto) -> None:
    apigateway = client("apigateway")
    with Stubber(apigateway) as stub:
        stub.add_response(
            "get_rest_apis",
            {"items": [{"id": "a1b2c3d4e5", "name": "billing-api"}], "position": "p-2"},
            {},
        )
        stub.add_response(
            "get_rest_apis", {"items": [{"id": "f6g7h8i9j0", "name": "orders-api"}]},
            {"position": "p-2"},
        )  # fmt: skip
        stub.add_response(
            "get_stages",
            {"item": [
                {"stageName": "prod", "deploymentId": "dep1", "accessLogSettings": {
                    "format": "{}",
                    "destinationArn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{ACCESS_LOG}"}},
                {"stageName": "dev", "deploymentId": "dep2"},
            ]},
            {"restApiId": "f6g7h8i9j0"},
        )  # fmt: skip
        resolver = LogGroupResolver(lambda service, region=None: client(service))
        groups = resolver.resolve(Targets(apis=["orders-api"]), Deadline.after(30))
        stub.assert_no_pending_responses()
    assert groups.api_access == [ACCESS_LOG]
    assert groups.notes == []
