"""gorouter's metrics, derived from the real HAProxy router (source_id ``gorouter``, and ``http`` per app).

Every ``sample(now)`` takes the requests the router logged since the last call (:mod:`.gorouter_access`)
and HAProxy's runtime state (``show info``, ``show stat``), and emits Log Cache points named as gorouter's
envelopes (routing-release indicators, docs/04-observability.md), ``.`` → ``_``:

* per request: ``latency`` (gauge, ms, source_id ``gorouter``) and, when the backend is a CF app's local app,
  the ``http`` timer (source_id = app GUID, tags ``instance_id``, ``status_code``, ``method``; value = the
  duration in ns, HAProxy's ``Ta``);
* counters (running totals): ``total_requests``, ``responses_2xx`` .. ``responses_5xx`` (the
  status HAProxy answered), ``bad_gateways`` (502s, and HAProxy's 503s after the backend refused or dropped
  the connection, termination ``SC``/``SH``, which gorouter answers with 502), ``backend_exhausted_conns``
  (503 after waiting in the queue for a server below its maxconn, termination ``sQ``),
  ``rejected_requests`` (400 for a request HAProxy could not parse);
* gauges: ``total_routes`` (backends with at least one server), ``file_descriptors`` (HAProxy's open fds,
  from /proc), ``ms_since_last_registry_update`` (the simulated route-emitter re-registers every
  ``registration_interval_s`` = 20 s while the router answers; ``pause_route_emitter()`` stops it).

A router that does not answer emits no gauges or counters (a dead gorouter is silent), only the requests it
logged before. Component tags: ``deployment``, ``job=router``, ``index`` (a stable GUID), ``origin``.
:meth:`GorouterProducer.totals` feeds the Prometheus exporter (:mod:`.gorouter_exporter`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from platforms.cf_sim.foundation import Foundation, guid_for
from platforms.cf_sim.gorouter_access import RouterAccessTap, RouterRequest
from platforms.cf_sim.log_cache_store import Point
from platforms.local import LocalPlatform
from platforms.local.errors import LocalPlatformError

__all__ = ["LATENCY_BUCKETS_MS", "GorouterProducer", "GorouterTotals"]

LATENCY_BUCKETS_MS = (1, 2, 4, 6, 8, 10, 20, 40, 50, 100, 500, 1000)  # gorouter's latency histogram
_COUNTERS = (
    "total_requests",
    "responses_2xx",
    "responses_3xx",
    "responses_4xx",
    "responses_5xx",
    "responses_xxx",
    "bad_gateways",
    "backend_exhausted_conns",
    "rejected_requests",
)


@dataclass(slots=True)
class GorouterTotals:
    """Running totals since start (what gorouter's Prometheus endpoint exposes)."""

    counters: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_COUNTERS, 0))
    routed_requests: int = 0
    latency_buckets: list[int] = field(default_factory=lambda: [0] * len(LATENCY_BUCKETS_MS))
    latency_sum_ms: float = 0.0
    latency_count: int = 0
    registrations: int = 0
    total_routes: int = 0
    ms_since_last_registry_update: float = 0.0


def _status_group(status: int) -> str:
    return f"responses_{status // 100}xx" if 200 <= status < 600 else "responses_xxx"


