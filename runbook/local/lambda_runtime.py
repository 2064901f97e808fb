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
import contextlib
import io
import json
import logging
import os
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from moto.awslambda.models import LambdaFunction
from moto.awslambda_simple.models import LambdaSimpleBackend

from runbook.local.telemetry import Telemetry, emf_metrics

LOGGER = logging.getLogger(__name__)
WORKER_SCRIPT = Path(__file__).with_name("lambda_worker.py")
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
# What a process inherits from the emulator: enough to start Python, nothing about AWS.
INHERITED_VARIABLES = ("PATH", "LANG", "LC_ALL", "SYSTEMROOT")
ASYNC_RETRY_DELAYS = (1.0, 2.0)  # Lambda retries a failed async event twice (minutes on AWS)


@dataclass(frozen=True)
class FunctionSpec:
    """What a worker is started with; a new spec (code or configuration) means new workers."""

    name: str
    arn: str
    handler: str
    code_dir: Path
    environment: tuple[tuple[str, str], ...]
    memory_mb: int
    timeout_seconds: int
    runtime: str
    log_group: str


@dataclass
class Invocation:
    """The outcome of one invocation, as Lambda's Invoke API reports it."""

    payload: bytes
    function_error: str | None = None
    logs: list[str] = field(default_factory=list)
    duration_ms: float = 0.0


def error_payload(error_type: str, message: str, request_id: str = "") -> bytes:
    """A Lambda-style error document for failures outside the handler (timeout, crash)."""
    body = {"errorMessage": message, "errorType": error_type, "requestId": request_id}
    return json.dumps({**body, "stackTrace": []}).encode()


class _Worker:
    """One sandbox: a child process serving one invocation at a time."""

    def __init__(
        self,
        spec: FunctionSpec,
        env: dict[str, str],
        on_log_line: Callable[[_Worker, str], None],
    ) -> None:
        self.spec = spec
        self.log_stream = time.strftime("%Y/%m/%d/[$LATEST]", time.gmtime()) + uuid.uuid4().hex
        env = {**env, "AWS_LAMBDA_LOG_STREAM_NAME": self.log_stream}
        self._on_log_line = on_log_line
        self._capture: list[str] | None = None
        self._report_seen = threading.Event()
        self._report_marker = ""
        self.process = subprocess.Popen(  # noqa: S603 - our own worker script
            [sys.executable, str(WORKER_SCRIPT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=str(spec.code_dir),
            text=True,
            encoding="utf-8",
            bufsize=1,
        )
        self._stdin: IO[str] = self.process.stdin  # type: ignore[assignment]
        self._stdout: IO[str] = self.process.stdout  # type: ignore[assignment]
        self._log_thread = threading.Thread(
            target=self._pump_logs, name=f"lambda-log-{spec.name}", daemon=True
        )
        self._log_thread.start()

    def _pump_logs(self) -> None:
        stderr: IO[str] = self.process.stderr  # type: ignore[assignment]
        for line in stderr:
            line = line.rstrip("\n")
            capture = self._capture
            if capture is not None:
                capture.append(line)
            self._on_log_line(self, line)
            if self._report_marker and line.startswith(self._report_marker):
                self._report_seen.set()

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def invoke(self, payload: str, request_id: str) -> Invocation:
        timeout = self.spec.timeout_seconds
        deadline_ms = int((time.time() + timeout) * 1000)
        request = {
            "request_id": request_id,
            "payload": payload,
            "deadline_ms": deadline_ms,
            "invoked_function_arn": self.spec.arn,
        }
        timed_out = threading.Event()

        def expire() -> None:
            timed_out.set()
            self.process.kill()

        timer = threading.Timer(timeout, expire)
        self._capture = []
        self._report_marker = f"REPORT RequestId: {request_id}"
        self._report_seen.clear()
        started = time.monotonic()
        timer.start()
        try:
            self._stdin.write(json.dumps(request) + "\n")
            self._stdin.flush()
            line = self._stdout.readline()
        except (BrokenPipeError, OSError):
            line = ""
        finally:
            timer.cancel()
        duration = (time.monotonic() - started) * 1000
        if line:
            self._report_seen.wait(timeout=2)
        logs, self._capture = self._capture, None
        if not line:
            self.process.wait()
            if timed_out.is_set():
                message = f"{request_id} Task timed out after {timeout:.2f} seconds"
                self._on_log_line(self, message)
                return Invocation(
                    error_payload("Sandbox.Timedout", message, request_id),
                    "Unhandled",
                    logs,
                    duration,
                )
            message = (
                f"RequestId: {request_id} Error: Runtime exited with error: "
                f"exit status {self.process.returncode}"
            )
            return Invocation(
                error_payload("Runtime.ExitError", message, request_id), "Unhandled", logs, duration
            )
        reply = json.loads(line)
        if reply["ok"]:
            return Invocation(reply["payload"].encode(), None, logs, reply.get("duration_ms", 0))
        error = dict(reply["error"])
        error.setdefault("requestId", request_id)
        return Invocation(json.dumps(error).encode(), "Unhandled", logs, duration)

    def request_exit(self) -> None:
        """Close stdin: the worker finishes its loop and exits (without waiting for it)."""
        with contextlib.suppress(OSError):
            self._stdin.close()

    def close(self) -> None:
        if self.alive:
            try:
                self.request_exit()
                self.process.wait(timeout=2)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()
        self._log_thread.join(timeout=2)
        for pipe in (self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()


class LambdaRuntime:
    """Pool of worker processes per function, plus the bookkeeping Lambda does around them."""

    def __init__(
        self,
        endpoint_url: str,
        region: str,
        workdir: Path,
        *,
        telemetry: Telemetry | None = None,
    ) -> None:
        self.endpoint_url = endpoint_url
        self.region = region
        self.workdir = workdir
        self.telemetry = telemetry
        self.source_dirs: dict[str, Path] = {}
        """Function name -> source folder to run it from instead of its deployed zip (the
        repository's functions/ for the stack's functions, so an edit shows at the next cold
        start). Any other function runs its deployed code, unpacked."""
        self.log_groups: dict[str, str] = {}
        """Function name -> log group, for functions whose LoggingConfig names one."""
        self._idle: dict[str, list[_Worker]] = {}
        self._busy: set[_Worker] = set()
        self._lock = threading.Lock()
        self._log_lock = threading.Lock()
        self._closed = False
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
        worker = self._acquire(spec)
        try:
            result = worker.invoke(body, request_id)
        finally:
            self._release(worker)
        self._record_metrics(spec, result)
        return result

    def invoke_async(self, fn: LambdaFunction, payload: str | bytes | None) -> None:
        """InvocationType Event: queued, run in the background, retried twice on error."""

        def run() -> None:
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

        threading.Thread(target=run, name=f"lambda-async-{fn.function_name}", daemon=True).start()

    def _acquire(self, spec: FunctionSpec) -> _Worker:
        stale: list[_Worker] = []
        chosen: _Worker | None = None
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
            chosen = _Worker(spec, self.environment_for(spec), self._on_log_line)
        with self._lock:
            self._busy.add(chosen)
        return chosen

    def _release(self, worker: _Worker) -> None:
        with self._lock:
            self._busy.discard(worker)
            if worker.alive and not self._closed:
                self._idle.setdefault(worker.spec.arn, []).append(worker)
                return
        worker.close()

    def _on_log_line(self, worker: _Worker, line: str) -> None:
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
