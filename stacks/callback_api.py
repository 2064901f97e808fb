"""The HTTP API Slack calls when someone presses an incident button.

One route, ``POST /slack/actions``, proxied to the slack_actions function (payload v2). Slack
cannot present IAM, Cognito or JWT credentials: it signs each request instead, and the function
verifies that signature before it reads the body. The stage is throttled (a misbehaving client
cannot run up Lambda concurrency) and writes JSON access logs, without headers or bodies, to its
own log group.
"""

from __future__ import annotations

import json

import jsii
from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from stacks import nag

ROUTE_PATH = "/slack/actions"
BURST_LIMIT = 20
RATE_LIMIT = 10

# HTTP API access-log variables: who called which route, and what the function answered.
# No headers (the signature), no body (the payload): nothing here is a secret.
ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId",
    "requestTime": "$context.requestTime",
    "ip": "$context.identity.sourceIp",
    "userAgent": "$context.identity.userAgent",
    "routeKey": "$context.routeKey",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "integrationStatus": "$context.integration.status",
    "integrationLatency": "$context.integration.latency",
    "integrationError": "$context.integration.error",
    "errorMessage": "$context.error.message",
}


class SlackCallbackApi(Construct):
    """API Gateway HTTP API with ``POST /slack/actions``; ``url`` is Slack's Request URL."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function: lambda_.IFunction,
        log_retention: logs.RetentionDays,
        log_removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self.api = apigwv2.HttpApi(
            self,
            "Api",
            api_name=f"{Stack.of(self).stack_name}-slack-callbacks",
            description="Incident Runbook: Slack interactivity (Acknowledge/Resolve buttons)",
            create_default_stage=False,
        )
        self.route = self.api.add_routes(
            path=ROUTE_PATH,
            methods=[apigwv2.HttpMethod.POST],
            integration=integrations.HttpLambdaIntegration(
                "SlackActions",
                function,
                payload_format_version=apigwv2.PayloadFormatVersion.VERSION_2_0,
            ),
        )[0]
        self.access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            retention=log_retention,
            removal_policy=log_removal_policy,
        )
        self.stage = apigwv2.HttpStage(
            self,
            "DefaultStage",
            http_api=self.api,
            stage_name="$default",
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(burst_limit=BURST_LIMIT, rate_limit=RATE_LIMIT),
            access_log_settings=_AccessLogSettings(self.access_logs),
        )
        # The $default stage serves at the API's root, so the route is the endpoint's path.
        self.url = f"{self.api.api_endpoint}{ROUTE_PATH}"
        nag.acknowledge(
            self.route,
            "AwsSolutions-APIG4",
            "Slack cannot send IAM, Cognito or JWT credentials; every request carries Slack's "
            "v0 HMAC signature, which the function verifies (5-minute replay window) before it "
            "parses the body, answering 401 otherwise.",
        )


@jsii.implements(apigwv2.IAccessLogSettings)
class _AccessLogSettings:
    """JSON access logs to ``log_group`` (HttpStage takes the settings as an interface)."""

    def __init__(self, log_group: logs.ILogGroup) -> None:
        self._destination = apigwv2.LogGroupLogDestination(log_group)
        self._format = apigw.AccessLogFormat.custom(json.dumps(ACCESS_LOG_FORMAT))

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigw.AccessLogFormat:
        return self._format
