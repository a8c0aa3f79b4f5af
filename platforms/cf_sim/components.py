"""Platform component KPIs (Cloud Controller, UAA, Loggregator, syslog drains, Log Cache, BOSH) for Log Cache.

Names follow the PCF KPI pages (``origin.name``), mapped to Log Cache as the naming contract says: source_id
from the origin, ``.`` → ``_`` (``cc.requests.outstanding`` → ``requests_outstanding{source_id=
"cloud_controller"}``, ``loggregator.doppler.dropped`` → ``dropped{source_id="doppler"}``,
``system.healthy`` → ``system_healthy{source_id="bosh-system-metrics-forwarder",job,index,deployment}``).

Real values where the simulator has them: Log Cache's own ``ingress``/``expired``/``cache_period`` (the
envelope store), the syslog agent's ``egress``/``dropped``/``drains`` (the drain writer's counters, via
``drain_stats``), BOSH ``system_healthy`` of the router and cell VMs (``vm_health``: does HAProxy /
supervisord answer), ``system_cpu_user`` (the user CPU share since the previous sample, /proc/stat),
``system_mem_percent`` and ``system_disk_*_percent`` (this host's, the same for every VM: they all run here).
Everything else is a small model: a healthy baseline per
knob (:data:`KNOBS`) that tests and the demo turn with :meth:`ComponentModel.degrade` (e.g.
``degrade("doppler_dropped", 50.0)``: 50 envelopes/s dropped) and :meth:`ComponentModel.restore`; rate
knobs (``*_rate``/``*_dropped``, per second) accumulate into counters between samples.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from platforms.cf_sim.foundation import guid_for
from platforms.cf_sim.log_cache_store import EnvelopeStore, Point

__all__ = ["KNOBS", "VMS", "ComponentModel", "DrainStats"]

# knob -> healthy baseline; "*_rate" and "*_dropped" knobs are per second and feed counters
KNOBS: Mapping[str, float] = {
    "cc_requests_outstanding": 2.0,
    "cc_job_queue_length": 0.0,
    "cc_requests_rate": 5.0,
    "cc_5xx_rate": 0.0,
    "uaa_inflight": 1.0,
    "uaa_requests_rate": 2.0,
    "uaa_5xx_rate": 0.0,
    "uaa_latency_ms": 25.0,
    "doppler_ingress_rate": 400.0,
    "doppler_dropped": 0.0,
    "rlp_dropped": 0.0,
    "syslog_agent_dropped": 0.0,
    "trafficcontroller_slow_consumer_rate": 0.0,
}
# BOSH VMs of the simulated foundation: (job, count); diego-cell gets the configured number of cells
VMS = (("router", 1), ("api", 1), ("uaa", 1), ("doppler", 1), ("log-cache", 1), ("scheduler", 1))


@dataclass(frozen=True, slots=True)
class DrainStats:
    egress: int
    dropped: int
    drains: int


def _cpu_jiffies() -> tuple[float, float] | None:
    """(user + nice, total) jiffies of all CPUs from /proc/stat; None when it cannot be read."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
        values = [float(f) for f in fields]
    except (OSError, ValueError, IndexError):
        return None
    return values[0] + values[1], sum(values)


class _CpuUser:
    """``system.cpu.user`` as BOSH reports it: the share of CPU time spent in user space since the previous
    sample (from /proc/stat deltas), not the load average."""

    def __init__(self) -> None:
        self._last = _cpu_jiffies()

    def percent(self) -> float:
        now = _cpu_jiffies()
        last, self._last = self._last, now
        if now is None or last is None or now[1] <= last[1]:
            return 0.0
        return min(100.0, 100.0 * (now[0] - last[0]) / (now[1] - last[1]))


