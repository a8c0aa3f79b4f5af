"""Crashes of app instances, read from supervisord's own log (the local platform's ``logs/supervisord.log``).

supervisord restarts a crashed program at once, so its process state shows a crash only for an instant; its
log keeps it: ``WARN exited: <program> (exit status 1; not expected)`` (or ``(terminated by SIGKILL; not
expected)``) and ``INFO gave up: <program> entered FATAL state``. A stop that supervisord was asked for is
logged as ``stopped:`` and is not a crash. :class:`CrashLog` tails the file from where it was at
construction and remembers, per program, when it last saw a crash (wall time of reading it).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["CrashLog"]

_CRASH = re.compile(r" (?:exited: (\S+) \(.*not expected\)|gave up: (\S+) entered FATAL)")
_MAX_READ = 1024 * 1024


class CrashLog:
    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self._clock = clock
        self._offset = path.stat().st_size if path.exists() else 0
        self._partial = b""
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def crashes(self) -> dict[str, float]:
        """Program name -> time its last crash was seen (reads what the log gained since the last call)."""
        with self._lock:
            try:
                size = self.path.stat().st_size
                if size < self._offset:  # rotated
                    self._offset, self._partial = 0, b""
                with self.path.open("rb") as f:
                    f.seek(self._offset)
                    chunk = f.read(_MAX_READ)
            except OSError:
                return dict(self._last)
            self._offset += len(chunk)
            *lines, rest = (self._partial + chunk).split(b"\n")
            self._partial = rest[-65536:]
            now = self._clock()
            for line in lines:
                m = _CRASH.search(line.decode("utf-8", errors="replace"))
                if m:
                    self._last[m[1] or m[2]] = now
            return dict(self._last)