class GorouterProducer:
    def __init__(
        self,
        foundation: Foundation,
        platform: LocalPlatform,
        tap: RouterAccessTap,
        *,
        deployment: str = "cf",
        registration_interval_s: float = 20.0,
    ) -> None:
        self.foundation = foundation
        self.platform = platform
        self.tap = tap
        self.registration_interval_s = registration_interval_s
        self.tags = {
            "deployment": deployment,
            "job": "router",
            "index": guid_for("vm", "router", "0"),
            "origin": "gorouter",
            "ip": "127.0.0.1",
        }
        self._emitter = {**self.tags, "job": "diego-cell", "origin": "route_emitter"}
        self._totals = GorouterTotals()
        self._last_registration: float | None = None
        self._paused = False
        self._lock = threading.Lock()

    def pause_route_emitter(self, paused: bool = True) -> None:
        """Stop (or resume) the simulated route-emitter's registrations: ``ms_since_last_registry_update``
        then grows, as when NATS or the route-emitter fails."""
        self._paused = paused

    def totals(self) -> GorouterTotals:
        with self._lock:
            t = self._totals
            return GorouterTotals(
                dict(t.counters),
                t.routed_requests,
                list(t.latency_buckets),
                t.latency_sum_ms,
                t.latency_count,
                t.registrations,
                t.total_routes,
                t.ms_since_last_registry_update,
            )

    def _count(self, r: RouterRequest) -> None:
        c = self._totals.counters
        c["total_requests"] += 1
        c[_status_group(r.status)] += 1
        if r.status == 502 or (r.status == 503 and r.termination[:2] in ("SC", "SH")):
            c["bad_gateways"] += 1  # gorouter answers 502 when the backend refuses/drops the connection
        if r.status == 503 and r.termination[:2] == "sQ":
            c["backend_exhausted_conns"] += 1
        if r.status == 400 and r.termination[:1] == "P":
            c["rejected_requests"] += 1
        if r.backend != "no_route":
            self._totals.routed_requests += 1
        for i, bound in enumerate(LATENCY_BUCKETS_MS):
            if r.duration_ms <= bound:
                self._totals.latency_buckets[i] += 1
        self._totals.latency_sum_ms += r.duration_ms
        self._totals.latency_count += 1

    def _request_points(self, r: RouterRequest) -> list[Point]:
        points = [Point("gorouter", "latency", float(r.duration_ms), r.time_s, self.tags, unit="ms")]
        app = self.foundation.app_by_local(r.backend)
        index = r.instance_index
        if app is not None and index is not None:
            tags = {
                "instance_id": index,
                "status_code": str(r.status),
                "method": r.method,
                "app_id": app.guid,
                "app_name": app.name,
                "organization_name": app.org,
                "space_name": app.space,
                "process_type": "web",
                "origin": "gorouter",
            }
            points.append(
                Point(app.guid, "http", r.duration_ms * 1e6, r.time_s, tags, kind="timer", unit="ns")
            )
        return points

    def _router_state(self) -> tuple[int, int] | None:
        """(open fds of HAProxy, routes) or None when the router does not answer."""
        try:
            info = self.platform.router.command("show info")
            servers = self.platform.router.servers()
        except LocalPlatformError:
            return None
        pid = next(
            (line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("Pid:")), ""
        )
        try:
            fds = sum(1 for _ in Path(f"/proc/{int(pid)}/fd").iterdir())
        except (ValueError, OSError):
            fds = 0
        routes = len({s.backend for s in servers if s.backend != "no_route"})
        return fds, routes

    def sample(self, now: float) -> list[Point]:
        requests = self.tap.drain()
        state = self._router_state()
        points: list[Point] = []
        with self._lock:
            for r in requests:
                self._count(r)
                points += self._request_points(r)
            if state is None:
                return points
            fds, routes = state
            due = (
                self._last_registration is None
                or now - self._last_registration >= self.registration_interval_s
            )
            if due and not self._paused:
                self._last_registration = now
                self._totals.registrations += routes
            since_ms = (now - self._last_registration) * 1000 if self._last_registration is not None else 0.0
            self._totals.total_routes = routes
            self._totals.ms_since_last_registry_update = since_ms
            for name, value in self._totals.counters.items():
                points.append(Point("gorouter", name, float(value), now, self.tags, kind="counter"))
            # the simulated route-emitter's registrations: sent (its counter) and received (gorouter's)
            sent = float(self._totals.registrations)
            points += [
                Point(
                    "route_emitter", "HTTPRouteNATSMessagesEmitted", sent, now, self._emitter, kind="counter"
                ),
                Point("gorouter", "registry_message_route_emitter", sent, now, self.tags, kind="counter"),
            ]
        points += [
            Point("gorouter", "total_routes", float(routes), now, self.tags),
            Point("gorouter", "file_descriptors", float(fds), now, self.tags),
            Point("gorouter", "ms_since_last_registry_update", since_ms, now, self.tags, unit="ms"),
        ]
        return points
