"""Seams of the log pipeline (one small Protocol each).

* :class:`Spool` — owned by the receivers: durable append before ack; read by the pipeline.
* :class:`PatternMiner` — assigns a pattern id and template to each message, online.
* :class:`LogSink` — where parsed records go (the search stores implement it and more).

Thread safety: a Spool allows concurrent ``append`` from receiver tasks/threads and one reader.
A PatternMiner is called from one pipeline thread. A LogSink's ``write`` may be called from one thread
while searches run on others.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from log_pipeline.model import LogRecord, RawMessage

__all__ = ["LogPipelineError", "LogSink", "PatternMiner", "Spool"]


class LogPipelineError(Exception):
    """Base of every log pipeline error; driver/IO errors are chained as ``__cause__``."""


@runtime_checkable
class Spool(Protocol):
    def append(self, messages: Sequence[RawMessage]) -> int:
        """Durably store ``messages`` (they survive kill -9 when this returns); return the sequence number of
        the last one. Receivers ack a frame only after this returned."""
        ...

    def read(self, after_seq: int, max_messages: int) -> list[tuple[int, RawMessage]]:
        """Messages with sequence numbers > ``after_seq``, ascending, at most ``max_messages``."""
        ...

    def commit(self, seq: int) -> None:
        """Everything up to ``seq`` is in the sink; the spool may reclaim it. Survives restarts."""
        ...


@runtime_checkable
class PatternMiner(Protocol):
    def mine(self, message: str) -> tuple[str, str]:
        """Return ``(pattern_id, template)`` for ``message``, learning online; ids are stable."""
        ...


@runtime_checkable
class LogSink(Protocol):
    def write(self, records: Sequence[LogRecord]) -> None:
        """Store records (upsert by ``id``). Durable and searchable when this returns."""
        ...

    def close(self) -> None: ...
