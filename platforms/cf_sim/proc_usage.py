"""Usage of a real instance process from ``/proc`` (Linux): CPU share, resident memory, uptime.

CPU is the share of one core used since the previous reading of the same PID (the first reading: since the
process started), as Diego reports ``usage.cpu``. Thread-safe.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ProcUsage", "Usage"]

_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True, slots=True)
class Usage:
    cpu: float  # fraction of one core
    mem_bytes: int
    uptime_s: int


def _boot_time(proc: Path) -> float:
    for line in (proc / "stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    return 0.0


class ProcUsage:
    """Reads ``/proc/<pid>``; ``proc`` is injectable for tests."""

    def __init__(self, proc: Path = Path("/proc")) -> None:
        self._proc = proc
        self._boot = _boot_time(proc)
        self._last: dict[int, tuple[float, float]] = {}  # pid -> (monotonic, cpu seconds)
        self._lock = threading.Lock()

    def usage(self, pid: int | None) -> Usage | None:
        """The process's usage now, or None when it does not exist (anymore)."""
        if pid is None:
            return None
        try:
            stat = (self._proc / str(pid) / "stat").read_text()
            statm = (self._proc / str(pid) / "statm").read_text()
        except OSError:
            return None
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "; fields[0] is field 3 (state)
        cpu_s = (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime
        started = self._boot + int(fields[19]) / _TICKS  # starttime
        rss = int(statm.split()[1]) * _PAGE
        now_mono, now = time.monotonic(), time.time()
        with self._lock:
            prev = self._last.get(pid)
            self._last[pid] = (now_mono, cpu_s)
        if prev is not None and now_mono > prev[0]:
            share = (cpu_s - prev[1]) / (now_mono - prev[0])
        else:
            share = cpu_s / max(now - started, 1e-3)
        return Usage(max(share, 0.0), rss, max(int(now - started), 0))
