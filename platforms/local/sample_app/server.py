"""The sample app: a small HTTP service with Prometheus metrics and fault injection over HTTP.

Routes: ``/`` (hello), ``GET /api/items``, ``GET /api/items/<id>``, ``POST /api/orders``, ``/healthz``,
``/metrics``, ``/_info`` and ``/_fault`` (``GET`` lists, ``POST`` injects, ``DELETE`` clears; see
:mod:`platforms.local.sample_app.faults`). The ``errors`` and ``latency`` faults apply to the business routes
only (health checks and metrics keep working, as in real apps); ``hang`` stops everything: the accept loop
stops accepting and requests on open connections block. Every reply carries ``X-App-Instance`` (``app/index``)
and ``X-App-Version`` (also the ``version`` label of ``app_info`` and in ``/_info``).

Output (stdout/stderr, collected by supervisord and forwarded by the platform's rsyslog): one access line per
request except health checks and scrapes (``access method=GET path=/api/items status=200 duration_ms=1.2``,
WARNING for 5xx), and one line per fault event (injected, cleared, crash).
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from platforms.local.sample_app.faults import FaultRequestError, FaultState, parse_fault
from platforms.local.sample_app.metrics import AppMetrics

__all__ = ["SampleApp", "route_of"]

log = logging.getLogger("sample_app")
access_log = logging.getLogger("sample_app.access")
_MIB = 1024 * 1024
_LEAK_CAP_BYTES = 512 * _MIB
_ITEM = re.compile(r"^/api/items/(\d+)$")
_BUSINESS = {"/", "/api/items", "/api/items/{id}", "/api/orders"}


def route_of(path: str) -> str:
    """The route template of a request path (bounded label values)."""
    path = path.split("?", 1)[0]
    if path in ("/", "/api/items", "/api/orders", "/healthz", "/metrics", "/_fault", "/_info"):
        return path
    if _ITEM.match(path):
        return "/api/items/{id}"
    return "other"


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet about peers that reset (HAProxy closes its health-check connections with a RST)."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class SampleApp:
    """One instance: server, fault state, metrics, leak thread. ``serve_forever`` runs the accept loop."""

    def __init__(
        self, app: str, index: int, port: int, version: str = "1.0.0", host: str = "127.0.0.1"
    ) -> None:
        self.app = app
        self.index = index
        self.version = version
        self.faults = FaultState()
        self.metrics = AppMetrics(self.faults, version)
        self._leak: list[bytes] = []
        self._stop = threading.Event()
        handler = type("Handler", (_Handler,), {"sample": self})
        self.server = _Server((host, port), handler)
        self.server.timeout = 0.25

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def serve_forever(self) -> None:
        threading.Thread(target=self._leak_loop, name="leak", daemon=True).start()
        while not self._stop.is_set():
            if self.faults.wait_while_hung(0.5):
                continue  # hung: accept nothing; queued connections wait in the kernel backlog
            self.server.handle_request()
        self.server.server_close()

    def shutdown(self) -> None:
        self._stop.set()

    def _leak_loop(self) -> None:
        while not self._stop.wait(0.25):
            fault = self.faults.active("leak")
            if fault is None:
                self._leak.clear()
            elif sum(map(len, self._leak)) < _LEAK_CAP_BYTES:
                self._leak.append(b"\x01" * int(fault.rate * _MIB / 4))  # written, so really resident
            self.metrics.leaked.set(sum(map(len, self._leak)))


class _Handler(BaseHTTPRequestHandler):
    sample: ClassVar[SampleApp]
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall
    server_version = "paramedic-sample-app"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: no access log (the router and the metrics have it)."""

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, code: int, body: bytes | str | dict[str, Any] | list[Any], ctype: str = "") -> None:
        if isinstance(body, dict | list):
            payload, ctype = json.dumps(body).encode() + b"\n", ctype or "application/json"
        else:
            payload = body.encode() if isinstance(body, str) else body
            ctype = ctype or "text/plain; charset=utf-8"
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("X-App-Instance", f"{self.sample.app}/{self.sample.index}")
        self.send_header("X-App-Version", self.sample.version)
        self.end_headers()
        self.wfile.write(payload)

    def _handle(self, method: str) -> None:
        sample = self.sample
        while sample.faults.wait_while_hung(0.5):
            pass  # an open keep-alive connection hangs too
        started = time.monotonic()
        route = route_of(self.path)
        body = self._body()
        code = 500
        after = None
        try:
            code, after = self._dispatch(method, route, body)
        except (BrokenPipeError, ConnectionResetError):
            code = 499  # the client went away
        finally:
            if route not in ("/metrics", "/healthz"):
                elapsed = time.monotonic() - started
                sample.metrics.requests.labels(method, route, str(code)).inc()
                sample.metrics.latency.labels(route).observe(elapsed)
                access_log.log(
                    logging.WARNING if code >= 500 else logging.INFO,
                    "access method=%s path=%s status=%d duration_ms=%.1f",
                    method,
                    self.path.split("?", 1)[0],
                    code,
                    elapsed * 1000,
                )
        if after is not None:
            after()

    def _dispatch(self, method: str, route: str, body: bytes) -> tuple[int, Any]:
        sample = self.sample
        if route == "/metrics":
            self._send(200, generate_latest(sample.metrics.registry), CONTENT_TYPE_LATEST)
            return 200, None
        if route == "/healthz":
            self._send(200, "ok\n")
            return 200, None
        if route == "/_fault":
            return self._fault(method, body)
        if route == "/_info":
            info = {"app": sample.app, "index": sample.index, "pid": os.getpid(), "version": sample.version}
            info["faults"] = [f.to_json(sample.faults.clock()) for f in sample.faults.all_active()]
            self._send(200, info)
            return 200, None
        if route not in _BUSINESS or (method == "POST") != (route == "/api/orders"):
            self._send(404, {"error": f"no route {method} {self.path}"})
            return 404, None
        latency = sample.faults.active("latency")
        if latency is not None:
            time.sleep(latency.delay_ms / 1000)
        errors = sample.faults.active("errors")
        if errors is not None and random.random() < errors.rate:  # noqa: S311 -- not cryptography
            sample.metrics.errors.labels(route, "injected").inc()
            self._send(500, {"error": "injected failure", "instance": sample.index})
            return 500, None
        return self._business(route)

    def _business(self, route: str) -> tuple[int, Any]:
        sample = self.sample
        if route == "/":
            self._send(200, f"Hello from {sample.app} instance {sample.index} (v{sample.version})\n")
        elif route == "/api/items":
            self._send(200, [{"id": i, "name": f"item-{i}", "price": 3 + i % 17} for i in range(20)])
        elif route == "/api/items/{id}":
            item_id = int(self.path.split("?")[0].rsplit("/", 1)[1])
            if item_id >= 1000:
                self._send(404, {"error": f"no item {item_id}"})
                return 404, None
            self._send(200, {"id": item_id, "name": f"item-{item_id}", "price": 3 + item_id % 17})
        else:
            self._send(201, {"order": random.randrange(1 << 30), "status": "accepted"})  # noqa: S311
            return 201, None
        return 200, None

    def _fault(self, method: str, body: bytes) -> tuple[int, Any]:
        faults = self.sample.faults
        if method == "GET":
            self._send(200, [f.to_json(faults.clock()) for f in faults.all_active()])
            return 200, None
        if method == "DELETE":
            faults.clear()
            log.info("faults cleared")
            self._send(200, {"cleared": True})
            return 200, None
        try:
            fault = parse_fault(json.loads(body or b"null"), faults.clock())
        except (ValueError, FaultRequestError) as exc:
            self._send(400, {"error": str(exc)})
            return 400, None
        log.warning(
            "fault injected: kind=%s rate=%g delay_ms=%d for_s=%s",
            fault.kind,
            fault.rate,
            fault.delay_ms,
            "-" if fault.until is None else f"{fault.until - faults.clock():g}",
        )
        reply = {
            "injected": fault.to_json(faults.clock()),
            "app": self.sample.app,
            "index": self.sample.index,
        }
        if fault.kind == "crash":
            self._send(202, reply)
            self.wfile.flush()
            log.warning("crash fault: exiting with status 1")
            return 202, lambda: os._exit(1)
        self._send(202, reply)
        # hang starts after the reply is sent, so the caller learns that it worked
        return 202, lambda: faults.set(fault)
