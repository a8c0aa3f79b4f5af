"""Diego's metrics (rep, bbs, auctioneer, route_emitter, locket), derived from the local platform's state.

Cells are a configured model (:class:`DiegoConfig`: ``cells`` cells of ``cell_memory_mb``/``cell_disk_mb``/
``cell_containers`` each, every instance allocated ``instance_memory_mb``/``instance_disk_mb``); what runs
on them is real: every desired instance of the local platform (state.json) is an LRP, placed by a simulated
auction on the cell with the most free memory that fits it. Placement is sticky; an instance that fits
nowhere stays UNCLAIMED and is retried every sample. From supervisord's process states:

* bbs: ``LRPsDesired``, ``LRPsRunning`` (placed and RUNNING), ``LRPsClaimed`` (placed, STARTING),
  ``LRPsUnclaimed`` (not placed), ``LRPsMissing`` (desired, placed, no process: ABSENT/STOPPED),
  ``LRPsExtra`` (processes supervisord runs that no desired instance names), ``CrashedActualLRPs``
  (EXITED/FATAL/BACKOFF, or restarted after an unexpected exit less than ``crash_hold_s`` ago, learned
  from supervisord's log by :class:`.rep_crashes.CrashLog`: Diego shows an instance CRASHED until it
  restarts, supervisord restarts it at once), ``CrashingDesiredLRPs``,
  ``Domain_cf_apps`` (1), ``PresentCells``, ``LockHeld``, ``BBSMasterElected`` (once, on the first sample),
  ``ConvergenceLRPDuration`` and ``RequestLatency`` (ns, measured: the pass and its supervisord call);
* rep, per cell (tag ``index`` = the cell's GUID): ``CapacityTotal/Remaining/AllocatedMemory`` and ``..Disk``
  (MiB), ``CapacityTotal/RemainingContainers``, ``ContainerCount``, ``RepBulkSyncDuration`` (ns, measured),
  ``CellUnhealthy`` and ``GardenHealthCheckFailed`` (1 while supervisord does not answer),
  ``AppInstanceExceededLogRateLimitCount`` (0: no log rate limits here);
* auctioneer: ``AuctioneerLRPAuctionsStarted``/``Failed`` (counters: placements, first failures of an
  instance), ``AuctioneerTaskAuctionsStarted``/``Failed`` (0: no tasks), ``AuctioneerFetchStatesDuration``
  (ns, measured), ``LockHeld``;
* route_emitter: ``RouteEmitterSyncDuration`` (ns), ``HTTPRouteCount`` and ``RoutesTotal`` (running
  instances); locket: ``ActiveLocks``, ``ActivePresences`` (healthy cells);
* app container metrics (:mod:`.rep_containers`) for placed running instances of CF apps.

Names and units: diego-release docs/010-metrics.md (there the cell health gauge is ``CellUnhealthy``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from platforms.cf_sim.foundation import Foundation, guid_for
from platforms.cf_sim.log_cache_store import Point
from platforms.cf_sim.rep_containers import ContainerSampler, ContainerSpec
from platforms.cf_sim.rep_crashes import CrashLog
from platforms.local import LocalPlatform
from platforms.local.errors import LocalPlatformError
from platforms.local.supervisor_config import program_name

__all__ = ["DiegoConfig", "DiegoProducer"]

# supervisord restarts a crashed instance at once; one that crashed (supervisord's log says "exited: ...
# not expected") less than ``crash_hold_s`` ago still counts as crashed ("CRASHED_RESTARTED"), as Diego
# shows it CRASHED until its restart, so that a 30 s poll sees the crash.
_CRASHED = {"EXITED", "FATAL", "BACKOFF", "CRASHED_RESTARTED"}
_NO_PROCESS = {"ABSENT", "STOPPED", "UNKNOWN"}
Key = tuple[str, int]


@dataclass(frozen=True, slots=True)
class DiegoConfig:
    """The simulated cells' capacity and each instance's allocation; ``ValueError`` names a bad key."""

    cells: int = 2
    cell_memory_mb: int = 4096
    cell_disk_mb: int = 16384
    cell_containers: int = 16
    instance_memory_mb: int = 256
    instance_disk_mb: int = 1024
    deployment: str = "cf"
    crash_hold_s: float = 30.0

    def __post_init__(self) -> None:
        for key in ("cells", "cell_memory_mb", "cell_disk_mb", "cell_containers"):
            if getattr(self, key) < 1:
                raise ValueError(f"cf_sim diego config: {key}: must be >= 1, got {getattr(self, key)}")
        for key in ("instance_memory_mb", "instance_disk_mb", "crash_hold_s"):
            if getattr(self, key) < 0:
                raise ValueError(f"cf_sim diego config: {key}: must be >= 0, got {getattr(self, key)}")


@dataclass(frozen=True, slots=True)
class _Observed:
    desired: list[Key]
    states: dict[Key, str]
    pids: dict[Key, int]
    extra: int
    call_ns: int


class DiegoProducer:
    def __init__(
        self, foundation: Foundation, platform: LocalPlatform, config: DiegoConfig | None = None
    ) -> None:
        self.foundation = foundation
        self.platform = platform
        self.config = config or DiegoConfig()
        self.cell_ids = [guid_for("vm", "diego-cell", str(i)) for i in range(self.config.cells)]
        self.placement: dict[Key, int] = {}
        self._failed: set[Key] = set()
        self.auctions_started = 0
        self.auctions_failed = 0
        self._containers = ContainerSampler()
        self._elected = False
        self._crash_log = CrashLog(platform.paths.logs_dir / "supervisord.log")

    def _tags(self, job: str, origin: str, index: str = "0") -> dict[str, str]:
        return {"deployment": self.config.deployment, "job": job, "index": index, "origin": origin}

    def _observe(self) -> _Observed:
        started = time.perf_counter_ns()
        state = self.platform.state()
        infos = self.platform.supervisor.processes()
        crashed_at = self._crash_log.crashes()
        hold = time.time() - self.config.crash_hold_s
        procs = {
            str(p["name"]): "CRASHED_RESTARTED"
            if p.get("statename") in ("RUNNING", "STARTING") and crashed_at.get(str(p["name"]), 0.0) > hold
            else str(p["statename"])
            for p in infos
        }
        pid_of = {str(p["name"]): int(p.get("pid") or 0) for p in infos}
        call_ns = time.perf_counter_ns() - started
        desired = [(a.name, i.index) for a in state.apps for i in a.instances]
        names = {program_name(app, index): (app, index) for app, index in desired}
        states = {key: procs.get(name, "ABSENT") for name, key in names.items()}
        pids = {key: pid_of.get(name, 0) for name, key in names.items()}
        extra = sum(1 for name, s in procs.items() if name not in names and s == "RUNNING")
        return _Observed(desired, states, pids, extra, call_ns)

    def _free(self) -> list[list[int]]:
        c = self.config
        free = [[c.cell_memory_mb, c.cell_disk_mb, c.cell_containers] for _ in self.cell_ids]
        for cell in self.placement.values():
            free[cell][0] -= c.instance_memory_mb
            free[cell][1] -= c.instance_disk_mb
            free[cell][2] -= 1
        return free

    def _auction(self, desired: list[Key]) -> None:
        wanted = set(desired)
        for key in [k for k in self.placement if k not in wanted]:
            del self.placement[key]
        self._failed &= wanted
        c = self.config
        free = self._free()
        for key in sorted(k for k in desired if k not in self.placement):
            fits = [
                i
                for i, f in enumerate(free)
                if f[0] >= c.instance_memory_mb and f[1] >= c.instance_disk_mb and f[2] >= 1
            ]
            if not fits:
                if key not in self._failed:
                    self._failed.add(key)
                    self.auctions_failed += 1
                continue
            cell = max(fits, key=lambda i: (free[i][0], -i))
            self.placement[key] = cell
            self._failed.discard(key)
            self.auctions_started += 1
            free[cell][0] -= c.instance_memory_mb
            free[cell][1] -= c.instance_disk_mb
            free[cell][2] -= 1

    def _unhealthy(self, now: float) -> list[Point]:
        points = []
        for cell_id in self.cell_ids:
            tags = self._tags("diego-cell", "rep", cell_id)
            points += [
                Point("rep", "CellUnhealthy", 1.0, now, tags),
                Point("rep", "GardenHealthCheckFailed", 1.0, now, tags),
            ]
        points.append(Point("locket", "ActivePresences", 0.0, now, self._tags("diego-api", "locket")))
        return points

    def _rep_points(self, obs: _Observed, now: float) -> list[Point]:
        c = self.config
        free = self._free()
        points = []
        for i, cell_id in enumerate(self.cell_ids):
            tags = self._tags("diego-cell", "rep", cell_id)
            used = c.cell_containers - free[i][2]
            values = {
                "CapacityTotalMemory": (c.cell_memory_mb, "MiB"),
                "CapacityRemainingMemory": (free[i][0], "MiB"),
                "CapacityAllocatedMemory": (c.cell_memory_mb - free[i][0], "MiB"),
                "CapacityTotalDisk": (c.cell_disk_mb, "MiB"),
                "CapacityRemainingDisk": (free[i][1], "MiB"),
                "CapacityAllocatedDisk": (c.cell_disk_mb - free[i][1], "MiB"),
                "CapacityTotalContainers": (c.cell_containers, ""),
                "CapacityRemainingContainers": (free[i][2], ""),
                "ContainerCount": (used, ""),
                "RepBulkSyncDuration": (obs.call_ns, "nanos"),
                "CellUnhealthy": (0, ""),
                "AppInstanceExceededLogRateLimitCount": (0, ""),
                "GardenHealthCheckFailed": (0, ""),
            }
            points += [Point("rep", n, float(v), now, tags, unit=u) for n, (v, u) in values.items()]
        return points

    def _bbs_points(self, obs: _Observed, now: float, pass_ns: int) -> list[Point]:
        placed = [k for k in obs.desired if k in self.placement]
        crashed = [k for k in placed if obs.states[k] in _CRASHED]
        values = {
            "LRPsDesired": len(obs.desired),
            "LRPsRunning": sum(1 for k in placed if obs.states[k] == "RUNNING"),
            "LRPsClaimed": sum(1 for k in placed if obs.states[k] == "STARTING"),
            "LRPsUnclaimed": len(obs.desired) - len(placed),
            "LRPsMissing": sum(1 for k in placed if obs.states[k] in _NO_PROCESS),
            "LRPsExtra": obs.extra,
            "CrashedActualLRPs": len(crashed),
            "CrashingDesiredLRPs": len({app for app, _ in crashed}),
            "Domain_cf_apps": 1,
            "PresentCells": len(self.cell_ids),
            "LockHeld": 1,
            "ConvergenceLRPDuration": pass_ns,
            "RequestLatency": obs.call_ns,
        }
        if not self._elected:  # emitted once, when this BBS becomes the active one
            self._elected = True
            values["BBSMasterElected"] = 1
        tags = self._tags("diego-api", "bbs")
        return [Point("bbs", n, float(v), now, tags) for n, v in values.items()]

    def _scheduler_points(self, obs: _Observed, now: float) -> list[Point]:
        running = sum(1 for k in obs.desired if k in self.placement and obs.states[k] == "RUNNING")
        auct = self._tags("scheduler", "auctioneer")
        emitter = self._tags("scheduler", "route_emitter")
        locket = self._tags("diego-api", "locket")
        return [
            Point(
                "auctioneer",
                "AuctioneerLRPAuctionsStarted",
                float(self.auctions_started),
                now,
                auct,
                kind="counter",
            ),
            Point(
                "auctioneer",
                "AuctioneerLRPAuctionsFailed",
                float(self.auctions_failed),
                now,
                auct,
                kind="counter",
            ),
            Point("auctioneer", "AuctioneerTaskAuctionsStarted", 0.0, now, auct, kind="counter"),
            Point("auctioneer", "AuctioneerTaskAuctionsFailed", 0.0, now, auct, kind="counter"),
            Point("auctioneer", "AuctioneerFetchStatesDuration", float(obs.call_ns), now, auct, unit="nanos"),
            Point("auctioneer", "LockHeld", 1.0, now, auct),
            Point(
                "route_emitter", "RouteEmitterSyncDuration", float(obs.call_ns), now, emitter, unit="nanos"
            ),
            Point("route_emitter", "HTTPRouteCount", float(running), now, emitter),
            Point("route_emitter", "RoutesTotal", float(running), now, emitter),
            Point("locket", "ActiveLocks", 4.0, now, locket),
            Point("locket", "ActivePresences", float(len(self.cell_ids)), now, locket),
        ]

    def _container_specs(self, obs: _Observed) -> list[ContainerSpec]:
        c = self.config
        specs = []
        for key in obs.desired:
            app = self.foundation.app_by_local(key[0])
            running = obs.states[key] in ("RUNNING", "CRASHED_RESTARTED")
            if app is None or key not in self.placement or not running or not obs.pids[key]:
                continue
            log_file = self.platform.paths.app_logs_dir / f"{program_name(*key)}.log"
            mem, disk = c.instance_memory_mb * 1024 * 1024, c.instance_disk_mb * 1024 * 1024
            specs.append(ContainerSpec(app, key[1], obs.pids[key], log_file, mem, disk))
        return specs

    def sample(self, now: float) -> list[Point]:
        started = time.perf_counter_ns()
        try:
            obs = self._observe()
        except LocalPlatformError:
            return self._unhealthy(now)
        self._auction(obs.desired)
        pass_ns = time.perf_counter_ns() - started
        return [
            *self._rep_points(obs, now),
            *self._bbs_points(obs, now, pass_ns),
            *self._scheduler_points(obs, now),
            *self._containers.sample(self._container_specs(obs), now),
        ]
