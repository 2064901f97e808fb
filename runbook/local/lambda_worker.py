"""One Lambda execution environment: a child process that runs one function's handler.

Started by lambda_runtime.py with exactly the function's environment (os.environ is
process-wide, so two functions can never share a process). It imports the handler once (the
cold start) and then serves invocations, one at a time, like a warm Lambda sandbox.

It is run by file path, with no import from this repository, so that the function's code
directory (LAMBDA_TASK_ROOT) is the first entry on sys.path, as in Lambda.

Protocol, one JSON document per line: requests on stdin
``{"request_id", "payload", "deadline_ms", "invoked_function_arn"}``; replies on the original
stdout ``{"ok": true, "payload": "<json>"}`` or ``{"ok": false, "error": {errorMessage,
errorType, stackTrace}}``. Anything the handler prints (Powertools logs included) goes to
stderr, which the parent turns into the function's log.
"""

from __future__ import annotations

import decimal
import importlib
import json
import os
import sys
import time
import traceback
from typing import IO, Any


class LambdaContext:
    """The attributes and method of the Python runtime's context object that handlers use."""

    def __init__(self, request_id: str, deadline_ms: int, invoked_function_arn: str) -> None:
        self.aws_request_id = request_id
        self.invoked_function_arn = invoked_function_arn
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        # A string, as in the real runtime (it reads the environment variable).
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self.tenant_id = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def _error(exc: BaseException, error_type: str | None = None, skip: int = 0) -> dict[str, Any]:
    """Lambda's error document; ``skip`` drops this worker's own frames from the trace."""
    frames = traceback.extract_tb(exc.__traceback__)[skip:]
    return {
        "errorMessage": str(exc),
        "errorType": error_type or type(exc).__name__,
        "requestId": "",
        "stackTrace": traceback.format_list(frames),
    }


def _to_json_default(value: Any) -> Any:
    # The runtime's encoder turns Decimal (what DynamoDB returns) into numbers.
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _load_handler() -> Any:
    handler = os.environ["_HANDLER"]
    module_name, _, function_name = handler.rpartition(".")
    if not module_name:
        raise ValueError(f"Bad handler '{handler}': not enough values to unpack")
    module = importlib.import_module(module_name.replace("/", "."))
    return getattr(module, function_name)


def _reply(channel: IO[str], message: dict[str, Any]) -> None:
    channel.write(json.dumps(message) + "\n")
    channel.flush()


def _invoke(handler: Any, request: dict[str, Any]) -> dict[str, Any]:
    raw = request.get("payload") or ""
    try:
        event = json.loads(raw) if raw.strip() else {}
    except ValueError as exc:
        return {"ok": False, "error": _error(exc, "Runtime.UnmarshalError")}
    context = LambdaContext(
        request["request_id"], int(request["deadline_ms"]), request["invoked_function_arn"]
    )
    try:
        result = handler(event, context)
    except Exception as exc:
        error = _error(exc, skip=1)
        error["requestId"] = request["request_id"]
        # What the Python runtime logs for an unhandled error, before it reports it.
        sys.stderr.write(
            f"[ERROR] {error['errorType']}: {error['errorMessage']}\n"
            "Traceback (most recent call last):\n" + "".join(error["stackTrace"])
        )
        return {"ok": False, "error": error}
    try:
        return {"ok": True, "payload": json.dumps(result, default=_to_json_default)}
    except (TypeError, ValueError) as exc:
        return {
            "ok": False,
            "error": _error(
                ValueError(f"Unable to marshal response: {exc}"), "Runtime.MarshalError"
            ),
        }


def main() -> int:
    # The reply channel is the original stdout; fd 1 then points at stderr so that prints,
    # Powertools' JSON logs and C-level writes all end up in the function's log.
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    task_root = os.environ["LAMBDA_TASK_ROOT"]
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    sys.path.insert(0, task_root)
    os.chdir(task_root)

    init_error: dict[str, Any] | None = None
    started = time.monotonic()
    try:
        handler = _load_handler()
    except Exception as exc:
        kind = "Runtime.ImportModuleError" if isinstance(exc, ImportError) else None
        init_error = _error(exc, kind)
        sys.stderr.write(f"[ERROR] {init_error['errorType']}: {init_error['errorMessage']}\n")
    init_ms = (time.monotonic() - started) * 1000

    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        request_id = request["request_id"]
        sys.stderr.write(f"START RequestId: {request_id} Version: $LATEST\n")
        began = time.monotonic()
        if init_error is not None:
            # Lambda reports an init failure on the invocation and discards the sandbox.
            _reply(replies, {"ok": False, "error": init_error})
            return 1
        reply = _invoke(handler, request)
        duration = (time.monotonic() - began) * 1000
        init_line = f"\tInit Duration: {init_ms:.2f} ms" if init_ms else ""
        # The REPORT line closes the invocation's log; the parent waits for it, so the reply
        # comes after it and a LogType=Tail caller sees every line of the invocation.
        sys.stderr.write(
            f"END RequestId: {request_id}\n"
            f"REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms\t"
            f"Billed Duration: {int(duration) + 1} ms\t"
            f"Memory Size: {os.environ.get('AWS_LAMBDA_FUNCTION_MEMORY_SIZE')} MB{init_line}\n"
        )
        sys.stderr.flush()
        reply["duration_ms"] = duration
        _reply(replies, reply)
        init_ms = 0.0
    return 0


if __name__ == "__main__":
    sys.exit(main())
