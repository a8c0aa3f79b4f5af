"""A short EEVDF slice for the event-loop thread, so a read that wakes it preempts background work at once.

On Linux >= 6.12 a running thread may keep the CPU for the rest of its slice (~1.4-3 ms here) when another
thread wakes, unless the waking one asked for a *shorter* slice (:mod:`metrics_store.sched_slice`). Without
this a read can wait out the slice of whatever runs on its core (a search worker at nice 10, another
process). Measured on the 6.18 VM (bench/README.md, "EEVDF slice requests"): a thread that wakes every 1 ms
and then works 1 ms, sharing one core with a nice-10 busy loop, waited behind it 1.4-3.2 ms at p99 with the
default slice and ~0.05 ms with a 0.1 or 0.5 ms one *at load 7.5-12*; at load 1.3-3.8 p99 was ~0.05 ms
both ways (only the rare max sometimes improved), and against a nice-19 loop there was no difference. The
slice changes when a thread runs, not how much CPU it gets (that is still its nice value's weight), and
asking for it needs no privilege.

:meth:`LatencySlice.apply` runs at the start of the lifespan, on the event-loop thread, before the server
starts anything from it: the AnyIO worker threads that answer reads are started by that thread later and
inherit the request; background work started from it gives the request back
(:func:`metrics_store.sched_slice.drop_slice_request`), including asyncio's default executor, which
:func:`install_default_executor` replaces with one whose threads do. One log line says what was applied
or why not; the gauge ``paramedic_event_loop_slice_seconds`` holds the slice the kernel kept (0: none asked,
or refused).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor

from prometheus_client import CollectorRegistry, Gauge

from metrics_store.sched_slice import SliceError, drop_slice_request, set_thread_slice

__all__ = ["LatencySlice", "install_default_executor"]

log = logging.getLogger(__name__)

# one per loop: a lifespan started again on the same loop keeps the executor it installed the first time
_INSTALLED: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ThreadPoolExecutor] = (
    weakref.WeakKeyDictionary()
)


class LatencySlice:
    """The gauge, registered once per server; :meth:`apply` on the event-loop thread at each start."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.gauge = Gauge(
            "paramedic_event_loop_slice_seconds",
            "The EEVDF slice the event-loop thread and the read threads it starts asked for and the kernel "
            "kept (server.latency_slice_us); 0 when none was asked or the kernel has no slice requests.",
            registry=registry,
        )

    def apply(self, slice_us: int) -> int:
        """Ask for a ``slice_us`` slice for the calling (event-loop) thread; returns the slice kept in ns.

        ``slice_us`` 0 leaves the kernel's default. Never raises for a kernel or platform without slice
        requests or a refused call: it logs why, the gauge says 0 and the server runs as before."""
        if slice_us == 0:
            log.info("CPU slice: kernel default (server.latency_slice_us is 0)")
            self.gauge.set(0)
            return 0
        try:
            kept_ns = set_thread_slice(slice_us * 1000)
        except SliceError as exc:
            log.warning("CPU slice: kernel default, a short slice was not applied: %s", exc)
            self.gauge.set(0)
            return 0
        log.info(
            "CPU slice: %d us for the event-loop thread %d and the read threads it starts (asked %d us)",
            kept_ns // 1000,
            threading.get_native_id(),
            slice_us,
        )
        self.gauge.set(kept_ns / 1e9)
        return kept_ns


def install_default_executor(loop: asyncio.AbstractEventLoop) -> ThreadPoolExecutor:
    """Give ``loop`` a default executor whose threads run at the kernel's default slice; returns it.

    ``asyncio.to_thread`` and ``run_in_executor(None, ...)`` run background and ingest work there
    (remote-write and OTLP decoding and appends, file discovery, model fits, platform calls, the cluster's
    start) and the subprocesses it starts; asyncio's own default executor would start its threads from the
    event loop, so they and their children would inherit its short slice and preempt reads as readily as
    the loop does.
    Bounded as asyncio's default (``min(32, cpu + 4)`` threads); the loop shuts it down when it closes, as it
    does its own (``asyncio.run``, AnyIO's portal)."""
    executor = _INSTALLED.get(loop)
    if executor is None:
        executor = ThreadPoolExecutor(
            min(32, (os.cpu_count() or 1) + 4), thread_name_prefix="asyncio", initializer=drop_slice_request
        )
        loop.set_default_executor(executor)
        _INSTALLED[loop] = executor
    return executor
