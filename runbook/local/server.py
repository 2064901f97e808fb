"""moto in server mode inside this process, configured the way the emulator needs it.

The server and the code that hooks moto (Lambda invocation, EventBridge routing, alarm events)
share moto's in-memory backends, which is why it runs in a thread here rather than as a
separate ``moto_server`` process.
"""

from __future__ import annotations

import copy
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from moto.core.config import default_user_config
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import BaseWSGIServer, make_server

from runbook.local.health import without_support_plan

LOGGER = logging.getLogger(__name__)

# Lambda without Docker (the in-process hook) and Step Functions that really execute.
EMULATOR_MOTO_CONFIG: dict[str, dict[str, Any]] = {
    "lambda": {"use_docker": False},
    "stepfunctions": {"execute_state_machine": True},
}


class PortInUseError(RuntimeError):
    """The requested port is taken; moto's threaded server would otherwise hang on it."""


def ensure_port_free(host: str, port: int) -> None:
    """Fail fast: ThreadedMotoServer.start() waits forever if its thread cannot bind."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as err:
            raise PortInUseError(f"{host}:{port} is already in use ({err})") from err


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS considers free right now (for tests and ``--port 0``)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class _RequestLog:
    """Access and error lines of the server, appended to a file (or dropped)."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._lock = threading.Lock()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, line: str) -> None:
        if self._path is None:
            return
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        with self._lock, open(self._path, "a", encoding="utf-8") as out:
            out.write(f"{stamp} {line.rstrip()}\n")


def _handler_class(log: _RequestLog) -> type[MotoRequestHandler]:
    class Handler(MotoRequestHandler):
        """moto's request handler, logging to the emulator's request log, not to werkzeug's
        logger (which would print a line per request on the console)."""

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            log.write(f"{self.command} {self.path} {code} {size}")

        def log(self, type: str, message: str, *args: Any) -> None:
            log.write(f"{type}: {message % args if args else message}")

    return Handler


class MotoServer:
    """moto's WSGI app on a threaded werkzeug server, plus moto's process-wide settings.

    MOTO_PORT must equal the port: moto's Step Functions interpreter reaches Lambda, SNS and
    the rest at ``localhost:$MOTO_PORT`` when it runs in server mode. The server is built here
    rather than with moto's ThreadedMotoServer, which waits forever when its port is taken and
    logs every request through werkzeug's logger.
    """

    def __init__(
        self,
        port: int,
        host: str = "127.0.0.1",
        request_log: Path | None = None,
        wrap: Callable[[Any], Any] | None = None,
    ) -> None:
        """``request_log``: file for the access log and server errors (default: nowhere).
        ``wrap``: WSGI middleware put in front of moto's app (fault injection, faults.py)."""
        self.host = host
        self._wrap = wrap
        self.port = port
        self._log = _RequestLog(request_log)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._saved_config: dict[str, Any] = {}
        self._saved_moto_port: str | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        ensure_port_free(self.host, self.port)
        self._saved_config = {
            key: copy.deepcopy(default_user_config.get(key)) for key in EMULATOR_MOTO_CONFIG
        }
        self._saved_moto_port = os.environ.get("MOTO_PORT")
        for key, value in EMULATOR_MOTO_CONFIG.items():
            default_user_config[key] = copy.deepcopy(value)  # type: ignore[literal-required]
        os.environ["MOTO_PORT"] = str(self.port)
        try:
            app = without_support_plan(DomainDispatcherApplication(create_backend_app))
            server = make_server(
                self.host,
                self.port,
                self._wrap(app) if self._wrap is not None else app,
                threaded=True,
                request_handler=_handler_class(self._log),
            )
        except BaseException:
            self._restore_settings()
            raise
        log = self._log

        def server_log(type: str, message: str, *args: Any) -> None:
            text = message % args if args else message
            log.write(f"{type}: {text}")
            if type == "error":
                LOGGER.error("moto server: %s", text.splitlines()[-1] if text else text)

        server.log = server_log  # type: ignore[method-assign]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, name=f"moto-server-{self.port}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self._restore_settings()

    def _restore_settings(self) -> None:
        for key, value in self._saved_config.items():
            if value is None:
                default_user_config.pop(key, None)  # type: ignore[misc]
            else:
                default_user_config[key] = value  # type: ignore[literal-required]
        self._saved_config = {}
        if self._saved_moto_port is None:
            os.environ.pop("MOTO_PORT", None)
        else:
            os.environ["MOTO_PORT"] = self._saved_moto_port
