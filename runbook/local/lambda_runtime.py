"""Run Lambda functions in worker processes when moto invokes them.

moto's Docker-less Lambda backend (``moto.awslambda_simple``) answers every invoke with a canned
string. The emulator replaces its ``invoke`` so that the function's real handler runs, in a
worker process of its own (lambda_worker.py) with exactly the function's configuration: its
Environment.Variables, memory size, timeout and handler, plus what Lambda itself provides
(AWS_REGION, AWS_LAMBDA_FUNCTION_NAME, ...) and AWS_ENDPOINT_URL so that boto3 in the handler
talks to the emulator. Workers are pooled per function: cold once, warm after, and a concurrent
invocation gets another worker, as Lambda scales out sandboxes.
"""

from __future__ import annotations

import base64
import io
import logging
import os
import sys
import threading
import time
import uuid
import zipfile
from pathlib import Path
from typing import Any

from moto.awslambda.models import LambdaFunction
from moto.awslambda_simple.models import LambdaSimpleBackend

from runbook.local.faults import FaultPlan
from runbook.local.lambda_sandbox import FunctionSpec, Invocation, Sandbox, error_payload
from runbook.local.telemetry import Telemetry, emf_metrics

LOGGER = logging.getLogger(__name__)
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
# What a process inherits from the emulator: enough to start Python, nothing about AWS.
# SLACK_API_URL: a local fake Slack Web API (tests, demos) reaches every function this way.
INHERITED_VARIABLES = ("PATH", "LANG", "LC_ALL", "SYSTEMROOT", "SLACK_API_URL")
ASYNC_RETRY_DELAYS = (1.0, 2.0)  # Lambda retries a failed async event twice (minutes on AWS)


