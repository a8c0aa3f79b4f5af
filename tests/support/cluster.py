"""Several real ``paramedic serve`` replicas joined through a real etcd, and exporters that record every
scrape they receive (the scraped side counts, not Paramedic)."""

from __future__ import annotations

import contextlib
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import yaml

from paramedic.auth import TokenStore
from platforms.tenancy import Grant
from tests.support.servers import ManagedProcess, free_port, wait_http

__all__ = [
    "CountingExporter",
    "Replica",
    "counting_exporters",
    "make_tokens",
    "replica_config",
    "start_replica",
    "wait_ready",
]


@dataclass
class CountingExporter:
    """One target: answers /metrics and remembers when it was scraped (monotonic seconds)."""

    address: str
    scrapes: list[float] = field(default_factory=list)


def _handler(exp: CountingExporter) -> type[BaseHTTPRequestHandler]:
    body = b"# TYPE cluster_probe gauge\ncluster_probe 1\n"

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            exp.scrapes.append(time.monotonic())
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


@contextlib.contextmanager
def counting_exporters(n: int) -> Iterator[list[CountingExporter]]:
    servers: list[ThreadingHTTPServer] = []
    exporters: list[CountingExporter] = []
    try:
        for _ in range(n):
            exp = CountingExporter("")
            srv = ThreadingHTTPServer(("127.0.0.1", 0), _handler(exp))
            exp.address = f"127.0.0.1:{srv.server_address[1]}"
            threading.Thread(target=srv.serve_forever, daemon=True).start()
            servers.append(srv)
            exporters.append(exp)
        yield exporters
    finally:
        for srv in servers:
            srv.shutdown()
            srv.server_close()


@dataclass
class Replica:
    id: str
    url: str
    proc: ManagedProcess
    tokens: dict[str, str]

    def status(self, who: str = "foundation") -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        return httpx.get(f"{self.url}/api/v1/status/cluster", headers=headers, timeout=5.0)


def replica_config(
    rid: str, port: int, etcd_url: str, targets: list[str], *, interval_s: float, ttl_s: int, prefix: str
) -> dict[str, Any]:
    return {
        "server": {"listen_port": port, "auth": {"tokens_file": "tokens.json"}},
        "metrics_store": {"type": "embedded", "path": "data/metrics"},
        "collector": {
            "interval_s": interval_s,
            "timeout_s": 1,
            "jobs": [{"name": "probe", "type": "static", "targets": targets}],
        },
        "alerting": {
            "data_dir": "data/alerting",
            "route": {"receiver": "nobody", "group_wait": "1s"},
            "receivers": [{"name": "nobody"}],
        },
        "cluster": {
            "etcd_endpoints": [etcd_url],
            "replica_id": rid,
            "lease_ttl_s": ttl_s,
            "key_prefix": prefix,
        },
    }


def make_tokens(path: Path) -> dict[str, str]:
    """The tokens every replica shares: a foundation viewer, a viewer of acme/prod, an operator."""
    store = TokenStore(path)
    return {
        "foundation": store.create("foundation-viewer", "viewer"),
        "space": store.create("space-viewer", "viewer", grants=[Grant("acme", "prod", "viewer")]),
        "operator": store.create("operator", "operator"),
    }


def start_replica(
    workdir: Path, rid: str, config: dict[str, Any], tokens_file: Path, tokens: dict[str, str]
) -> Replica:
    """Write the replica's config, copy the shared tokens file and start it (:func:`wait_ready` waits)."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "paramedic.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    shutil.copy2(tokens_file, workdir / "tokens.json")
    argv = [sys.executable, "-m", "paramedic.cli", "serve", "--config", str(workdir / "paramedic.yaml")]
    proc = ManagedProcess(f"paramedic-{rid}", argv, workdir / "paramedic.log", cwd=workdir)
    return Replica(rid, f"http://127.0.0.1:{config['server']['listen_port']}", proc, tokens)


def wait_ready(replica: Replica) -> None:
    wait_http(f"{replica.url}/-/ready", 60, replica.proc)


def free_ports(n: int) -> list[int]:
    return [free_port() for _ in range(n)]
