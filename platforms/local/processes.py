"""Child processes of the local platform and the demo: spawned in their own session, stopped by PID.

A process is identified by PID *and* start time (``/proc/<pid>/stat`` field 22) so a recycled PID is never
mistaken for ours. Each child gets its own session so a terminal's Ctrl-C reaches only the parent, which then
stops children in the order it chooses.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "ChildProcess",
    "ProcessRecord",
    "children_by_parent",
    "pid_start_time",
    "process_alive",
    "spawn",
    "stop_pid",
]


def children_by_parent() -> dict[int, list[int]]:
    """Every live process's pid under its parent's pid (from /proc; processes that exit meanwhile are
    skipped)."""
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def pid_start_time(pid: int) -> int | None:
    """Start time of ``pid`` in clock ticks since boot, or None when there is no such (live) process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] == "Z":  # zombie: exited, not yet reaped
        return None
    return int(fields[19])


@dataclass(frozen=True, slots=True)
class ProcessRecord:
    """What the demo writes to demo.json for each child: enough to find and stop it from another process."""

    name: str
    pid: int
    start_time: int | None
    argv: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "pid": self.pid, "start_time": self.start_time, "argv": list(self.argv)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProcessRecord:
        start = data.get("start_time")
        return cls(
            str(data["name"]), int(data["pid"]), None if start is None else int(start), tuple(data["argv"])
        )


def process_alive(record: ProcessRecord) -> bool:
    start = pid_start_time(record.pid)
    return start is not None and (record.start_time is None or start == record.start_time)


def stop_pid(
    record: ProcessRecord, timeout_s: float = 15.0, sleep: Callable[[float], None] = time.sleep
) -> bool:
    """SIGTERM, wait up to ``timeout_s``, then SIGKILL. True when it stopped on SIGTERM."""
    if not process_alive(record):
        return True
    with contextlib.suppress(ProcessLookupError):
        os.kill(record.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(record.pid, os.WNOHANG)  # reap it if it is our child
        if not process_alive(record):
            return True
        sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(record.pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(record.pid, 0)
    return False


class ChildProcess:
    """A spawned child: its ``Popen``, its record and the tail of its log."""

    def __init__(
        self, name: str, popen: subprocess.Popen[bytes], argv: Sequence[str], log_path: Path
    ) -> None:
        self.name = name
        self.popen = popen
        self.log_path = log_path
        self.record = ProcessRecord(name, popen.pid, pid_start_time(popen.pid), tuple(argv))

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, timeout_s: float = 15.0) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


def spawn(
    name: str,
    argv: Sequence[str],
    log_path: Path,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> ChildProcess:
    """Start ``argv`` in its own session, stdout+stderr appended to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        popen = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
    return ChildProcess(name, popen, argv, log_path)
