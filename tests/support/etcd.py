"""A real etcd (Debian's ``etcd-server``, 3.4) on free loopback ports, for the cluster tests."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support.servers import ManagedProcess, free_port, require_binary, wait_http

__all__ = ["EtcdServer", "running_etcd"]


@dataclass(frozen=True)
class EtcdServer:
    url: str
    proc: ManagedProcess


@contextlib.contextmanager
def running_etcd(workdir: Path, name: str = "etcd") -> Iterator[EtcdServer]:
    """One etcd member with its data in ``workdir/name``; stopped (by PID) on exit."""
    binary = require_binary("etcd")
    client, peer = free_port(), free_port()
    url = f"http://127.0.0.1:{client}"
    peer_url = f"http://127.0.0.1:{peer}"
    argv = [
        binary,
        "--name",
        name,
        "--data-dir",
        str(workdir / name),
        "--listen-client-urls",
        url,
        "--advertise-client-urls",
        url,
        "--listen-peer-urls",
        peer_url,
        "--initial-advertise-peer-urls",
        peer_url,
        "--initial-cluster",
        f"{name}={peer_url}",
        "--log-level",
        "warn",
    ]
    proc = ManagedProcess(name, argv, workdir / f"{name}.log")
    try:
        wait_http(url + "/health", timeout_s=20.0, proc=proc)
        yield EtcdServer(url, proc)
    finally:
        proc.stop()
