"""Fault injection for the emulator: make an AWS API call or a Lambda function fail on purpose.

Reliability claims ("a throttled dependency is retried", "a failed branch never stops the page")
are only worth something when a test makes the dependency fail. A ``FaultPlan`` holds rules:

- ``Fault``: an AWS API request (service + operation, optionally only when the request carries
  given text, e.g. a log group, an S3 key or an incident id) is answered with an AWS-shaped
  error instead of reaching moto, a given number of times. It is a WSGI middleware in front of
  moto's app, so it catches the Lambdas' SDK calls and the Step Functions interpreter's service
  integrations alike (moto's interpreter calls SNS, Lambda, ... through boto3 at
  ``localhost:$MOTO_PORT``, i.e. through this server). The error body is the one each protocol's
  botocore parser reads (``json``/``rest-json``: ``__type`` + ``x-amzn-ErrorType``; ``query``:
  ``ErrorResponse``; ``rest-xml``: ``Error``; ``ec2``: ``Response/Errors``), so clients see the
  same ``ClientError`` they would on AWS, and botocore's own retries apply to it.
- ``FunctionFault``: the next invocations of a function fail as if its handler raised
  ``error_type`` (Lambda's ``FunctionError: Unhandled`` with ``errorType``), so the state
  machine's Retry/Catch on that error name is exercised without editing the handler.

Counts of what fired are kept per rule (``plan.fired``) and each firing is a line in
``logs/faults.log``, so a test asserts that its fault really happened.
"""

from __future__ import annotations

import io
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote_plus

import botocore.session

LOGGER = logging.getLogger(__name__)
ANY = "*"
# The SigV4 credential scope names the service: ".../20250101/us-east-1/logs/aws4_request".
_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/]+/([^/]+)/aws4_request")
_QUERY_SCOPE = re.compile(r"^[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request$")

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass
class Fault:
    """Answer matching AWS requests with an error, ``times`` times (``None``: every time).

    ``service`` is the SigV4 signing name (``logs``, ``s3``, ``sns``, ``dynamodb``, ``xray``,
    ``lambda``, ...), ``operation`` the API name (``StartQuery``, ``PutObject``) or ``*``.
    ``contains``: every string must occur in the request (body, URL-decoded form body, path or
    query), which scopes a rule to one resource or incident while others run concurrently."""

    service: str
    operation: str
    code: str
    status: int = 400
    message: str = ""
    times: int | None = 1
    contains: tuple[str, ...] = ()
    name: str = ""
    fired: int = 0

    def __post_init__(self) -> None:
        self.name = self.name or f"{self.service}:{self.operation}:{self.code}"
        self.message = self.message or f"injected fault: {self.code}"

    @property
    def exhausted(self) -> bool:
        return _exhausted(self.times, self.fired)


@dataclass
class FunctionFault:
    """Fail the next ``times`` invocations of functions whose name contains ``function`` (and
    whose payload contains every ``contains`` string) with a handler-style error."""

    function: str
    error_type: str = "TransientDependencyError"
    message: str = ""
    times: int | None = 1
    contains: tuple[str, ...] = ()
    name: str = ""
    fired: int = 0

    def __post_init__(self) -> None:
        self.name = self.name or f"lambda:{self.function}:{self.error_type}"
        self.message = self.message or f"injected fault: {self.error_type}"

    @property
    def exhausted(self) -> bool:
        return _exhausted(self.times, self.fired)


def _exhausted(times: int | None, fired: int) -> bool:
    """A rule with a count stops once it fired that often; `None` fires every time."""
    return times is not None and fired >= times


@dataclass(frozen=True)
class Request:
    """What a rule is matched against."""

    service: str
    operation: str
    text: str  # body (decoded as text), its URL-decoded form, path and query


