"""Synthetic platform series in a MemoryStore and an in-process server (query API + dashboard) on a free
port: for the browser tests and bench/ui.py."""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from dashboard import Sources, dashboard_router
from metrics_store.api import query_router
from metrics_store.memory import MemoryStore
from metrics_store.model import labels_from
from paramedic.dashboard import PromqlMetricsReader
from tests.support.servers import free_port, wait_until

__all__ = ["fill", "serve_in_thread"]


def fill(
    store: MemoryStore,
    *,
    apps: int,
    instances: int,
    hours: float,
    step_s: int = 15,
    end_s: float | None = None,
) -> int:
    """``apps`` apps x ``instances`` instances of router, request, latency, memory and CPU series, one sample
    every ``step_s`` for ``hours`` up to ``end_s`` (now). Returns the number of samples written."""
    end = int(end_s if end_s is not None else time.time())
    n = int(hours * 3600 // step_s)
    times = [(end - (n - 1 - i) * step_s) * 1000 for i in range(n)]
    written = 0
    for a in range(apps):
        app = f"app-{a:02d}"
        series: list[tuple[dict[str, str], list[float]]] = []
        for code, share in (("2xx", 0.97), ("5xx", 0.03)):
            series.append(
                (
                    {"__name__": "haproxy_backend_http_responses_total", "app": app, "code": code},
                    _counter(n, 20 * share * step_s),
                )
            )
        for i in range(instances):
            inst = {"app": app, "app_instance": str(i), "job": "app", "instance": f"10.0.0.{i}:8080"}
            series.append(({"__name__": "up", **inst}, [1.0] * n))
            series.append(
                ({"__name__": "http_requests_total", **inst, "code": "200"}, _counter(n, 5 * step_s))
            )
            series.append(
                ({"__name__": "http_requests_total", **inst, "code": "500"}, _counter(n, 0.1 * step_s))
            )
            series.append(
                (
                    {"__name__": "process_resident_memory_bytes", **inst},
                    [50e6 + 5e6 * math.sin(k / 30 + i) for k in range(n)],
                )
            )
            series.append(({"__name__": "process_cpu_seconds_total", **inst}, _counter(n, 0.05 * step_s)))
            for le, frac in (("0.05", 0.6), ("0.1", 0.85), ("0.5", 0.99), ("+Inf", 1.0)):
                series.append(
                    (
                        {"__name__": "http_request_duration_seconds_bucket", **inst, "le": le},
                        _counter(n, 5 * frac * step_s),
                    )
                )
        for labels, values in series:
            ref = store.series_ref(labels_from(labels))
            store.append([ref] * n, times, values)
            written += n
    for name, value in (("node_memory_MemTotal_bytes", 16e9), ("node_memory_MemAvailable_bytes", 9e9)):
        ref = store.series_ref(labels_from({"__name__": name, "job": "node"}))
        store.append([ref] * n, times, [value] * n)
    return written


def _counter(n: int, per_step: float) -> list[float]:
    out, total = [], 0.0
    for k in range(n):  # monotonic: a counter
        total += per_step * (1 + 0.5 * math.sin(k / 40))
        out.append(total)
    return out


@contextlib.contextmanager
def serve_in_thread(store: MemoryStore, sources: Sources | None = None) -> Iterator[str]:
    """Serve the query API and the dashboard over ``store`` on 127.0.0.1; yields the base URL."""
    app = FastAPI()
    app.include_router(query_router(store, registry=CollectorRegistry()))
    app.include_router(dashboard_router(sources or Sources(metrics=PromqlMetricsReader(store))))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, name="dashboard-test-server", daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started, 20, "the dashboard test server")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
