"""The Slack callback API construct, synthesised alone in a test stack with cdk-nag on:
one signed-by-Slack route to the function, a throttled $default stage with JSON access logs in
its own log group, and no unacknowledged finding (APIG4 acknowledged with its reason)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from aws_cdk import App, Environment, RemovalPolicy, Stack, Validations
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from cdk_nag import AwsSolutionsChecks

from stacks import nag
from stacks.callback_api import BURST_LIMIT, RATE_LIMIT, ROUTE_PATH, SlackCallbackApi

from .conftest import ACCOUNT, REGION

FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:slack-actions"


def _synth(outdir: Path) -> tuple[dict[str, Any], SlackCallbackApi, dict[str, Any]]:
    app = App(outdir=str(outdir))
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    stack = Stack(app, "CallbackApiTest", env=Environment(account=ACCOUNT, region=REGION))
    function = lambda_.Function.from_function_arn(stack, "SlackActions", FUNCTION_ARN)
    api = SlackCallbackApi(
        stack,
        "SlackCallbacks",
        function=function,
        log_retention=logs.RetentionDays.ONE_MONTH,
        log_removal_policy=RemovalPolicy.DESTROY,
    )
    stack.export_value(api.url, name="SlackActionsUrl")
    app.synth()  # raises ValidationFailed on any unacknowledged cdk-nag finding
    template = json.loads((outdir / "CallbackApiTest.template.json").read_text())
    metadata = json.loads((outdir / "CallbackApiTest.metadata.json").read_text())
    return template, api, metadata


@pytest.fixture(scope="module")
def synthesised(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Any, Any]:
    return _synth(tmp_path_factory.mktemp("callback-api"))


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def test_one_post_route_to_the_function_with_payload_v2(synthesised) -> None:
    template, _api, _ = synthesised
    (api,) = _of_type(template, "AWS::ApiGatewayV2::Api").values()
    assert api["Properties"]["ProtocolType"] == "HTTP"
    (route,) = _of_type(template, "AWS::ApiGatewayV2::Route").values()
    assert route["Properties"]["RouteKey"] == f"POST {ROUTE_PATH}"
    (integration_id, integration), *_ = _of_type(template, "AWS::ApiGatewayV2::Integration").items()
    assert integration["Properties"]["IntegrationType"] == "AWS_PROXY"
    assert integration["Properties"]["IntegrationUri"] == FUNCTION_ARN
    assert integration["Properties"]["PayloadFormatVersion"] == "2.0"
    assert integration_id in json.dumps(route["Properties"]["Target"])


def test_api_gateway_may_invoke_the_function_only_on_that_route(synthesised) -> None:
    template, _api, _ = synthesised
    (permission,) = _of_type(template, "AWS::Lambda::Permission").values()
    props = permission["Properties"]
    assert props["Principal"] == "apigateway.amazonaws.com"
    assert props["FunctionName"] == FUNCTION_ARN
    assert json.dumps(props["SourceArn"]).endswith(f'/*/*{ROUTE_PATH}"]]}}')


def test_default_stage_is_throttled_and_logs_to_its_own_group(synthesised) -> None:
    template, _api, _ = synthesised
    (stage,) = _of_type(template, "AWS::ApiGatewayV2::Stage").values()
    props = stage["Properties"]
    assert props["StageName"] == "$default"
    assert props["AutoDeploy"] is True
    assert props["DefaultRouteSettings"] == {
        "ThrottlingBurstLimit": BURST_LIMIT,
        "ThrottlingRateLimit": RATE_LIMIT,
    }
    groups = _of_type(template, "AWS::Logs::LogGroup")
    (group_id,) = groups
    assert groups[group_id]["Properties"]["RetentionInDays"] == 30
    assert groups[group_id]["DeletionPolicy"] == "Delete"
    settings = props["AccessLogSettings"]
    assert settings["DestinationArn"] == {"Fn::GetAtt": [group_id, "Arn"]}


def test_access_log_lines_are_json_without_headers_or_body(synthesised) -> None:
    template, _api, _ = synthesised
    (stage,) = _of_type(template, "AWS::ApiGatewayV2::Stage").values()
    log_format = json.loads(stage["Properties"]["AccessLogSettings"]["Format"])
    assert log_format["requestId"] == "$context.requestId"
    assert {"status", "routeKey", "ip", "integrationError"} <= log_format.keys()
    # Nothing that could carry X-Slack-Signature or the form body.
    text = json.dumps(log_format).lower()
    assert "header" not in text
    assert "body" not in text


def test_url_is_the_route_on_the_api_endpoint(synthesised) -> None:
    template, _api, _ = synthesised
    (api_id,) = _of_type(template, "AWS::ApiGatewayV2::Api")
    (output,) = template["Outputs"].values()
    joined = output["Value"]["Fn::Join"]
    assert joined == ["", [{"Fn::GetAtt": [api_id, "ApiEndpoint"]}, ROUTE_PATH]]


def test_apig4_is_acknowledged_on_the_route_with_a_reason(synthesised) -> None:
    _template, _api, metadata = synthesised
    acknowledged = {
        (path, rule.removeprefix("Annotation::"), reason)
        for path, entries in metadata.items()
        for entry in entries
        if entry["type"] == "aws:cdk:acknowledged-rules"
        for rule, reason in entry["data"].items()
    }
    (ack,) = acknowledged
    path, rule, reason = ack
    assert rule == "AwsSolutions-APIG4"
    assert path.endswith("/SlackCallbacks/Api/POST--slack--actions")
    assert "signature" in reason


def test_without_the_acknowledgement_nag_flags_exactly_apig4(tmp_path: Path) -> None:
    # Proves the clean synth above is not an empty check: only APIG4 is raised.
    with (
        mock.patch.object(nag, "_record", lambda construct, acknowledgment: None),
        pytest.raises(RuntimeError, match="ValidationFailed"),
    ):
        _synth(tmp_path)
    report = json.loads((tmp_path / "validation-report.json").read_text())
    rules = {
        violation["ruleName"]
        for plugin in report["pluginReports"]
        for violation in plugin["violations"]
    }
    assert rules == {"AwsSolutions-APIG4"}