@dataclass
class FaultPlan:
    """The rules in force; thread-safe (moto's server and the Lambda runtime are threaded)."""

    log_path: Path | None = None
    _rules: list[Fault | FunctionFault] = field(default_factory=list)
    _counts: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- rules -----------------------------------------------------------------------------
    def add(self, fault: Fault) -> Fault:
        """Start injecting ``fault``; returns it (its ``fired`` counts the injections)."""
        with self._lock:
            self._rules.append(fault)
        return fault

    def fail_function(
        self,
        function: str,
        error_type: str = "TransientDependencyError",
        *,
        times: int | None = 1,
        contains: tuple[str, ...] = (),
        message: str = "",
        name: str = "",
    ) -> FunctionFault:
        """Fail the next ``times`` matching invocations of ``function`` with ``error_type``."""
        fault = FunctionFault(function, error_type, message, times, contains, name)
        with self._lock:
            self._rules.append(fault)
        return fault

    def clear(self) -> None:
        """Remove every rule (counts of what already fired are kept)."""
        with self._lock:
            self._rules.clear()

    @property
    def fired(self) -> dict[str, int]:
        """Injections so far, by rule name (rules that share a name add up)."""
        with self._lock:
            return dict(self._counts)

    @property
    def active(self) -> bool:
        return bool(self._rules)

    # -- matching --------------------------------------------------------------------------
    def take_request(self, request: Request) -> Fault | None:
        """The first live rule for this request, counted as fired."""
        with self._lock:
            for rule in self._rules:
                if (
                    isinstance(rule, Fault)
                    and not rule.exhausted
                    and rule.service == request.service
                    and rule.operation in (ANY, request.operation)
                    and all(s in request.text for s in rule.contains)
                ):
                    self._count(rule)
                    break
            else:
                return None
        self._log(rule.name, f"{request.service}.{request.operation} -> {rule.code}")
        return rule

    def take_invocation(self, function_name: str, payload: str) -> FunctionFault | None:
        """The first live function rule for this invocation, counted as fired."""
        with self._lock:
            for rule in self._rules:
                if (
                    isinstance(rule, FunctionFault)
                    and not rule.exhausted
                    and rule.function.lower() in function_name.lower()
                    and all(s in payload for s in rule.contains)
                ):
                    self._count(rule)
                    break
            else:
                return None
        self._log(rule.name, f"{function_name} -> {rule.error_type}")
        return rule

    def _count(self, rule: Fault | FunctionFault) -> None:
        rule.fired += 1
        self._counts[rule.name] = self._counts.get(rule.name, 0) + 1

    def _log(self, name: str, line: str) -> None:
        LOGGER.info("fault %s fired: %s", name, line)
        if self.log_path is None:
            return
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        with self._lock, open(self.log_path, "a", encoding="utf-8") as out:
            out.write(f"{stamp} {name} {line}\n")

    # -- the WSGI side ---------------------------------------------------------------------
    def middleware(self, app: WsgiApp) -> WsgiApp:
        """Wrap moto's WSGI app: a matching request gets the rule's error, others pass."""

        def faulty(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            if not self.active:
                return app(environ, start_response)
            body = _read_body(environ)
            request = describe(environ, body)
            rule = self.take_request(request) if request is not None else None
            if request is None or rule is None:
                return app(environ, start_response)
            status, headers, payload = error_response(rule, _protocol(request.service))
            start_response(status, headers)
            return [payload]

        return faulty


def _read_body(environ: dict[str, Any]) -> bytes:
    """Read the body and put it back, so moto still reads it."""
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    length = environ.get("CONTENT_LENGTH") or ""
    if length.isdigit():
        body = stream.read(int(length))
    elif environ.get("wsgi.input_terminated"):
        body = stream.read()
    else:
        return b""
    environ["wsgi.input"] = io.BytesIO(body)
    return bytes(body)


def describe(environ: dict[str, Any], body: bytes) -> Request | None:
    """Service and operation of a signed AWS request (``None`` for anything else)."""
    service = _service(environ)
    if not service:
        return None
    text = body.decode("utf-8", errors="replace")
    query = environ.get("QUERY_STRING", "")
    path = environ.get("PATH_INFO", "")
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    form = text if "x-www-form-urlencoded" in environ.get("CONTENT_TYPE", "") else ""
    if target:
        operation = target.rsplit(".", 1)[-1]
    elif "Action=" in form or "Action=" in query:
        operation = (parse_qs(form).get("Action") or parse_qs(query).get("Action") or [""])[0]
    else:
        operation = rest_operation(service, environ.get("REQUEST_METHOD", ""), path, environ)
    decoded = unquote_plus(form) if form else ""
    return Request(service, operation, "\n".join((text, decoded, path, unquote_plus(query))))


def _service(environ: dict[str, Any]) -> str:
    found = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    if found:
        return found.group(1)
    credential = parse_qs(environ.get("QUERY_STRING", "")).get("X-Amz-Credential", [""])[0]
    scoped = _QUERY_SCOPE.match(credential)
    return scoped.group(1) if scoped else ""


@dataclass(frozen=True)
class _Route:
    operation: str
    method: str
    path: re.Pattern[str]
    literals: tuple[str, ...]  # query keys the URI template fixes (`?tagging`)
    query: tuple[str, ...]  # required querystring members
    headers: tuple[str, ...]  # required header members (WSGI names)


# Signing names that differ from botocore's service names.
_SERVICE_NAMES = {"states": "stepfunctions", "monitoring": "cloudwatch", "email": "ses"}


@lru_cache(maxsize=32)
def _model(service: str) -> Any:
    """botocore's model of the service that signs as ``service`` (``None`` if unknown)."""
    session = botocore.session.get_session()
    name = _SERVICE_NAMES.get(service, service)
    if name in session.get_available_services():
        return session.get_service_model(name)
    for other in session.get_available_services():  # rare: load models until one signs so
        model = session.get_service_model(other)
        if model.signing_name == service:
            return model
    return None


def _protocol(service: str) -> str:
    model = _model(service)
    return str(model.protocol) if model is not None else "json"


@lru_cache(maxsize=32)
def _routes(service: str) -> tuple[_Route, ...]:
    model = _model(service)
    if model is None:
        return ()
    routes = []
    for name in model.operation_names:
        op = model.operation_model(name)
        uri, _, literal = str(op.http.get("requestUri", "/")).partition("?")
        pattern = re.sub(r"\\\{[^}]+?\\\+\\\}", ".+", re.escape(uri))
        pattern = re.sub(r"\\\{[^}]+?\\\}", "[^/]+", pattern)
        query: list[str] = []
        headers: list[str] = []
        shape = op.input_shape
        for member in shape.required_members if shape is not None else []:
            location = shape.members[member].serialization
            if location.get("location") == "querystring":
                query.append(str(location.get("name", member)))
            elif location.get("location") == "header":
                wsgi = "HTTP_" + str(location.get("name", member)).upper().replace("-", "_")
                headers.append(wsgi)
        literals = tuple(p.split("=")[0] for p in literal.split("&") if p)
        routes.append(
            _Route(
                name,
                str(op.http.get("method", "POST")),
                re.compile(f"^{pattern}/?$"),
                literals,
                tuple(query),
                tuple(headers),
            )
        )
    return tuple(routes)


def rest_operation(service: str, method: str, path: str, environ: dict[str, Any]) -> str:
    """The operation of a REST request: the route whose method, path template, fixed query
    keys and required query/header members all match, the most specific one winning (S3's
    PutObject, UploadPart and CopyObject share ``PUT /{Bucket}/{Key+}``). Path-style only."""
    keys = set(parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True))
    best, score = "", -1
    for route in _routes(service):
        if route.method != method or not route.path.match(path):
            continue
        if not set(route.literals) <= keys or not set(route.query) <= keys:
            continue
        if any(h not in environ for h in route.headers):
            continue
        specificity = len(route.literals) + len(route.query) + len(route.headers)
        if specificity > score:
            best, score = route.operation, specificity
    return best


