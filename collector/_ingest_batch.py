"""One thread parses and ingests the bodies the fetch threads fetched, a short window's worth at a time.

Why: measured in the server (``bench/ingest_threads.py``, bench/README "stop 36"), the scrape threads spend
about twice the CPU their parse + ingest costs alone, around the points where threads hand the GIL over;
a fetch thread that parses its own body right away shares the GIL with the loop and other fetch threads on
every scrape. Here a fetch thread only fetches, then queues the body; the ingest thread waits
``window_s`` after the first body arrives, then parses and ingests every body queued by then back to back
in one thread (fewer hand-offs, the parser's and the store's data warm in cache), and settles the
batch's asyncio futures with one wake-up of the event loop instead of one per scrape. Each scrape keeps its
own timestamp (the work item carries it); only *when* its samples reach the store moves, by at most the
window plus the parse of the bodies queued before it, which is bounded: a batch takes at most
``max_batch_bytes`` of bodies (the rest waits for the next batch) and a body over ``big_body_bytes`` never
enters the queue (the caller parses it in its own fetch thread, as before), so one huge target cannot hold
every other target's append behind its parse.

Thread safety: :meth:`submit` may be called from any thread; :meth:`close` from the owner (the scrape
manager) once no more items come.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from metrics_store.sched_slice import drop_slice_request

__all__ = ["Done", "IngestBatcher", "settle"]

# one settled scrape: its future, its result or its exception
Done = tuple["asyncio.Future[Any]", Any, BaseException | None]


class _Item:
    __slots__ = ("fn", "fut", "loop", "size")

    def __init__(
        self, fn: Callable[[], Any], size: int, loop: asyncio.AbstractEventLoop, fut: asyncio.Future[Any]
    ) -> None:
        self.fn, self.size, self.loop, self.fut = fn, size, loop, fut


def settle(done: list[Done]) -> None:
    """On the event loop: resolve each future (one already done, e.g. cancelled, is left alone)."""
    for fut, value, exc in done:
        if fut.done():
            continue
        if exc is None:
            fut.set_result(value)
        else:
            fut.set_exception(exc)


class IngestBatcher:
    """The ingest thread and its queue. ``parse_slots`` (the manager's) is held while a batch runs, so the
    number of threads parsing at once stays what ``max_workers`` says."""

    def __init__(
        self,
        window_s: float,
        parse_slots: threading.Semaphore,
        *,
        max_batch_bytes: int = 8 << 20,
        big_body_bytes: int = 4 << 20,
    ) -> None:
        self.window_s = window_s
        self.big_body_bytes = big_body_bytes
        self._max_batch_bytes = max_batch_bytes
        self._slots = parse_slots
        self._q: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._closed = False

    def submit(
        self, fn: Callable[[], Any], size: int, loop: asyncio.AbstractEventLoop, fut: asyncio.Future[Any]
    ) -> None:
        """Queue ``fn`` (a body's parse + ingest, ``size`` bytes of body); its result or exception settles
        ``fut`` on ``loop``. The thread starts with the first item."""
        if self._thread is None:
            with self._start_lock:
                if self._thread is None and not self._closed:
                    self._thread = threading.Thread(target=self._run, name="scrape-ingest", daemon=True)
                    self._thread.start()
        self._q.put(_Item(fn, size, loop, fut))

    def close(self) -> None:
        """Run what is queued, then end the thread (waits for it)."""
        with self._start_lock:
            self._closed = True
            thread = self._thread
        if thread is not None:
            self._q.put(None)
            thread.join()

    def _run(self) -> None:
        drop_slice_request()  # background work: a waking read may preempt it (sched_slice)
        q = self._q
        carry: _Item | None = None
        while True:
            first = carry if carry is not None else q.get()
            carry = None
            if first is None:
                return
            if self.window_s > 0:
                time.sleep(self.window_s)  # the batching window, not a wait for a condition
            batch, size, end = [first], first.size, False
            while size < self._max_batch_bytes:
                try:
                    item = q.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    end = True
                    break
                if size + item.size > self._max_batch_bytes:
                    carry = item  # the next batch's first, without another window
                    break
                batch.append(item)
                size += item.size
            self._run_batch(batch)
            if end:
                return

    def _run_batch(self, batch: list[_Item]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[Done]] = {}
        with self._slots:
            for item in batch:
                try:
                    done: Done = (item.fut, item.fn(), None)
                except BaseException as exc:  # the scrape's error, raised in its coroutine
                    done = (item.fut, None, exc)
                by_loop.setdefault(item.loop, []).append(done)
        for loop, settled in by_loop.items():
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody awaits these scrapes any more
                loop.call_soon_threadsafe(settle, settled)
