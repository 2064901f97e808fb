"""runbook/local/faults.py without a server: the errors parse in botocore as the real service's
would, requests are told apart by service and operation, and rules fire as often as asked."""

from __future__ import annotations

import io
from typing import Any

import botocore.session
import pytest
from botocore.parsers import create_parser

from runbook.local.faults import Fault, FaultPlan, describe, error_response, rest_operation

AUTH = (
    "AWS4-HMAC-SHA256 Credential=testing/20250101/us-east-1/{service}/aws4_request, "
    "SignedHeaders=host, Signature=00"
)


@pytest.mark.parametrize(
    ("service", "operation", "code", "status"),
    [
        ("logs", "StartQuery", "ThrottlingException", 400),  # json
        ("xray", "GetTraceSummaries", "ServiceUnavailable", 503),  # rest-json
        ("sns", "Publish", "InternalError", 500),  # query
        ("s3", "PutObject", "InternalError", 500),  # rest-xml
        ("ec2", "DescribeInstances", "RequestLimitExceeded", 503),  # ec2
        ("dynamodb", "UpdateItem", "ConditionalCheckFailedException", 400),
    ],
)
def test_errors_parse_as_botocore_parses_the_service(
    service: str, operation: str, code: str, status: int
) -> None:
    model = botocore.session.get_session().get_service_model(service)
    rule = Fault(service, operation, code, status, message="injected <here> & now")
    line, headers, body = error_response(rule, model.protocol)
    assert line.startswith(f"{status} ")
    parser = create_parser(model.protocol)
    parsed = parser.parse(
        {"status_code": status, "headers": dict(headers), "body": body},
        model.operation_model(operation).output_shape,
    )
    assert parsed["Error"]["Code"] == code
    assert parsed["Error"]["Message"] == "injected <here> & now"


def _environ(service: str, method: str, path: str, body: bytes = b"", **extra: str) -> Any:
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "HTTP_AUTHORIZATION": AUTH.format(service=service),
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
    }
    environ.update(extra)
    return environ


def test_requests_are_named_by_service_and_operation() -> None:
    target = _environ(
        "logs",
        "POST",
        "/",
        b'{"logGroupName": "/aws/lambda/orders"}',
        HTTP_X_AMZ_TARGET="Logs_20140328.StartQuery",
    )
    found = describe(target, b'{"logGroupName": "/aws/lambda/orders"}')
    assert found is not None and (found.service, found.operation) == ("logs", "StartQuery")
    form = b"Action=Publish&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A1%3Apage&Message=a+b"
    query = describe(
        _environ("sns", "POST", "/", form, CONTENT_TYPE="application/x-www-form-urlencoded"), form
    )
    assert query is not None and query.operation == "Publish"
    assert "arn:aws:sns:us-east-1:1:page" in query.text and "a b" in query.text
    assert describe({"REQUEST_METHOD": "GET", "PATH_INFO": "/"}, b"") is None  # unsigned


@pytest.mark.parametrize(
    ("method", "path", "query", "headers", "operation"),
    [
        ("PUT", "/bucket/incidents/x/postmortem.md", "", {}, "PutObject"),
        ("PUT", "/bucket/k", "partNumber=1&uploadId=u", {}, "UploadPart"),
        ("PUT", "/bucket/k", "", {"HTTP_X_AMZ_COPY_SOURCE": "b/o"}, "CopyObject"),
        ("PUT", "/bucket/k", "tagging", {}, "PutObjectTagging"),
        ("GET", "/bucket/k", "", {}, "GetObject"),
        ("PUT", "/bucket", "", {}, "CreateBucket"),
    ],
)
def test_rest_operations_sharing_a_path_are_told_apart(
    method: str, path: str, query: str, headers: dict[str, str], operation: str
) -> None:
    environ = {"QUERY_STRING": query, **headers}
    assert rest_operation("s3", method, path, environ) == operation


def test_rules_fire_as_often_as_asked_and_only_where_scoped() -> None:
    plan = FaultPlan()
    once = plan.add(Fault("s3", "PutObject", "InternalError", 500, contains=("incidents/a/",)))
    always = plan.add(Fault("xray", "*", "ServiceUnavailable", 503, times=None, name="xray"))
    app_calls: list[str] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        app_calls.append(environ["wsgi.input"].read().decode())  # the body is still there
        start_response("200 OK", [])
        return [b"moto"]

    wrapped = plan.middleware(app)
    statuses: list[str] = []

    def call(environ: dict[str, Any]) -> bytes:
        return b"".join(wrapped(environ, lambda status, _headers: statuses.append(status)))

    assert call(_environ("s3", "PUT", "/bucket/incidents/b/postmortem.md", b"doc")) == b"moto"
    assert b"<Code>InternalError</Code>" in call(
        _environ("s3", "PUT", "/bucket/incidents/a/postmortem.md", b"doc")
    )
    assert call(_environ("s3", "PUT", "/bucket/incidents/a/postmortem.md", b"doc")) == b"moto"
    for _ in range(3):
        call(_environ("xray", "POST", "/TraceSummaries", b"{}"))
    assert (
        statuses
        == ["200 OK", "500 Internal Server Error", "200 OK"] + ["503 Service Unavailable"] * 3
    )
    assert app_calls == ["doc", "doc"]
    assert (once.fired, always.fired) == (1, 3)
    assert plan.fired == {"s3:PutObject:InternalError": 1, "xray": 3}
    plan.clear()
    assert call(_environ("xray", "POST", "/TraceSummaries", b"{}")) == b"moto"


def test_function_faults_match_name_and_payload() -> None:
    plan = FaultPlan()
    rule = plan.fail_function("classify", times=2, contains=("orders-high",))
    assert plan.take_invocation("IncidentRunbook-Ingest", '{"a": "orders-high"}') is None
    assert plan.take_invocation("IncidentRunbook-Classify1", '{"a": "other"}') is None
    assert plan.take_invocation("IncidentRunbook-Classify1", '{"a": "orders-high"}') is rule
    assert plan.take_invocation("IncidentRunbook-Classify1", '{"a": "orders-high"}') is rule
    assert plan.take_invocation("IncidentRunbook-Classify1", '{"a": "orders-high"}') is None
    assert rule.error_type == "TransientDependencyError" and rule.fired == 2
