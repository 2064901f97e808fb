"""One Lambda execution environment, seen from the emulator: a worker process (running
lambda_worker.py) that serves one invocation at a time, with the function's timeout enforced
from outside, as Lambda does, and its log lines handed to whoever records them.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

WORKER_SCRIPT = Path(__file__).with_name("lambda_worker.py")


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


class Sandbox:
    """One sandbox: a child process serving one invocation at a time."""

    def __init__(
        self,
        spec: FunctionSpec,
        env: dict[str, str],
        on_log_line: Callable[[Sandbox, str], None],
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
