"""EC2 status checks on the emulator: moto reports every running instance's system and
instance checks as passed. ``HostFaults`` lets a test say "this instance's host is failing":
its system status check reads impaired (with ImpairedSince) until the instance is stopped,
as on AWS, where a stop and start moves an EBS-backed instance to another host. So an
``AWS-RestartEC2Instance`` run really clears the fault the diagnostics saw."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from typing import Any

from moto.ec2.models.instances import Instance


class HostFaults:
    """Instances whose host fails their system status check (until they are stopped)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._impaired: dict[str, str] = {}
        self._undo: list[Callable[[], None]] = []

    def impair(self, instance_id: str) -> None:
        """The instance's system status check fails from now until it is stopped."""
        since = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        with self._lock:
            self._impaired[instance_id] = since

    def impaired(self, instance_id: str) -> str | None:
        with self._lock:
            return self._impaired.get(instance_id)

    def clear(self) -> None:
        with self._lock:
            self._impaired.clear()

    def install(self) -> None:
        """Patch moto's Instance (system_status, stop) while the emulator runs."""
        if self._undo:
            return
        faults = self
        original_status = Instance.system_status
        original_stop = Instance.stop

        def system_status(instance: Any) -> dict[str, Any]:
            status: dict[str, Any] = original_status.fget(instance)  # type: ignore[attr-defined]
            since = faults.impaired(instance.id)
            if since is None or instance.state_code != 16:
                return status
            return {
                "Details": [{"Name": "reachability", "Status": "failed", "ImpairedSince": since}],
                "Status": "impaired",
            }

        def stop(instance: Any) -> Any:
            with faults._lock:
                faults._impaired.pop(instance.id, None)  # a new host after the start
            return original_stop(instance)

        Instance.system_status = property(system_status)  # type: ignore[assignment,method-assign]
        Instance.stop = stop  # type: ignore[method-assign,assignment]

        def undo() -> None:
            Instance.system_status = original_status  # type: ignore[method-assign]
            Instance.stop = original_stop  # type: ignore[method-assign]

        self._undo.append(undo)

    def remove(self) -> None:
        while self._undo:
            self._undo.pop()()
