"""``start_metrics``: the simulated foundation's whole metrics side, started over a running local platform.

::

    metrics = start_metrics(local_platform, foundation, work_dir=d, verify_token=uaa.verify, registry=reg,
                            config=CFMetricsConfig(drains=(DrainBinding(app.guid, "syslog://127.0.0.1:5514"),)))
    metrics.log_cache_url          # http://127.0.0.1:<port>  (Log Cache API: /api/v1/query, ...)
    metrics.gorouter_metrics_url   # http://127.0.0.1:<port>/metrics  (gorouter's Prometheus names)
    metrics.components.degrade("doppler_dropped", 50.0)
    metrics.stop()

Start order: VictoriaMetrics (the PromQL engine) → router access tap (binds the platform's
``router-log.sock``; when the platform's rsyslog owns it, relays to it, see :mod:`.gorouter_access`; if even
that fails ``router_tap_bound`` is False and there is no per-request data) → drain writer → collector loop
→ gorouter exporter → Log Cache API (uvicorn in a thread).
``stop()`` goes in reverse and is idempotent.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from platforms.cf_sim.components import ComponentModel
from platforms.cf_sim.foundation import Foundation
from platforms.cf_sim.gorouter import GorouterProducer
from platforms.cf_sim.gorouter_access import RouterAccessTap
from platforms.cf_sim.gorouter_exporter import GorouterExporter
from platforms.cf_sim.log_cache import LogCache, create_log_cache_app
from platforms.cf_sim.log_cache_collector import MetricsCollector
from platforms.cf_sim.log_cache_promql import VictoriaMetricsEngine
from platforms.cf_sim.log_cache_store import EnvelopeStore
from platforms.cf_sim.rep import DiegoConfig, DiegoProducer
from platforms.cf_sim.syslog_drain import DrainBinding, SyslogDrainWriter
from platforms.local import LocalPlatform
from platforms.local.errors import LocalPlatformError

__all__ = ["CFMetrics", "CFMetricsConfig", "serve_app", "start_metrics"]

log = logging.getLogger("platforms.cf_sim.metrics")


@dataclass
class CFMetrics:
    log_cache_url: str
    gorouter_metrics_url: str
    app: FastAPI
    cache: LogCache
    gorouter: GorouterProducer
    diego: DiegoProducer
    components: ComponentModel
    drains: SyslogDrainWriter
    collector: MetricsCollector
    router_tap_bound: bool
    _stops: list[Callable[[], None]] = field(default_factory=list)

    def stop(self) -> None:
        while self._stops:
            try:
                self._stops.pop()()
            except Exception as exc:  # keep stopping the rest; logged
                log.warning("cf_sim metrics: stop failed: %s", exc)


def serve_app(app: FastAPI, port: int = 0, timeout_s: float = 10.0) -> tuple[str, Callable[[], None]]:
    """Serve ``app`` on 127.0.0.1 from a thread; returns its base URL and a stop function."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="cf-sim-log-cache", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the Log Cache API did not start")
        time.sleep(0.02)

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()

    return f"http://127.0.0.1:{sock.getsockname()[1]}", stop


def _vm_health(platform: LocalPlatform) -> dict[str, Callable[[], bool]]:
    def router_up() -> bool:
        try:
            platform.router.command("show info")
        except LocalPlatformError:
            return False
        return True

    def cells_up() -> bool:
        try:
            return platform.supervisor.state() == "RUNNING"
        except LocalPlatformError:
            return False

    return {"router": router_up, "diego-cell": cells_up}


@dataclass(frozen=True, slots=True)
class CFMetricsConfig:
    """Options of :func:`start_metrics`; ``ValueError`` names a bad key."""

    drains: tuple[DrainBinding, ...] = ()
    diego: DiegoConfig = field(default_factory=DiegoConfig)
    interval_s: float = 1.0
    max_per_source: int = 100_000
    log_cache_port: int = 0
    gorouter_port: int = 0

    def __post_init__(self) -> None:
        if self.interval_s <= 0:
            raise ValueError(f"cf_sim metrics config: interval_s: must be > 0, got {self.interval_s}")
        if self.max_per_source < 1:
            raise ValueError(
                f"cf_sim metrics config: max_per_source: must be >= 1, got {self.max_per_source}"
            )
        for key in ("log_cache_port", "gorouter_port"):
            if not 0 <= getattr(self, key) <= 65535:
                raise ValueError(f"cf_sim metrics config: {key}: not a port: {getattr(self, key)}")


def start_metrics(
    platform: LocalPlatform,
    foundation: Foundation,
    *,
    work_dir: Path,
    verify_token: Callable[[str], bool],
    registry: CollectorRegistry,
    config: CFMetricsConfig | None = None,
) -> CFMetrics:
    """Start everything (see the module doc); ``stop()`` the result when done."""
    cfg = config or CFMetricsConfig()
    stops: list[Callable[[], None]] = []
    try:
        engine = VictoriaMetricsEngine(work_dir / "log-cache-vm")
        engine.start()
        stops.append(engine.stop)
        cache = LogCache(EnvelopeStore(max_per_source=cfg.max_per_source, registry=registry), engine)
        tap = RouterAccessTap(platform.paths.router_log_sock, registry=registry, relay=True)
        try:
            tap.start()
            stops.append(tap.stop)
            bound = True
        except OSError as exc:
            log.warning("cf_sim: no per-request router data: %s", exc)
            bound = False
        writer = SyslogDrainWriter(
            foundation, platform.paths.app_logs_dir, list(cfg.drains), registry=registry
        )
        tap.add_listener(writer.on_request)
        writer.start()
        stops.append(writer.stop)
        gorouter = GorouterProducer(foundation, platform, tap, deployment=cfg.diego.deployment)
        diego_producer = DiegoProducer(foundation, platform, cfg.diego)
        components = ComponentModel(
            cache.envelopes, cells=cfg.diego.cells, drain_stats=writer.stats, vm_health=_vm_health(platform)
        )
        collector = MetricsCollector(
            [("gorouter", gorouter), ("diego", diego_producer), ("components", components)],
            cache,
            interval_s=cfg.interval_s,
            registry=registry,
        )
        collector.start()
        stops.append(collector.stop)
        exporter = GorouterExporter(gorouter, cfg.gorouter_port)
        exporter.start()
        stops.append(exporter.stop)
        app = create_log_cache_app(cache, verify_token=verify_token, registry=registry)
        url, stop_app = serve_app(app, cfg.log_cache_port)
        stops.append(stop_app)
    except BaseException:
        while stops:
            stops.pop()()
        raise
    return CFMetrics(
        url, exporter.url, app, cache, gorouter, diego_producer, components, writer, collector, bound, stops
    )