class LambdaRuntime:
    """Pool of worker processes per function, plus the bookkeeping Lambda does around them."""

    def __init__(
        self,
        endpoint_url: str,
        region: str,
        workdir: Path,
        *,
        telemetry: Telemetry | None = None,
        faults: FaultPlan | None = None,
    ) -> None:
        self.endpoint_url = endpoint_url
        self.region = region
        self.workdir = workdir
        self.telemetry = telemetry
        self.faults = faults
        """Function faults (faults.py): a matching invocation fails without running."""
        self.source_dirs: dict[str, Path] = {}
        """Function name -> source folder to run it from instead of its deployed zip (the
        repository's functions/ for the stack's functions, so an edit shows at the next cold
        start). Any other function runs its deployed code, unpacked."""
        self.log_groups: dict[str, str] = {}
        """Function name -> log group, for functions whose LoggingConfig names one."""
        self.environment: dict[str, str] = {}
        """Variables the emulator gives every function on top of its own (a replay's
        RUNBOOK_VIRTUAL_CLOCK, docs/replay.md); set them before the first invocation: a
        warm worker keeps the environment it started with."""
        self._idle: dict[str, list[Sandbox]] = {}
        self._busy: set[Sandbox] = set()
        self._lock = threading.Lock()
        self._log_lock = threading.Lock()
        self._unpack_lock = threading.Lock()
        self._closed = False
        self._queued = 0
        self.log_dir = workdir / "logs"
        self.log_dir.mkdir(parents=True, exist_ok=True)

    # -- configuration -------------------------------------------------------------------
    def spec_for(self, fn: LambdaFunction) -> FunctionSpec:
        return FunctionSpec(
            name=fn.function_name,
            arn=fn.function_arn,
            handler=str(fn.handler),
            code_dir=self.source_dirs.get(fn.function_name) or self._unpack(fn),
            environment=tuple(sorted((str(k), str(v)) for k, v in fn.environment_vars.items())),
            memory_mb=int(fn.memory_size),
            timeout_seconds=int(fn.timeout),
            runtime=str(fn.run_time),
            log_group=self.log_groups.get(fn.function_name, f"/aws/lambda/{fn.function_name}"),
        )

    def _unpack(self, fn: LambdaFunction) -> Path:
        digest = getattr(fn, "code_sha_256", "") or "nocode"
        target = (
            self.workdir / "lambda-code" / f"{fn.function_name}-{digest[:16].replace('/', '_')}"
        )
        with self._unpack_lock:  # two cold starts of a new version unpack it once
            if not target.is_dir():
                partial = target.with_suffix(".partial")
                partial.mkdir(parents=True, exist_ok=True)
                with zipfile.ZipFile(io.BytesIO(fn.code_bytes)) as archive:
                    archive.extractall(partial)
                partial.rename(target)
        return target

    def environment_for(self, spec: FunctionSpec) -> dict[str, str]:
        """The function's own variables, then what Lambda sets (a function cannot override it)."""
        env = {k: os.environ[k] for k in INHERITED_VARIABLES if k in os.environ}
        env.update(dict(spec.environment))
        env.update(self.environment)
        env.update(FAKE_CREDENTIALS)
        env.update(
            {
                "AWS_ENDPOINT_URL": self.endpoint_url,
                "AWS_REGION": self.region,
                "AWS_DEFAULT_REGION": self.region,
                "AWS_LAMBDA_FUNCTION_NAME": spec.name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group,
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
                "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
                "LAMBDA_TASK_ROOT": str(spec.code_dir),
                "LAMBDA_RUNTIME_DIR": str(Path(sys.executable).parent),
                "_HANDLER": spec.handler,
                "TZ": ":UTC",
                "PYTHONUNBUFFERED": "1",
                "PYTHONDONTWRITEBYTECODE": "1",
                # No X-Ray daemon locally; Powertools' Tracer becomes a no-op.
                "POWERTOOLS_TRACE_DISABLED": "true",
                # The user's ~/.aws must not leak profiles or endpoints into the function.
                "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            }
        )
        return env

    # -- invocation ----------------------------------------------------------------------
    def invoke(self, fn: LambdaFunction, payload: str | bytes | None) -> Invocation:
        """Synchronous (RequestResponse) invocation."""
        body = payload.decode() if isinstance(payload, bytes) else (payload or "")
        spec = self.spec_for(fn)
        request_id = str(uuid.uuid4())
        fault = self.faults.take_invocation(spec.name, body) if self.faults else None
        if fault is not None:  # as if the handler raised fault.error_type
            failed = Invocation(
                error_payload(fault.error_type, fault.message, request_id), "Unhandled"
            )
            self._record_metrics(spec, failed)
            return failed
        worker = self._acquire(spec)
        try:
            result = worker.invoke(body, request_id)
        finally:
            self._release(worker)
        self._record_metrics(spec, result)
        return result

    @property
    def queued(self) -> int:
        """Asynchronous invocations not finished yet (retries included): 0 when every event
        delivered so far has been handled."""
        with self._lock:
            return self._queued

    def invoke_async(self, fn: LambdaFunction, payload: str | bytes | None) -> None:
        """InvocationType Event: queued, run in the background, retried twice on error."""

        def attempts() -> None:
            for attempt, delay in enumerate((0.0, *ASYNC_RETRY_DELAYS)):
                time.sleep(delay)
                if self._closed:
                    return
                try:
                    result = self.invoke(fn, payload)
                except Exception:
                    LOGGER.exception("async invoke of %s failed", fn.function_name)
                    continue
                if result.function_error is None:
                    return
                LOGGER.warning(
                    "async invoke of %s failed (attempt %d): %s",
                    fn.function_name,
                    attempt + 1,
                    result.payload.decode(errors="replace")[:500],
                )

        def run() -> None:
            try:
                attempts()
            finally:
                with self._lock:
                    self._queued -= 1

        with self._lock:
            self._queued += 1
        threading.Thread(target=run, name=f"lambda-async-{fn.function_name}", daemon=True).start()

    def _acquire(self, spec: FunctionSpec) -> Sandbox:
        stale: list[Sandbox] = []
        chosen: Sandbox | None = None
        with self._lock:
            if self._closed:
                raise RuntimeError("the Lambda runtime is shut down")
            idle = self._idle.setdefault(spec.arn, [])
            while idle:
                worker = idle.pop()
                if worker.spec == spec and worker.alive:
                    chosen = worker
                    break
                stale.append(worker)
        for worker in stale:
            worker.close()
        if chosen is None:
            chosen = Sandbox(spec, self.environment_for(spec), self._on_log_line)
        with self._lock:
            self._busy.add(chosen)
        return chosen

    def _release(self, worker: Sandbox) -> None:
        with self._lock:
            self._busy.discard(worker)
            if worker.alive and not self._closed:
                self._idle.setdefault(worker.spec.arn, []).append(worker)
                return
        worker.close()

    def _on_log_line(self, worker: Sandbox, line: str) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        with self._log_lock, open(self.log_dir / "lambda.log", "a", encoding="utf-8") as out:
            out.write(f"{stamp} {worker.spec.name} {line}\n")
        if self.telemetry is not None:
            self.telemetry.log(worker.spec.log_group, worker.log_stream, line)
            for metric in emf_metrics(line):
                self.telemetry.metric(*metric)

    def _record_metrics(self, spec: FunctionSpec, result: Invocation) -> None:
        if self.telemetry is None:
            return
        dims = {"FunctionName": spec.name}
        self.telemetry.metric("AWS/Lambda", "Invocations", dims, 1, "Count")
        errors = 1 if result.function_error else 0
        self.telemetry.metric("AWS/Lambda", "Errors", dims, errors, "Count")
        self.telemetry.metric("AWS/Lambda", "Duration", dims, result.duration_ms, "Milliseconds")

    def shutdown(self) -> None:
        with self._lock:
            self._closed = True
            workers = [w for pool in self._idle.values() for w in pool] + list(self._busy)
            self._idle.clear()
            self._busy.clear()
        for worker in workers:  # all at once, then wait for each
            worker.request_exit()
        for worker in workers:
            worker.close()


# -- the moto hook ---------------------------------------------------------------------------
_original_invoke = LambdaSimpleBackend.invoke
_active_runtime: LambdaRuntime | None = None


def _invoke_with_runtime(
    self: LambdaSimpleBackend,
    function_name: str,
    qualifier: str | None,
    body: Any,
    headers: Any,
    response_headers: Any,
) -> str | bytes | None:
    runtime = _active_runtime
    if runtime is None:
        return _original_invoke(self, function_name, qualifier, body, headers, response_headers)
    fn = self.get_function(function_name, qualifier)
    invocation_type = headers.get("X-Amz-Invocation-Type") or "RequestResponse"
    response_headers["x-amz-executed-version"] = "$LATEST"
    if invocation_type == "DryRun":
        return b""
    if invocation_type == "Event":
        runtime.invoke_async(fn, body)
        return b""
    result = runtime.invoke(fn, body)
    if result.function_error:
        # What Step Functions' Retry/Catch read: the header marks an error, errorType names it.
        response_headers["x-amz-function-error"] = result.function_error
    if headers.get("X-Amz-Log-Type") == "Tail":
        tail = "\n".join(result.logs).encode()[-4096:]
        response_headers["x-amz-log-result"] = base64.b64encode(tail).decode()
    response_headers["Content-Length"] = str(len(result.payload))
    return result.payload


def install_invoke_hook(runtime: LambdaRuntime) -> None:
    """Route moto's Lambda invocations to ``runtime`` (one emulator per process)."""
    global _active_runtime
    _active_runtime = runtime
    LambdaSimpleBackend.invoke = _invoke_with_runtime  # type: ignore[method-assign]


def remove_invoke_hook() -> None:
    global _active_runtime
    _active_runtime = None
    LambdaSimpleBackend.invoke = _original_invoke  # type: ignore[method-assign]