_REASONS = {400: "Bad Request", 403: "Forbidden", 404: "Not Found", 409: "Conflict"}
_REASONS |= {429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway"}
_REASONS |= {503: "Service Unavailable", 504: "Gateway Timeout"}


def error_response(rule: Fault, protocol: str) -> tuple[str, list[tuple[str, str]], bytes]:
    """(status line, headers, body) of the error as the service's protocol shapes it."""
    request_id = str(uuid.uuid4())
    status = f"{rule.status} {_REASONS.get(rule.status, 'Error')}"
    headers = [("x-amzn-RequestId", request_id), ("x-amz-request-id", request_id)]
    if protocol in ("json", "rest-json"):
        body = json.dumps({"__type": rule.code, "message": rule.message}).encode()
        headers += [("Content-Type", "application/x-amz-json-1.1")]
        headers += [("x-amzn-ErrorType", f"{rule.code}:")]
    elif protocol == "query":
        body = (
            "<ErrorResponse><Error><Type>"
            + ("Receiver" if rule.status >= 500 else "Sender")
            + f"</Type><Code>{_xml(rule.code)}</Code><Message>{_xml(rule.message)}</Message>"
            + f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        headers += [("Content-Type", "text/xml")]
    elif protocol == "ec2":
        body = (
            f"<Response><Errors><Error><Code>{_xml(rule.code)}</Code><Message>"
            f"{_xml(rule.message)}</Message></Error></Errors>"
            f"<RequestID>{request_id}</RequestID></Response>"
        ).encode()
        headers += [("Content-Type", "text/xml")]
    else:  # rest-xml (S3, CloudFront, Route 53)
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{_xml(rule.code)}</Code><Message>{_xml(rule.message)}</Message>"
            f"<RequestId>{request_id}</RequestId></Error>"
        ).encode()
        headers += [("Content-Type", "application/xml")]
    headers.append(("Content-Length", str(len(body))))
    return status, headers, body


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
