"""A daemon thread that runs periodic tasks (checkpoint, retention/downsampling) and can be woken early.

Each task is ``(name, interval_s, fn)``; a :class:`~metrics_store.base.StoreError` from a task is
logged and the task runs again at its next period. ``wake(name)`` runs that task as soon as possible.
Uses real monotonic time on purpose: the store's injected clock decides *what* maintenance does, this
only decides *when* it runs, and tests call the tasks directly.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from metrics_store.base import StoreError

__all__ = ["Scheduler"]

log = logging.getLogger("metrics_store.embedded")


class Scheduler:
    def __init__(self, tasks: list[tuple[str, float, Callable[[], object]]], thread_name: str) -> None:
        self._tasks = tasks
        self._due = {name: time.monotonic() + interval for name, interval, _ in tasks}
        self._urgent: set[str] = set()
        self._cond = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=thread_name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self, name: str) -> None:
        with self._cond:
            self._urgent.add(name)
            self._cond.notify()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and not self._urgent:
                    timeout = min(self._due.values()) - time.monotonic()
                    if timeout <= 0:
                        break
                    self._cond.wait(timeout)
                if self._stopping:
                    return
                urgent, self._urgent = self._urgent, set()
            now = time.monotonic()
            for name, interval, fn in self._tasks:
                if name in urgent or now >= self._due[name]:
                    self._due[name] = now + interval
                    try:
                        fn()
                    except StoreError:
                        log.exception("background task %s failed; retrying in %.0fs", name, interval)
