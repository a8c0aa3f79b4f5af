"""The pipeline's consumer loop: read the spool after the last committed seq, ``process`` the batch, commit.

``process`` (the function ``log_pipeline.pipeline.build_pipeline`` returns: parse → enrich → pattern → stats
→ store → tail) must make the batch durable in the sink before it returns; only then is it committed. If it
raises, the batch is retried after a backoff (at-least-once: the sink upserts by id, ids derive from the spool
seq).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Protocol

from log_pipeline.base import Spool
from log_pipeline.model import RawMessage

__all__ = ["Batch", "ReadableSpool", "SpoolConsumer"]

log = logging.getLogger("log_pipeline.consumer")

Batch = list[tuple[int, RawMessage]]


class ReadableSpool(Spool, Protocol):
    @property
    def committed_seq(self) -> int: ...

    def wait(self, after_seq: int, timeout_s: float) -> bool: ...


class SpoolConsumer:
    def __init__(
        self,
        spool: ReadableSpool,
        process: Callable[[Batch], None],
        batch_messages: int = 4096,
        idle_wait_s: float = 0.2,
        retry_backoff_s: float = 1.0,
    ) -> None:
        self._spool = spool
        self._process = process
        self._batch = batch_messages
        self._idle_wait_s = idle_wait_s
        self._backoff_s = retry_backoff_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.position = spool.committed_seq

    def run_once(self) -> int:
        """Process one batch if there is one; returns how many messages were committed."""
        batch = self._spool.read(self.position, self._batch)
        if not batch:
            return 0
        self._process(batch)
        last = batch[-1][0]
        self._spool.commit(last)
        self.position = last
        return len(batch)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self.run_once() == 0:
                    self._spool.wait(self.position, self._idle_wait_s)
            except Exception:
                log.exception("log pipeline batch after seq %d failed; retrying", self.position)
                self._stop.wait(self._backoff_s)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="log-consumer", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
