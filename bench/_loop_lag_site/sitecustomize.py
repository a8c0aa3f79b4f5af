"""Loaded by ``paramedic serve`` when ``bench/hostile_loop_lag.py`` puts this directory on ``PYTHONPATH``
(diagnosis only: never on a production path). With ``LOOPLAG_OUT`` set it appends one line per

* event-loop callback that took over 1 ms of wall or CPU time: ``cb <monotonic> <wall ms> <cpu ms> <name>``
  (CPU: ``time.thread_time``, the loop thread's own; wall minus CPU is time waiting for the GIL or a core);
* over-1 ms wake-up lag of a thread that sleeps 1 ms at a time: ``gil <monotonic> <lag ms>`` (it needs the
  GIL and a core to wake: what any server thread waits for at that moment).

Stamps are ``CLOCK_MONOTONIC``, shared by all processes, so the bench attributes lines to its bursts."""

from __future__ import annotations

import asyncio.events
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

_OUT = os.environ.get("LOOPLAG_OUT")


def _name(handle: Any) -> str:
    callback = getattr(handle, "_callback", None)
    owner = getattr(callback, "__self__", None)
    if owner is not None and hasattr(owner, "get_coro"):
        coro = owner.get_coro()
        return str(getattr(coro, "__qualname__", type(coro).__name__))
    return str(getattr(callback, "__qualname__", type(callback).__name__))


def _install(path: str) -> None:
    out = Path(path).open("a", buffering=1, encoding="utf-8")  # noqa: SIM115 - kept open for the process' life
    lock = threading.Lock()
    run = asyncio.events.Handle._run

    def timed(self: asyncio.events.Handle) -> None:
        wall, cpu = time.perf_counter(), time.thread_time()
        run(self)
        wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
        if wall > 0.001 or cpu > 0.001:
            with lock:
                out.write(f"cb {time.monotonic():.6f} {wall * 1e3:.3f} {cpu * 1e3:.3f} {_name(self)}\n")

    def sleeper() -> None:
        while True:
            start = time.perf_counter()
            time.sleep(0.001)
            lag = time.perf_counter() - start - 0.001
            if lag > 0.001:
                with lock:
                    out.write(f"gil {time.monotonic():.6f} {lag * 1e3:.3f}\n")

    asyncio.events.Handle._run = timed  # type: ignore[method-assign]
    threading.Thread(target=sleeper, name="loop-lag-probe", daemon=True).start()


if _OUT and "serve" in sys.argv:
    _install(_OUT)
