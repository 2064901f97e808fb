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
from pathlib import Path
from typing import Any

from moto.core.config import default_user_config
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

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


class MotoServer:
    """Start/stop moto's threaded server and restore moto's process-wide settings afterwards.

    MOTO_PORT must equal the port: moto's Step Functions interpreter reaches Lambda, SNS and
    the rest at ``localhost:$MOTO_PORT`` when it runs in server mode.
    """

    def __init__(self, port: int, host: str = "127.0.0.1", request_log: Path | None = None) -> None:
        """``request_log``: where the per-request access log goes (default: nowhere)."""
        self.host = host
        self.port = port
        self._request_log = request_log
        self._log_handler: logging.Handler | None = None
        self._server: ThreadedMotoServer | None = None
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
        self._quiet_access_log()
        self._server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
        self._server.start()

    def _quiet_access_log(self) -> None:
        """werkzeug prints a line per request to stderr; the emulator's console stays readable."""
        access = logging.getLogger("werkzeug")
        access.propagate = False
        access.setLevel(logging.INFO)
        if self._request_log is not None:
            self._request_log.parent.mkdir(parents=True, exist_ok=True)
            self._log_handler = logging.FileHandler(self._request_log, encoding="utf-8")
        else:
            self._log_handler = logging.NullHandler()
        access.addHandler(self._log_handler)

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
        for key, value in self._saved_config.items():
            if value is None:
                default_user_config.pop(key, None)  # type: ignore[misc]
            else:
                default_user_config[key] = value  # type: ignore[literal-required]
        self._saved_config = {}
        if self._log_handler is not None:
            logging.getLogger("werkzeug").removeHandler(self._log_handler)
            self._log_handler.close()
            self._log_handler = None
        if self._saved_moto_port is None:
            os.environ.pop("MOTO_PORT", None)
        else:
            os.environ["MOTO_PORT"] = self._saved_moto_port