def _host_vitals() -> dict[str, float]:
    mem: dict[str, int] = {}
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            key, _, rest = line.partition(":")
            mem[key] = int(rest.split()[0])
    except (OSError, ValueError, IndexError):
        pass
    total, avail = mem.get("MemTotal", 0), mem.get("MemAvailable", 0)
    disk = shutil.disk_usage("/")
    return {
        "system_mem_percent": (total - avail) / total * 100 if total else 0.0,
        "system_disk_system_percent": disk.used / disk.total * 100 if disk.total else 0.0,
        # one disk here: BOSH VMs' ephemeral and persistent disks are both this machine's root file system
        "system_disk_ephemeral_percent": disk.used / disk.total * 100 if disk.total else 0.0,
        "system_disk_persistent_percent": disk.used / disk.total * 100 if disk.total else 0.0,
    }


class ComponentModel:
    """Points for the platform components; thread-safe knobs."""

    def __init__(
        self,
        envelopes: EnvelopeStore,
        *,
        cells: int = 2,
        drain_stats: Callable[[], DrainStats] | None = None,
        vm_health: Mapping[str, Callable[[], bool]] | None = None,
        deployment: str = "cf",
    ) -> None:
        self.envelopes = envelopes
        self.drain_stats = drain_stats
        self.vm_health = dict(vm_health or {})
        self.deployment = deployment
        self.vms = [*VMS, ("diego-cell", cells)]
        self._knobs = dict(KNOBS)
        self._unhealthy: set[tuple[str, int]] = set()
        self._totals: dict[str, float] = {}
        self._last: float | None = None
        self._lock = threading.Lock()
        self._cpu = _CpuUser()

    def degrade(self, knob: str, value: float) -> None:
        """Set ``knob`` (see :data:`KNOBS`) to ``value``; ``ValueError`` names the known knobs."""
        if knob not in KNOBS:
            raise ValueError(f"unknown knob {knob!r}; known: {', '.join(sorted(KNOBS))}")
        with self._lock:
            self._knobs[knob] = float(value)

    def restore(self, knob: str | None = None) -> None:
        """Back to the healthy baseline (one knob, or every knob and VM)."""
        with self._lock:
            if knob is None:
                self._knobs = dict(KNOBS)
                self._unhealthy.clear()
            else:
                self._knobs[knob] = KNOBS[knob]

    def set_vm_health(self, job: str, index: int, healthy: bool) -> None:
        """Force ``system_healthy`` of VM ``job/index`` to 0 (or back to its real/baseline value)."""
        with self._lock:
            (self._unhealthy.discard if healthy else self._unhealthy.add)((job, index))

    def _tags(self, job: str, origin: str, **extra: str) -> dict[str, str]:
        return {
            "deployment": self.deployment,
            "job": job,
            "index": guid_for("vm", job, "0"),
            "origin": origin,
            **extra,
        }

    def _counter(self, key: str, rate: float, dt: float) -> float:
        self._totals[key] = self._totals.get(key, 0.0) + rate * dt
        return float(int(self._totals[key]))

    def _modelled(self, now: float, dt: float) -> list[Point]:
        k = self._knobs
        cc, uaa = self._tags("api", "cc"), self._tags("uaa", "uaa")
        dop, rlp = self._tags("doppler", "loggregator.doppler"), self._tags("log-api", "loggregator.rlp")
        tc = self._tags("log-api", "loggregator.trafficcontroller")
        ingress = k["doppler_ingress_rate"]
        gauges = [
            Point("cloud_controller", "requests_outstanding", k["cc_requests_outstanding"], now, cc),
            Point("cloud_controller", "job_queue_length_total", k["cc_job_queue_length"], now, cc),
            Point("uaa", "server_inflight_count", k["uaa_inflight"], now, uaa),
            Point("uaa", "requests_global_completed_time", k["uaa_latency_ms"], now, uaa, unit="ms"),
            # gorouter's per-request latency of the UAA route (one point per sample stands for its requests)
            Point("gorouter", "latency_uaa", k["uaa_latency_ms"], now, self._tags("router", "gorouter")),
            Point("doppler", "subscriptions", 2.0, now, dop),
        ]
        counters = [
            ("cloud_controller", "requests_completed", k["cc_requests_rate"], cc),
            ("cloud_controller", "http_status_5XX", k["cc_5xx_rate"], cc),
            ("uaa", "requests_global_completed_count", k["uaa_requests_rate"], uaa),
            ("uaa", "requests_global_status_5xx_count", k["uaa_5xx_rate"], uaa),
            ("doppler", "ingress", ingress, dop),
            ("doppler", "dropped", k["doppler_dropped"], {**dop, "direction": "ingress"}),
            ("doppler", "egress", max(0.0, ingress - k["doppler_dropped"]), dop),
            ("reverse_log_proxy", "ingress", ingress, rlp),
            ("reverse_log_proxy", "dropped", k["rlp_dropped"], {**rlp, "direction": "egress"}),
            (
                "loggregator_trafficcontroller",
                "doppler_proxy_slow_consumer",
                k["trafficcontroller_slow_consumer_rate"],
                tc,
            ),
            ("syslog_agent", "ingress", ingress, self._tags("diego-cell", "loggregator.syslog_agent")),
        ]
        points = gauges
        for sid, name, rate, tags in counters:
            points.append(
                Point(sid, name, self._counter(f"{sid}/{name}", rate, dt), now, tags, kind="counter")
            )
        return points

    def _real(self, now: float) -> list[Point]:
        lc = self._tags("log-cache", "log_cache")
        oldest = self.envelopes.oldest_s()
        points = [
            Point("log-cache", "ingress", float(self.envelopes.stored_total), now, lc, kind="counter"),
            Point("log-cache", "expired", float(self.envelopes.expired_total), now, lc, kind="counter"),
            Point("log-cache", "cache_period", (now - oldest) * 1000 if oldest else 0.0, now, lc, unit="ms"),
        ]
        if self.drain_stats is not None:
            d = self.drain_stats()
            agent = self._tags("diego-cell", "loggregator.syslog_agent")
            adapter = self._tags("syslog-adapter", "cf-syslog-drain")
            dropped_model = self._counter("syslog_agent/dropped", self._knobs["syslog_agent_dropped"], 0.0)
            points += [
                Point("syslog_agent", "egress", float(d.egress), now, agent, kind="counter"),
                Point(
                    "syslog_agent",
                    "dropped",
                    float(d.dropped) + dropped_model,
                    now,
                    {**agent, "direction": "egress"},
                    kind="counter",
                ),
                Point("syslog_agent", "drains", float(d.drains), now, agent),
                Point("syslog_drain_adapter", "drain_bindings", float(d.drains), now, adapter),
            ]
        return points

    def _bosh(self, now: float) -> list[Point]:
        vitals = {"system_cpu_user": self._cpu.percent(), **_host_vitals()}
        points = []
        for job, count in self.vms:
            probe = self.vm_health.get(job)
            for index in range(count):
                healthy = (probe() if probe else True) and (job, index) not in self._unhealthy
                tags = {
                    "deployment": self.deployment,
                    "job": job,
                    "index": str(index),
                    "id": guid_for("vm", job, str(index)),
                }
                sid = "bosh-system-metrics-forwarder"
                points.append(Point(sid, "system_healthy", 1.0 if healthy else 0.0, now, tags))
                points += [
                    Point(sid, name, value, now, tags, unit="Percent") for name, value in vitals.items()
                ]
        return points

    def sample(self, now: float) -> list[Point]:
        with self._lock:
            dt = 0.0 if self._last is None else max(0.0, now - self._last)
            self._last = now
            if "syslog_agent/dropped" in self._totals or self._knobs["syslog_agent_dropped"]:
                self._counter("syslog_agent/dropped", self._knobs["syslog_agent_dropped"], dt)
            return [*self._modelled(now, dt), *self._real(now), *self._bosh(now)]
