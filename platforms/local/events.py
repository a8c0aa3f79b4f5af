"""Platform events of the local platform (``platforms.base.EventSource``): what its verbs did, and crashes.

:class:`EventJournal` is an append-only JSON-lines file in the state directory (``events.jsonl``) to which
the adapter's write verbs add one line each (scale, restart, deployment steps, rollback); the state file
itself keeps no times, and old state directories simply have no journal yet. It is kept small: past
``max_bytes`` the oldest half is dropped (rewritten atomically). Crashes are not journaled by anyone: they
are read from supervisord's process info: an instance's last stop is a crash unless the journal has a
restart of it (or of its app) within a minute after it — supervisord restarts a crashed program at once and
forgets its exit status, so only an instance's latest stop is known, and a crash just before a restart is
not told apart from the restart.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from platforms.base import PlatformEvent
from platforms.local.errors import StateError
from platforms.local.state import write_atomic

__all__ = ["EventJournal", "crash_events", "local_events"]

log = logging.getLogger("platforms.local.events")

_MAX_LINE = 4096  # a journal line longer than this is skipped when read (hand-edited or truncated)


class EventJournal:
    """The journal at ``path``; thread-safe within a process, appends are single ``write`` calls."""

    def __init__(
        self, path: Path, *, max_bytes: int = 1 << 20, clock: Callable[[], float] = time.time
    ) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self._clock = clock
        self._lock = threading.Lock()

    def add(
        self, app: str, kind: str, type_: str, summary: str, details: Mapping[str, str] | None = None
    ) -> None:
        """Journal that ``app`` just had a ``kind`` event; a journal that cannot be written is logged (the
        verb it records has happened all the same)."""
        try:
            self.record(PlatformEvent(self._clock(), app, kind, type_, summary, "", dict(details or {})))
        except StateError as exc:
            log.warning("platform event of %s not journaled: %s", app, exc)

    def record(self, event: PlatformEvent) -> None:
        line = json.dumps(
            {
                "time": event.time,
                "app": event.app,
                "kind": event.kind,
                "type": event.type,
                "summary": event.summary,
                "actor": event.actor,
                "details": event.details,
            },
            separators=(",", ":"),
        )
        with self._lock:
            try:
                with self.path.open("a", encoding="utf-8") as f:
                    f.write(line + "\n")
                if self.path.stat().st_size > self.max_bytes:
                    self._shrink()
            except OSError as exc:
                raise StateError("state", "record_event", f"{self.path}: {exc.strerror}") from exc

    def _shrink(self) -> None:
        lines = self.path.read_text(encoding="utf-8").splitlines()
        write_atomic(self.path, "".join(f"{line}\n" for line in lines[len(lines) // 2 :]))

    def read(self, app: str | None, since: float, until: float) -> list[PlatformEvent]:
        """Journaled events of ``app`` (every app: None) with ``since <= time <= until``, oldest first."""
        try:
            with self.path.open(encoding="utf-8") as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise StateError("state", "events", f"{self.path}: {os.strerror(exc.errno or 0)}") from exc
        out = [e for e in (_parse(line) for line in lines if len(line) <= _MAX_LINE) if e is not None]
        return [e for e in out if (app is None or e.app == app) and since <= e.time <= until]


def _parse(line: str) -> PlatformEvent | None:
    try:
        d: Any = json.loads(line)
        details = {str(k): str(v) for k, v in dict(d.get("details") or {}).items()}
        return PlatformEvent(
            float(d["time"]), str(d["app"]), str(d["kind"]), str(d["type"]), str(d.get("summary", "")),
            str(d.get("actor", "")), details,
        )  # fmt: skip
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


_RESTART_SLACK_S = 60.0  # a journaled restart is written up to this long after the stop it made


def _restarted(index: int, stop: float, restarts: Sequence[PlatformEvent]) -> bool:
    return any(
        stop - 5.0 <= r.time <= stop + _RESTART_SLACK_S and r.details.get("index", str(index)) == str(index)
        for r in restarts
    )


def crash_events(
    processes: Iterable[Mapping[str, Any]],
    programs: Mapping[str, tuple[str, int]],
    restarts: Sequence[PlatformEvent] = (),
) -> list[PlatformEvent]:
    """The latest stop of each instance program (``programs``: supervisord program name -> (app, index))
    that no journaled ``restarts`` of its app explain, as a ``crash`` at the stop time."""
    out: list[PlatformEvent] = []
    for p in processes:
        where = programs.get(str(p.get("name", "")))
        stop = float(p.get("stop") or 0)
        if where is None or stop <= 0:
            continue
        app, index = where
        if _restarted(index, stop, [r for r in restarts if r.app == app]):
            continue
        state = str(p.get("statename"))
        out.append(
            PlatformEvent(
                stop,
                app,
                "crash",
                "supervisor.process.exited",
                f"instance {index} exited (now {state})",
                "",
                {"index": str(index), "state": state},
            )
        )
    return out


def local_events(
    journal: EventJournal,
    *,
    processes: Iterable[Mapping[str, Any]],
    programs: Mapping[str, tuple[str, int]],
    app: str | None,
    since: float,
    until: float,
    limit: int,
) -> list[PlatformEvent]:
    """The answer of ``LocalPlatform.events``: journaled and crash events in the window, newest ``limit``,
    oldest first."""
    journaled = journal.read(app, since, until + _RESTART_SLACK_S)
    restarts = [e for e in journaled if e.kind == "restart"]
    crashes = [e for e in crash_events(processes, programs, restarts) if app is None or e.app == app]
    found = [e for e in journaled if e.time <= until] + [e for e in crashes if since <= e.time <= until]
    found.sort(key=lambda e: e.time)
    return found[-max(0, limit) :] if limit > 0 else []
