"""The pipeline's consumer loop: read the spool after the last committed seq, ``process`` the batch, commit.

``process`` (the :class:`~log_pipeline.pipeline.Pipeline` that ``build_pipeline`` returns: parse → enrich →
pattern → stats → store → tail) must make the batch durable in the sink before it returns; only then is it
committed. If it raises, the batch is retried after a backoff (at-least-once: the sink upserts by id, ids
derive from the spool seq).

A ``process`` with two phases (:class:`Staged`: ``prepare`` then ``deliver``) is overlapped: the next batch is
read and prepared while the previous one is delivered in the consumer's delivery thread. Deliveries stay one
at a time and in spool order, and a batch's seq is committed only after its delivery returned and every
earlier batch was committed. When a delivery fails, the batch prepared after it is dropped and reading starts
again after the last committed seq (both are retried, as a sequential consumer retries one batch); a kill -9
replays at most the two uncommitted batches.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol, TypeVar, runtime_checkable

from log_pipeline.base import Spool
from log_pipeline.model import RawMessage
from log_pipeline.receivers._consumer_metrics import ConsumerMetrics
from metrics_store.sched_slice import drop_slice_request

__all__ = ["Batch", "ReadableSpool", "SpoolConsumer", "Staged"]

log = logging.getLogger("log_pipeline.consumer")

Batch = list[tuple[int, RawMessage]]
_T = TypeVar("_T")


class ReadableSpool(Spool, Protocol):
    @property
    def committed_seq(self) -> int: ...

    @property
    def last_seq(self) -> int: ...

    def wait(self, after_seq: int, timeout_s: float) -> bool: ...


@runtime_checkable
class Staged(Protocol):
    """A ``process`` in two phases: ``prepare`` never raises for a bad message (pure CPU work on the batch);
    ``deliver`` makes the prepared batch durable in the sink or raises. Both are called from one thread each:
    ``prepare`` from the consumer thread, ``deliver`` from its delivery thread."""

    def prepare(self, batch: Batch) -> Any: ...

    def deliver(self, prepared: Any) -> None: ...


class SpoolConsumer:
    def __init__(
        self,
        spool: ReadableSpool,
        process: Callable[[Batch], None],
        batch_messages: int = 4096,
        idle_wait_s: float = 0.2,
        retry_backoff_s: float = 1.0,
        *,
        min_batch_messages: int = 0,
        linger_s: float = 0.0,
        metrics: ConsumerMetrics | None = None,
    ) -> None:
        self._spool = spool
        self._process = process
        self._batch = batch_messages
        self._min_batch = min(min_batch_messages, batch_messages)
        self._linger_s = linger_s
        self._metrics = metrics
        self._idle_wait_s = idle_wait_s
        self._backoff_s = retry_backoff_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.position = spool.committed_seq  # the last committed seq

    def run_once(self) -> int:
        """Process one batch if there is one (sequentially); returns how many messages were committed."""
        batch = self._read(self.position)
        if not batch:
            return 0
        self._process(batch)
        self._commit(batch[-1][0])
        return len(batch)

    def _read(self, after_seq: int) -> Batch:
        """The next batch after ``after_seq``. While messages are arriving (the first read found some) and
        fewer than ``min_batch_messages`` are there, wait up to ``linger_s`` for more, so the sink commits a
        fuller batch; a trickle waits at most ``linger_s`` once per batch."""
        batch = self._spool.read(after_seq, self._batch)
        if batch and len(batch) < self._min_batch and self._linger_s > 0:
            self._timed("linger", self._linger, after_seq + self._min_batch)
            batch = self._spool.read(after_seq, self._batch)
        if batch and self._metrics is not None:
            self._metrics.batch_messages.observe(len(batch))
            self._metrics.batch_age.observe(max(time.time_ns() - batch[0][1].received_ns, 0) / 1e9)
        return batch

    def _linger(self, want_seq: int) -> None:
        deadline = time.monotonic() + self._linger_s
        while not self._stop.is_set() and (last := self._spool.last_seq) < want_seq:
            left = deadline - time.monotonic()
            if left <= 0 or not self._spool.wait(last, left):
                return

    def _timed(self, stage: str, fn: Callable[..., _T], *args: Any) -> _T:
        if self._metrics is None:
            return fn(*args)
        t0 = time.perf_counter()
        try:
            return fn(*args)
        finally:
            self._metrics.stage(stage, time.perf_counter() - t0)

    def _commit(self, last: int) -> None:
        self._spool.commit(last)
        self.position = last

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self.run_once() == 0:
                    self._timed("idle", self._spool.wait, self.position, self._idle_wait_s)
            except Exception:
                log.exception("log pipeline batch after seq %d failed; retrying", self.position)
                self._stop.wait(self._backoff_s)

    def _wait_delivery(self, inflight: tuple[int, Future[None]] | None) -> None:
        """:meth:`_settle`, timed as ``delivery_wait`` when a delivery is in flight."""
        if inflight is None:
            return
        self._timed("delivery_wait", self._settle, inflight)

    def _settle(self, inflight: tuple[int, Future[None]] | None) -> None:
        """Wait for the delivery in flight; commit its last seq once it returned (re-raises its failure)."""
        if inflight is not None:
            last, done = inflight
            done.result()
            self._commit(last)

    def _run_overlapped(self, staged: Staged) -> None:
        inflight: tuple[int, Future[None]] | None = None
        read_pos = self.position
        with ThreadPoolExecutor(1, thread_name_prefix="log-deliver") as deliverer:
            while not self._stop.is_set():
                try:
                    batch = self._read(read_pos)
                    if not batch:
                        pending, inflight = inflight, None
                        self._wait_delivery(pending)
                        self._timed("idle", self._spool.wait, self.position, self._idle_wait_s)
                        continue
                    prepared = self._timed(
                        "prepare", staged.prepare, batch
                    )  # while the previous is delivered
                    pending, inflight = inflight, None
                    self._wait_delivery(pending)  # a failure is logged once, below
                    inflight = (
                        batch[-1][0],
                        deliverer.submit(self._timed, "delivery", staged.deliver, prepared),
                    )
                    read_pos = batch[-1][0]
                except Exception:
                    log.exception("log pipeline batch after seq %d failed; retrying", self.position)
                    self._abandon(inflight)
                    inflight = None
                    read_pos = self.position
                    self._stop.wait(self._backoff_s)
            self._finish(inflight)

    def _abandon(self, inflight: tuple[int, Future[None]] | None) -> None:
        """After a failure: a delivery still in flight is waited for and committed if it succeeded."""
        try:
            self._settle(inflight)
        except Exception:
            log.exception("log pipeline batch up to seq %d failed; retrying", inflight[0] if inflight else 0)

    def _finish(self, inflight: tuple[int, Future[None]] | None) -> None:
        """On stop: the delivery in flight finishes and is committed (a failed one is retried on restart)."""
        try:
            self._settle(inflight)
        except Exception:
            log.exception("log pipeline batch after seq %d failed at stop; replayed at start", self.position)

    def start(self) -> None:
        process = self._process
        work = (lambda: self._run_overlapped(process)) if isinstance(process, Staged) else self._run

        def target() -> None:
            drop_slice_request()  # ingest: a read that wakes may preempt it (metrics_store.sched_slice)
            work()

        self._thread = threading.Thread(target=target, name="log-consumer", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
