"""Worker threads for work that can wait: they run at a lower CPU priority than the threads that answer.

A password hash (argon2id: tens of ms of CPU on every core it is given) or a log search that builds a
wildcard automaton is real work, but neither should make an ordinary query wait for a CPU. On Linux a
thread has a nice value of its own (``setpriority(PRIO_PROCESS, tid)``), and threads a C library starts
from it (argon2's lanes) inherit it; the kernel then gives the CPU to the normal-priority threads (event
loop, query evaluators) first whenever both want it, and to the background threads whenever nobody else
does, so nothing is slower on an idle machine.

This only helps with work that runs outside the GIL (argon2-cffi, RE2 and tantivy searches release it);
Python code in a background thread still takes turns at the GIL with everyone, so such work is also kept to a
few threads (``workers``).

:class:`BackgroundPool` is an executor of ``workers`` such threads; :func:`lower_thread_priority` lowers the
calling thread (for a long-lived thread of its own). Where the platform has no
per-thread priority (not Linux) both are ordinary threads, logged once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from metrics_store.sched_slice import drop_slice_request

__all__ = ["BACKGROUND_NICE", "BackgroundPool", "lower_thread_priority"]

T = TypeVar("T")
BACKGROUND_NICE = 10  # CFS weight 110 against 1024 at nice 0: ~10% of a contended CPU
_log = logging.getLogger(__name__)
_warned = threading.Event()


def lower_thread_priority(nice: int = BACKGROUND_NICE) -> bool:
    """Give the calling thread (and threads it starts later) nice value ``nice`` if that lowers its priority.

    True when the thread now runs at ``nice`` or lower priority; False where threads have no priority of
    their own (logged once). Lowering a priority needs no privilege."""
    if not sys.platform.startswith("linux"):
        _warn_once(f"per-thread CPU priority is Linux-only (platform {sys.platform})")
        return False
    tid = threading.get_native_id()
    try:
        if os.getpriority(os.PRIO_PROCESS, tid) < nice:
            os.setpriority(os.PRIO_PROCESS, tid, nice)
    except OSError as exc:
        _warn_once(f"cannot lower the priority of thread {tid}: {exc}")
        return False
    return True


def _warn_once(message: str) -> None:
    if not _warned.is_set():
        _warned.set()
        _log.warning("background work runs at normal priority: %s", message)


class BackgroundPool:
    """``workers`` threads named ``name-N`` at nice ``nice``; :meth:`run` awaits one call in one of them.

    Calls past ``workers`` wait in the pool's queue (their callers bound how many: a semaphore, a request
    limit); a call cancelled while it waits never runs."""

    def __init__(self, name: str, workers: int, *, nice: int = BACKGROUND_NICE) -> None:
        if workers < 1:
            raise ValueError(f"a background pool needs at least one worker, got {workers}")
        self.name, self.workers = name, workers
        self._executor = ThreadPoolExecutor(
            workers, thread_name_prefix=name, initializer=self._start, initargs=(nice,)
        )

    @staticmethod
    def _start(nice: int) -> None:
        lower_thread_priority(nice)
        drop_slice_request()  # started from the event loop: it would preempt reads as they do (sched_slice)

    async def run(self, fn: Callable[[], T]) -> T:
        """``fn()`` in a background thread; raises what it raises."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    def close(self) -> None:
        """Stop taking calls; queued calls are cancelled, running ones finish in their threads."""
        with contextlib.suppress(RuntimeError):
            self._executor.shutdown(wait=False, cancel_futures=True)
