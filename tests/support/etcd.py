"""A real etcd (Debian's ``etcd-server``, 3.4) on free loopback ports, for the cluster tests."""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.certs import CA, Issued
from tests.support.servers import ManagedProcess, free_port, require_binary, wait_http, wait_until

__all__ = ["EtcdServer", "EtcdTLSFiles", "running_etcd"]


@dataclass(frozen=True)
class EtcdTLSFiles:
    """What a TLS etcd was started with: ``ca`` signed its certificate and the ``client`` certificate it
    accepts (``--client-cert-auth --trusted-ca-file``)."""

    ca: Path
    client: Issued


@dataclass(frozen=True)
class EtcdServer:
    url: str
    proc: ManagedProcess
    tls: EtcdTLSFiles | None = None


def _tls_args(workdir: Path, name: str) -> tuple[list[str], EtcdTLSFiles]:
    ca = CA(workdir / f"{name}-pki", f"{name}-ca")
    # etcd 3.4's HTTP/JSON gateway dials the member's own gRPC port with the server certificate: with
    # --client-cert-auth that certificate must allow client authentication too, or every call is a 503.
    server = ca.issue(f"{name}-server", dns=("localhost",), ips=("127.0.0.1",), also_client=True)
    client = ca.issue(f"{name}-client", client=True)
    argv = [
        "--cert-file",
        str(server.cert),
        "--key-file",
        str(server.key),
        "--client-cert-auth",
        "--trusted-ca-file",
        str(ca.cert),
    ]
    return argv, EtcdTLSFiles(ca.cert, client)


def _wait_tls(url: str, files: EtcdTLSFiles, proc: ManagedProcess) -> None:
    ctx = ssl.create_default_context(cafile=str(files.ca))
    ctx.load_cert_chain(str(files.client.cert), str(files.client.key))

    def ok() -> bool:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.log_tail()}")
        try:
            return httpx.get(url + "/health", timeout=1.0, verify=ctx).status_code < 500
        except httpx.HTTPError:
            return False

    wait_until(ok, 20.0, f"{url} to answer")


@contextlib.contextmanager
def running_etcd(workdir: Path, name: str = "etcd", *, tls: bool = False) -> Iterator[EtcdServer]:
    """One etcd member with its data in ``workdir/name``; stopped (by PID) on exit. ``tls``: https with a
    fresh CA, and only clients holding a certificate of that CA are let in."""
    binary = require_binary("etcd")
    client, peer = free_port(), free_port()
    url = f"{'https' if tls else 'http'}://127.0.0.1:{client}"
    peer_url = f"http://127.0.0.1:{peer}"
    extra, files = _tls_args(workdir, name) if tls else ([], None)
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
        *extra,
    ]
    proc = ManagedProcess(name, argv, workdir / f"{name}.log")
    try:
        if files is None:
            wait_http(url + "/health", timeout_s=20.0, proc=proc)
        else:
            _wait_tls(url, files, proc)
        yield EtcdServer(url, proc, files)
    finally:
        proc.stop()
