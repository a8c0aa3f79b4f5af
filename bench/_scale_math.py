"""Arithmetic and accounting helpers of bench/scale.py (unit-tested in tests/bench/test_scale_math.py).

CPU is read from /proc the same way for every configuration: every process in a launched process group
(``start_new_session``: the group id is the leader's pid) — its utime + stime — plus the leader's cutime +
cstime (children that already exited and were reaped). RELP frames are encoded and acks parsed here too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "Measurement",
    "group_cpu_seconds",
    "parse_rsp",
    "relp_frame",
    "stat_fields",
]

CLK_TCK = os.sysconf("SC_CLK_TCK")


def stat_fields(text: str) -> list[str]:
    """The fields of a /proc/<pid>/stat line after ``comm`` (which may hold spaces and parentheses);
    index 0 is ``state`` (field 3 of proc(5))."""
    return text.rsplit(")", 1)[1].split()


def _group_ticks(pgid: int, proc: Path) -> int:
    ticks = 0
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            f = stat_fields((entry / "stat").read_text())
        except OSError:
            continue  # exited while we looked
        if int(f[2]) != pgid:  # field 5: pgrp
            continue
        ticks += int(f[11]) + int(f[12])  # utime + stime
        if int(entry.name) == pgid:
            ticks += int(f[13]) + int(f[14])  # cutime + cstime of reaped children
    return ticks


def group_cpu_seconds(pgids: list[int], proc: Path = Path("/proc")) -> float:
    """CPU-seconds used so far by every process of the given process groups."""
    return sum(_group_ticks(g, proc) for g in pgids) / CLK_TCK


def relp_frame(txnr: int, cmd: bytes, data: bytes = b"") -> bytes:
    """One RELP frame: ``TXNR SP COMMAND SP DATALEN [SP DATA] LF``."""
    return b"%d %s %d %s\n" % (txnr, cmd, len(data), data) if data else b"%d %s 0\n" % (txnr, cmd)


def parse_rsp(buf: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
    """Complete ``rsp`` frames at the head of ``buf`` as (txnr, data), and the unparsed rest.

    Raises ValueError on a frame that is not an ``rsp`` or is malformed."""
    out: list[tuple[int, bytes]] = []
    pos = 0
    while True:
        sp1 = buf.find(b" ", pos)
        sp2 = buf.find(b" ", sp1 + 1) if sp1 >= 0 else -1
        if sp2 < 0:
            break
        end_len = sp2 + 1
        while end_len < len(buf) and buf[end_len : end_len + 1].isdigit():
            end_len += 1
        if end_len >= len(buf):
            break  # DATALEN not complete yet
        if buf[sp1 + 1 : sp2] != b"rsp":
            raise ValueError(f"not an rsp frame: {buf[pos : pos + 40]!r}")
        length = int(buf[sp2 + 1 : end_len])
        start = end_len + 1 if length else end_len
        if len(buf) < start + length + 1:
            break
        if buf[start + length : start + length + 1] != b"\n":
            raise ValueError(f"no LF trailer: {buf[pos : pos + 40]!r}")
        out.append((int(buf[pos:sp1]), buf[start : start + length]))
        pos = start + length + 1
    return out, buf[pos:]


@dataclass(frozen=True, slots=True)
class Measurement:
    """One configuration's run: ``units`` (samples or lines) in ``seconds``, CPU-seconds of the Paramedic
    replicas and of the store's processes (VictoriaMetrics, etcd; 0 for the embedded store)."""

    what: str
    backend: str
    replicas: int
    units: float
    seconds: float
    paramedic_cpu_s: float
    store_cpu_s: float
    rss_bytes: int = 0
    lost: int = 0
    duplicated: int = 0
    store_rss_bytes: int = 0

    @property
    def rate(self) -> float:
        return self.units / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_s(self) -> float:
        return self.paramedic_cpu_s + self.store_cpu_s

    @property
    def per_cpu_second(self) -> float:
        """Units per CPU-second of everything counted (Paramedic + store)."""
        return self.units / self.cpu_s if self.cpu_s > 0 else 0.0

    @property
    def paramedic_us_per_unit(self) -> float:
        return self.paramedic_cpu_s / self.units * 1e6 if self.units else 0.0

    @property
    def store_us_per_unit(self) -> float:
        return self.store_cpu_s / self.units * 1e6 if self.units else 0.0

    @property
    def cores_busy(self) -> float:
        return self.cpu_s / self.seconds if self.seconds > 0 else 0.0
