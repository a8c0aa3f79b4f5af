"""Side-by-side runs of real Prometheus 2.42 and ``paramedic serve`` on the same targets; a static exporter.

Used by the ingest parity, Grafana API and differential tests: each writes the two configs it needs; this
module starts both on free loopback ports, waits until both answer ``/-/ready``, and stops them by PID.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from pathlib import Path

from tests.support.servers import ManagedProcess, free_port, require_binary, wait_http

__all__ = ["SideBySide", "side_by_side", "static_exporter", "static_jobs"]


def _exporter_server(bodies: Mapping[str, bytes]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = bodies.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    return ThreadingHTTPServer(("127.0.0.1", 0), Handler)


def _serve_in_child(bodies: dict[str, bytes], conn: Connection) -> None:
    server = _exporter_server(bodies)
    conn.send(server.server_address[1])
    server.serve_forever()


@contextlib.contextmanager
def static_exporter(bodies: Mapping[str, bytes], *, own_process: bool = False) -> Iterator[str]:
    """Serve ``bodies`` (path -> exposition) as text format 0.0.4; yields ``host:port``.

    ``own_process``: serve from a child process, so a test that loads its own process (threads sending a
    burst of requests, holding the GIL) does not slow the exporter down into scrape timeouts."""
    if own_process:
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_serve_in_child, args=(dict(bodies), child), daemon=True)
        proc.start()
        try:
            if not parent.poll(30):
                raise RuntimeError("the static exporter process did not start within 30 s")
            yield f"127.0.0.1:{parent.recv()}"
        finally:
            proc.terminate()
            proc.join(10)
        return
    server = _exporter_server(bodies)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def static_jobs(job_prefix: str, target: str, paths: list[str], interval_s: float = 1.0) -> tuple[str, str]:
    prom_interval = f"{round(interval_s * 1000)}ms"  # Prometheus durations take no fractions
    """(prometheus.yml, paramedic.yaml collector section) scraping ``target`` once per path, one job each."""
    prom = (
        f"global: {{scrape_interval: {prom_interval}, scrape_timeout: {prom_interval}}}\nscrape_configs:\n"
        + "".join(
            f"  - job_name: {job_prefix}{path.replace('/', '_')}\n    metrics_path: {path}\n"
            f"    static_configs: [{{targets: ['{target}']}}]\n"
            for path in paths
        )
    )
    para = f"collector:\n  interval_s: {interval_s}\n  timeout_s: {interval_s}\n  jobs:\n" + "".join(
        f"    - {{name: {job_prefix}{path.replace('/', '_')}, type: static, metrics_path: {path}, "
        f"targets: ['{target}']}}\n"
        for path in paths
    )
    return prom, para


@dataclass(frozen=True, slots=True)
class SideBySide:
    prometheus: str  # base URL
    paramedic: str  # base URL
    tmp: Path


@contextlib.contextmanager
def side_by_side(
    tmp: Path,
    prometheus_yml: str,
    paramedic_yaml: str,
    *,
    prometheus: str | None = None,
    prometheus_args: Sequence[str] = (),
) -> Iterator[SideBySide]:
    """Start Prometheus and ``paramedic serve`` (embedded store under ``tmp``) with these configs.
    ``paramedic_yaml`` must not contain ``server:`` or ``metrics_store:`` (they are added here).
    ``prometheus``: the binary (default: Debian's 2.42 on the PATH), started with ``prometheus_args`` too."""
    prom_port, para_port = free_port(), free_port()
    (tmp / "prometheus.yml").write_text(prometheus_yml)
    (tmp / "paramedic.yaml").write_text(
        f"server: {{listen_port: {para_port}, auth: {{anonymous_read: true}}}}\n"
        f"metrics_store: {{type: embedded, path: data}}\n{paramedic_yaml}"
    )
    prom = ManagedProcess(
        "prometheus",
        [
            prometheus or require_binary("prometheus"),
            f"--config.file={tmp / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp / 'prom-data'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
            *prometheus_args,
        ],
        tmp / "prometheus.log",
    )
    para = ManagedProcess(
        "paramedic",
        [sys.executable, "-m", "paramedic.cli", "serve", "--config", str(tmp / "paramedic.yaml")],
        tmp / "paramedic.log",
        cwd=tmp,
    )
    try:
        wait_http(f"http://127.0.0.1:{prom_port}/-/ready", 30, prom)
        wait_http(f"http://127.0.0.1:{para_port}/-/ready", 30, para)
        yield SideBySide(f"http://127.0.0.1:{prom_port}", f"http://127.0.0.1:{para_port}", tmp)
    finally:
        para.stop()
        prom.stop()
