"""One thread parses and ingests the bodies the fetch threads fetched, a short window's worth at a time.

Why: measured in the server (``bench/ingest_threads.py``, bench/README "stop 36"), the scrape threads spend
about twice the CPU their parse + ingest costs alone, around the points where threads hand the GIL over;
a fetch thread that parses its own body right away shares the GIL with the loop and other fetch threads on
every scrape. Here a fetch thread only fetches, then queues the body; the ingest thread waits
``window_s`` after the first body arrives, then parses and ingests every body queued by then back to back
in one thread (fewer hand-offs, the parser's and the store's data warm in cache), and settles the
batch's asyncio futures with one wake-up of the event loop instead of one per scrape. Each scrape keeps its
own timestamp (the work item carries it); only *when* its samples reach the store moves. How far is
bounded by parse TIME, not bytes (a body of tiny series parses slowly for its size): a target whose last
parse took over ``slow_parse_s`` of thread CPU (or that has no parse measured yet) is parsed in its own
fetch thread, as without a batcher, and comes back to the batch once cheap (see ``ScrapeLoop``); a body
submitted while the ingest thread has been busy for over ``window_s`` on the current batch is refused
(:meth:`IngestBatcher.submit` returns False: the caller parses it itself); and once a batch's parse has
taken over ``window_s``, the rest of it is handed to a spill thread instead of waiting behind it. So a
body waits at most about the window, the parse of one item and the spill's parse slot; the wait is
exported (``paramedic_scrape_ingest_wait_seconds``). At most ``max_queued`` bodies (each at most
``big_body_bytes``) are queued: a full queue refuses too, so memory stays bounded.

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
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from metrics_store.sched_slice import drop_slice_request

__all__ = ["Done", "IngestBatcher", "as_error", "settle"]

# one settled scrape: its future, its result or its exception
Done = tuple["asyncio.Future[Any]", Any, BaseException | None]


class _Item:
    __slots__ = ("fn", "fut", "loop", "size")

    def __init__(
        self, fn: Callable[[], Any], size: int, loop: asyncio.AbstractEventLoop, fut: asyncio.Future[Any]
    ) -> None:
        self.fn, self.size, self.loop, self.fut = fn, size, loop, fut


def settle(done: list[Done]) -> None:
    """On the event loop: resolve each future (one already done, e.g. cancelled, is left alone). Each is
    resolved on its own: an exception asyncio refuses (StopIteration) fails that scrape with a
    RuntimeError, and never leaves the rest of the batch unresolved (their loops would await forever)."""
    for fut, value, exc in done:
        if fut.done():
            continue
        try:
            if exc is None:
                fut.set_result(value)
            else:
                fut.set_exception(exc)
        except (TypeError, RuntimeError) as bad:  # StopIteration / StopAsyncIteration: asyncio refuses it
            if not fut.done():
                fut.set_exception(RuntimeError(f"scrape raised {exc!r}: {bad}"))


def as_error(exc: BaseException) -> BaseException:
    """StopIteration cannot travel through a future (asyncio raises TypeError): a RuntimeError instead."""
    if isinstance(exc, StopIteration | StopAsyncIteration):
        err = RuntimeError(f"{type(exc).__name__} raised in parse or ingest")
        err.__cause__ = exc
        return err
    return exc


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
        slow_parse_s: float = 0.02,
        max_queued: int = 16,
    ) -> None:
        if window_s < 0:
            raise ValueError(f"ingest window must be >= 0, got {window_s}")
        self.window_s = window_s
        self.slow_parse_s = slow_parse_s
        self._queued = threading.BoundedSemaphore(max_queued)  # bodies queued or in a batch: memory bound
        self._busy_since: float | None = None  # monotonic start of the running batch's parse
        self._spill: ThreadPoolExecutor | None = None
        self.big_body_bytes = big_body_bytes
        self._max_batch_bytes = max_batch_bytes
        self._slots = parse_slots
        self._q: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._closed = False

    def submit(
        self, fn: Callable[[], Any], size: int, loop: asyncio.AbstractEventLoop, fut: asyncio.Future[Any]
    ) -> bool:
        """Queue ``fn`` (a body's parse + ingest, ``size`` bytes of body); its result or exception settles
        ``fut`` on ``loop``. The thread starts with the first item. False (nothing queued: the caller parses
        the body itself): the body is over ``big_body_bytes``, ``max_queued`` bodies wait already, or the
        running batch has parsed for over the window (the body would wait behind it)."""
        if size > self.big_body_bytes or self._closed:
            return False
        busy = self._busy_since
        if busy is not None and time.monotonic() - busy > self.window_s:
            return False
        if not self._queued.acquire(blocking=False):
            return False
        if self._thread is None:
            with self._start_lock:
                if self._thread is None and not self._closed:
                    self._thread = threading.Thread(target=self._run, name="scrape-ingest", daemon=True)
                    self._thread.start()
        self._q.put(_Item(fn, size, loop, fut))
        return True

    def close(self) -> None:
        """Run what is queued, then end the thread (waits for it) and the spill thread."""
        with self._start_lock:
            self._closed = True
            thread = self._thread
        if thread is not None:
            self._q.put(None)
            thread.join()
        if self._spill is not None:
            self._spill.shutdown(wait=True)

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
        rest: list[_Item] = []
        with self._slots:
            start = self._busy_since = time.monotonic()
            try:
                for i, item in enumerate(batch):
                    if i and time.monotonic() - start > self.window_s:
                        rest = batch[i:]  # would wait behind a slow parse: a spill thread parses them
                        break
                    by_loop.setdefault(item.loop, []).append(self._call(item))
            finally:
                self._busy_since = None
        if rest:
            if self._spill is None:
                self._spill = ThreadPoolExecutor(1, thread_name_prefix="scrape-ingest-spill")
            for item in rest:
                self._spill.submit(self._run_one, item)
        for loop, settled in by_loop.items():
            self._post(loop, settled)

    def _call(self, item: _Item) -> Done:
        try:
            return (item.fut, item.fn(), None)
        except BaseException as exc:  # the scrape's error, raised in its coroutine
            return (item.fut, None, as_error(exc))
        finally:
            self._queued.release()

    def _run_one(self, item: _Item) -> None:
        """A spilled item, in the spill thread (in a parse slot, like a batch)."""
        with self._slots:
            done = self._call(item)
        self._post(item.loop, [done])

    @staticmethod
    def _post(loop: asyncio.AbstractEventLoop, settled: list[Done]) -> None:
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody awaits these scrapes any more
            loop.call_soon_threadsafe(settle, settled)
