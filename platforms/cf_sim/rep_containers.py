"""App container metrics as the rep emits them, from the real instance processes (/proc).

Per running, placed instance of a CF app (source_id = app GUID, ``instance_id`` = index): ``cpu`` (percent of
one core since the previous sample, from /proc/<pid>/stat utime+stime; not emitted on an instance's first
sample), ``memory`` (resident set, bytes), ``disk`` (bytes the instance has written to its log file: the
local platform gives instances no disk of their own), ``memory_quota`` and ``disk_quota`` (bytes, the
configured per-instance allocation). Units as diego-release docs/011-container-metrics.md.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from platforms.cf_sim.foundation import CFApp
from platforms.cf_sim.log_cache_store import Point

__all__ = ["ContainerSampler", "ContainerSpec"]

_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True, slots=True)
class ContainerSpec:
    app: CFApp
    index: int
    pid: int
    log_file: Path
    memory_quota_bytes: int
    disk_quota_bytes: int


def _cpu_ticks(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of the whole line)


def _rss_bytes(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return None


class ContainerSampler:
    """Remembers each pid's CPU ticks between samples to compute ``cpu``."""

    def __init__(self) -> None:
        self._prev: dict[int, tuple[int, float]] = {}

    def sample(self, specs: list[ContainerSpec], now: float) -> list[Point]:
        points: list[Point] = []
        seen: dict[int, tuple[int, float]] = {}
        for c in specs:
            ticks, rss = _cpu_ticks(c.pid), _rss_bytes(c.pid)
            if ticks is None or rss is None:
                continue
            tags = {
                "instance_id": str(c.index),
                "origin": "rep",
                "process_type": "web",
                "app_id": c.app.guid,
                "app_name": c.app.name,
                "organization_name": c.app.org,
                "space_name": c.app.space,
            }
            prev = self._prev.get(c.pid)
            if prev is not None and now > prev[1]:
                cpu = (ticks - prev[0]) / _TICKS / (now - prev[1]) * 100
                points.append(Point(c.app.guid, "cpu", max(cpu, 0.0), now, tags, unit="percentage"))
            seen[c.pid] = (ticks, now)
            try:
                disk = c.log_file.stat().st_size
            except OSError:
                disk = 0
            points += [
                Point(c.app.guid, "memory", float(rss), now, tags, unit="bytes"),
                Point(c.app.guid, "disk", float(disk), now, tags, unit="bytes"),
                Point(c.app.guid, "memory_quota", float(c.memory_quota_bytes), now, tags, unit="bytes"),
                Point(c.app.guid, "disk_quota", float(c.disk_quota_bytes), now, tags, unit="bytes"),
            ]
        self._prev = seen
        return points
