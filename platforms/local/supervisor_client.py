"""Client of supervisord's XML-RPC API over its unix socket.

A new transport per call (``supervisor.xmlrpc.SupervisorTransport`` keeps one connection and is not
thread-safe), so the client is safe to call from any thread. Faults become :class:`SupervisorError` with
supervisor's fault code, socket failures :class:`SupervisorUnavailableError`; the cause is chained.
"""

from __future__ import annotations

import http.client
import time
import xmlrpc.client
from typing import Any, cast

from supervisor.xmlrpc import SupervisorTransport

from platforms.local._metrics import PlatformMetrics
from platforms.local.errors import SupervisorError, SupervisorUnavailableError
from platforms.local.state import StateDir
from platforms.local.supervisor_config import SUPERVISOR_USER

__all__ = ["ALREADY_ADDED", "ALREADY_STARTED", "BAD_NAME", "NOT_RUNNING", "ProcessInfo", "SupervisorClient"]

BAD_NAME = 10
ALREADY_STARTED = 60
NOT_RUNNING = 70
ALREADY_ADDED = 90

ProcessInfo = dict[str, Any]
"""supervisord's process info: ``name``, ``group``, ``statename`` (RUNNING, BACKOFF...), ``pid``..."""


class SupervisorClient:
    def __init__(self, paths: StateDir, metrics: PlatformMetrics) -> None:
        self.paths = paths
        self.socket_path = paths.supervisor_sock
        self._metrics = metrics

    def call(self, method: str, *args: Any) -> Any:
        """Call ``supervisor.<method>`` (or a fully qualified ``system.*`` method)."""
        name = method if "." in method else f"supervisor.{method}"
        password = self.paths.supervisor_password()
        user = SUPERVISOR_USER if password else None
        transport = SupervisorTransport(user, password, serverurl=f"unix://{self.socket_path}")
        proxy = xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)
        started = time.monotonic()
        reason: str | None = None
        try:
            return getattr(proxy, name)(*args)
        except xmlrpc.client.Fault as exc:
            reason = exc.faultString.split(":")[0] or str(exc.faultCode)
            raise SupervisorError(name, exc.faultString, exc.faultCode) from exc
        except (OSError, http.client.HTTPException, xmlrpc.client.ProtocolError) as exc:
            reason = type(exc).__name__
            raise SupervisorUnavailableError(name, f"socket {self.socket_path}: {exc}") from exc
        finally:
            transport.close()
            self._metrics.supervisord.attempt(method, time.monotonic() - started, ok=reason is None)
            if reason:
                self._metrics.supervisord.failed(reason)

    def processes(self) -> list[ProcessInfo]:
        return cast(list[ProcessInfo], self.call("getAllProcessInfo"))

    def process(self, name: str) -> ProcessInfo:
        return cast(ProcessInfo, self.call("getProcessInfo", name))

    def state(self) -> str:
        return str(self.call("getState")["statename"])

    def add_programs(self) -> list[str]:
        """Re-read the include files and add every new program group (``supervisorctl update``, adds only)."""
        added, _changed, _removed = self.call("reloadConfig")[0]
        for group in added:
            try:
                self.call("addProcessGroup", group)
            except SupervisorError as exc:
                if exc.fault_code != ALREADY_ADDED:
                    raise
        return list(added)

    def remove_program(self, group: str) -> None:
        """Stop (waiting) and remove a program group; its include file must already be gone or kept."""
        try:
            self.call("stopProcessGroup", group, True)
        except SupervisorError as exc:
            if exc.fault_code not in (NOT_RUNNING, BAD_NAME):
                raise
        try:
            self.call("removeProcessGroup", group)
        except SupervisorError as exc:
            if exc.fault_code != BAD_NAME:
                raise
        self.call("reloadConfig")

    def stop(self, name: str) -> None:
        try:
            self.call("stopProcess", name, True)
        except SupervisorError as exc:
            if exc.fault_code != NOT_RUNNING:
                raise

    def start(self, name: str, wait: bool = True) -> None:
        try:
            self.call("startProcess", name, wait)
        except SupervisorError as exc:
            if exc.fault_code != ALREADY_STARTED:
                raise
