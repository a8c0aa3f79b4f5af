"""Ports the demo needs free, and waiting for a child's HTTP or TCP port to answer."""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request

from platforms.local.processes import ChildProcess

__all__ = ["busy_port", "wait_http", "wait_tcp"]


def _port_free(port: int, kind: socket.SocketKind = socket.SOCK_STREAM) -> bool:
    with socket.socket(socket.AF_INET, kind) as s:
        if kind == socket.SOCK_STREAM:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def busy_port(
    http_port: int, relp_port: int | None, syslog_port: int, *, syslog_udp: bool = True
) -> str | None:
    """A message naming the first port that is in use (or given twice), or None when all are free.
    ``relp_port`` None / ``syslog_udp`` False: that listener is not used (the Cloud Foundry demo)."""
    candidates: list[tuple[str, int | None, socket.SocketKind, str]] = [
        ("--http-port", http_port, socket.SOCK_STREAM, "TCP"),
        ("--relp-port", relp_port, socket.SOCK_STREAM, "TCP"),
        ("--syslog-port", syslog_port, socket.SOCK_STREAM, "TCP"),
        ("--syslog-port", syslog_port if syslog_udp else None, socket.SOCK_DGRAM, "UDP"),
    ]
    wanted = [(opt, port, kind, proto) for opt, port, kind, proto in candidates if port is not None]
    tcp = [(opt, port) for opt, port, kind, _ in wanted if kind == socket.SOCK_STREAM]
    for i, (opt, port) in enumerate(tcp):
        for other, other_port in tcp[:i]:
            if port == other_port:
                return f"{opt} and {other} are both {port}: give them different ports"
    for opt, port, kind, proto in wanted:
        if not _port_free(port, kind):
            return f"{proto} port {port} is in use on 127.0.0.1: pass {opt} with a free port"
    return None


def wait_http(child: ChildProcess, url: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not child.alive():
            raise RuntimeError(f"{child.name} exited with {child.popen.returncode}:\n{child.log_tail()}")
        try:
            with urllib.request.urlopen(url, timeout=1.0) as resp:  # noqa: S310 -- loopback URL we built
                if int(resp.status) < 500:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{child.name}: {url} did not answer within {timeout_s:.0f}s:\n{child.log_tail()}")


def wait_tcp(child: ChildProcess, port: int, timeout_s: float) -> None:
    """Until ``child`` accepts TCP connections on loopback ``port`` (a log front: the demo says it is ready
    only once a sender can connect), or a clear error naming the child and its log."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not child.alive():
            raise RuntimeError(f"{child.name} exited with {child.popen.returncode}:\n{child.log_tail()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{child.name}: port {port} not listening after {timeout_s:.0f}s:\n{child.log_tail()}")
