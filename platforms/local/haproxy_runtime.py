"""Client of HAProxy's runtime API over the stats socket (``level admin``).

One command per connection (HAProxy closes a non-interactive session after answering). Commands that
answer nothing on success (``set server``, ``enable``/``disable``) treat any reply as an error;
``add``/``del server`` check for HAProxy's confirmation. Errors become :class:`RouterError`
(``RouterUnavailableError`` for socket failures) naming the command, with the cause chained.
Safe to call from any thread: no shared connection.
"""

from __future__ import annotations

import contextlib
import csv
import io
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from platforms.local._metrics import PlatformMetrics
from platforms.local.errors import RouterError, RouterUnavailableError

__all__ = ["HAProxyRuntime", "ServerStatus"]


@dataclass(frozen=True, slots=True)
class ServerStatus:
    """One row of ``show stat`` for a server: ``status`` is UP, DOWN, MAINT, DRAIN, "no check", ..."""

    backend: str
    server: str
    status: str
    weight: int
    address: str
    check_status: str
    sessions: int = 0  # requests in flight on it now (``scur``)


class HAProxyRuntime:
    def __init__(self, socket_path: Path, metrics: PlatformMetrics, timeout_s: float = 5.0) -> None:
        self.socket_path = socket_path
        self.timeout_s = timeout_s
        self._metrics = metrics

    def command(self, cmd: str) -> str:
        """Send one runtime API command and return HAProxy's reply (raw text)."""
        call = " ".join(cmd.split()[:2])  # "set server", "show stat": bounded label values
        started = time.monotonic()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(self.timeout_s)
                sock.connect(str(self.socket_path))
                sock.sendall(cmd.encode() + b"\n")
                chunks = []
                while chunk := sock.recv(65536):
                    chunks.append(chunk)
        except OSError as exc:
            self._record(call, started, type(exc).__name__)
            raise RouterUnavailableError(cmd, f"stats socket {self.socket_path}: {exc}") from exc
        self._record(call, started, None)
        return b"".join(chunks).decode(errors="replace")

    def _record(self, call: str, started: float, error: str | None) -> None:
        self._metrics.haproxy.attempt(call, time.monotonic() - started, ok=error is None)
        if error:
            self._metrics.haproxy.failed(error)

    def _expect(self, cmd: str, ok: str | None) -> None:
        reply = self.command(cmd).strip()
        good = reply == "" if ok is None else reply.startswith(ok)
        if not good:
            self._metrics.haproxy.failed("rejected")
            raise RouterError(cmd, reply or "(no reply)")

    def set_weight(self, backend: str, server: str, weight: int) -> None:
        self._expect(f"set server {backend}/{server} weight {weight}", None)

    def enable_server(self, backend: str, server: str) -> None:
        self._expect(f"enable server {backend}/{server}", None)

    def disable_server(self, backend: str, server: str) -> None:
        self._expect(f"disable server {backend}/{server}", None)

    def set_health_down(self, backend: str, server: str) -> None:
        """Force a checked server DOWN (``set server be/s health down``) until a check passes."""
        self._expect(f"set server {backend}/{server} health down", None)

    def add_server(self, backend: str, server: str, address: str, options: str, weight: int = 1) -> None:
        """Add a server that gets no traffic before it has passed a health check (when ``options`` has
        ``check``), then the given weight.

        HAProxy 2.6 adds a server in maintenance, and enabling it makes a checked server "UP 1/2" before
        its first check (``check_status`` INI): it would get requests while its process still opens its
        port, and with no other server to retry on (the others at weight 0) they got 503. So: ``add server``
        (maintenance), ``enable health``, ``set server ... weight 0`` and ``enable server`` (ready, but no
        traffic at weight 0), ``set server ... health down`` (forced DOWN: only a passing check, ``rise 1``,
        makes it UP), and only then ``set server ... weight N``. (``health down`` set while still in
        maintenance does not survive ``enable server``; ``init-state`` needs HAProxy 3.1.)"""
        self._expect(f"add server {backend}/{server} {address} {options}", "New server registered")
        if "check" not in options.split():
            self.set_weight(backend, server, weight)
            self.enable_server(backend, server)
            return
        self._expect(f"enable health {backend}/{server}", None)
        self.enable_checked(backend, server, weight)

    def enable_checked(self, backend: str, server: str, weight: int) -> None:
        """Take a checked server out of maintenance with no traffic before its next passing check: weight 0,
        ``enable server``, ``set server ... health down`` (HAProxy 2.6 would count it UP from its last
        state, or "UP 1/2" if never checked), then ``weight``."""
        self.set_weight(backend, server, 0)
        try:
            self.enable_server(backend, server)
            self.set_health_down(backend, server)
        except RouterError:  # not left at weight 0 for good: better unchecked than out of the router
            with contextlib.suppress(RouterError):
                self.set_weight(backend, server, weight)
            raise
        self.set_weight(backend, server, weight)

    def drain(self, backend: str, server: str, drain_s: float = 5.0) -> None:
        """Put the server in maintenance (no new requests) and wait up to ``drain_s`` for the requests in
        flight on it to finish (``scur`` 0), so stopping its process cuts none of them."""
        self.disable_server(backend, server)
        deadline = time.monotonic() + drain_s
        while time.monotonic() < deadline:
            row = next((s for s in self.servers() if (s.backend, s.server) == (backend, server)), None)
            if row is None or row.sessions == 0:
                return
            time.sleep(0.05)

    def del_server(self, backend: str, server: str, drain_s: float = 5.0) -> None:
        """Put the server in maintenance, then delete it (HAProxy refuses to delete an active server, and one
        with connections still attached: retried for up to ``drain_s`` while requests in flight finish)."""
        self.disable_server(backend, server)
        cmd = f"del server {backend}/{server}"
        deadline = time.monotonic() + drain_s
        while True:
            reply = self.command(cmd).strip()
            if reply.startswith("Server deleted"):
                return
            if "connection" not in reply.lower() or time.monotonic() >= deadline:
                self._metrics.haproxy.failed("rejected")
                raise RouterError(cmd, reply or "(no reply)")
            time.sleep(0.05)

    def servers(self) -> list[ServerStatus]:
        """Every server of every backend (``show stat -1 4 -1``)."""
        text = self.command("show stat -1 4 -1").lstrip("# ")
        rows = csv.DictReader(io.StringIO(text))
        out = []
        for row in rows:
            if not row.get("svname") or row["svname"] in ("FRONTEND", "BACKEND"):
                continue
            out.append(
                ServerStatus(
                    backend=row["pxname"],
                    server=row["svname"],
                    status=row.get("status", ""),
                    weight=int(row.get("weight") or 0),
                    address=row.get("addr", ""),
                    check_status=row.get("check_status", ""),
                    sessions=int(row.get("scur") or 0),
                )
            )
        return out
