"""The durable file spool (implements :class:`log_pipeline.base.Spool`).

* ``append`` writes one framed record (see ``_segment``) with one ``os.write`` before it returns, so a kill -9
  loses nothing that was appended; ``fsync`` policy decides power-loss safety.
* **Group commit**: concurrent appends queue behind the one being written; the next writer takes every queued
  batch and writes them as one record (one syscall, one CRC).
* **Backpressure**: ``append`` blocks while the unconsumed (uncommitted) messages or bytes exceed the limits,
  until ``commit`` frees room or the spool is closed (then :class:`SpoolClosedError`).
* ``commit(seq)`` atomically replaces the ``committed`` file and deletes segments that are fully committed.

Thread safety: ``append`` from any number of threads; ``read``/``commit``/``wait`` from one reader thread.
"""

from __future__ import annotations

import bisect
import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from log_pipeline.base import LogPipelineError
from log_pipeline.config import FsyncPolicy
from log_pipeline.model import RawMessage
from log_pipeline.spool._segment import RecordRef, decode, encode, scan_segment, segment_path, segments

__all__ = ["FileSpool", "SpoolClosedError", "SpoolError"]

log = logging.getLogger("log_pipeline.spool")
_COMMITTED = "committed"


class SpoolError(LogPipelineError):
    """The spool cannot be opened, written or read (the OSError is chained)."""


class SpoolClosedError(SpoolError):
    """``append`` was called on (or blocked in) a closed spool."""


@dataclass(slots=True)
class _Segment:
    first_seq: int
    path: Path
    refs: list[RecordRef] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)
    size: int = 0
    rfd: int = -1

    @property
    def last_seq(self) -> int:
        return self.refs[-1].last_seq if self.refs else self.first_seq - 1


@dataclass(slots=True)
class _Ticket:
    messages: Sequence[RawMessage]
    last_seq: int = 0
    done: bool = False
    error: BaseException | None = None


class FileSpool:
    def __init__(
        self,
        directory: Path,
        *,
        segment_bytes: int = 64 * 1024 * 1024,
        max_bytes: int = 1024 * 1024 * 1024,
        max_backlog_messages: int = 2_000_000,
        fsync: FsyncPolicy = "never",
        fsync_interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._dir = directory
        self._segment_bytes = segment_bytes
        self._max_bytes = max_bytes
        self._max_backlog = max_backlog_messages
        self._fsync = fsync
        self._fsync_interval_s = fsync_interval_s
        self._clock = clock
        self._last_sync = clock()
        self._cond = threading.Condition()
        self._pending: list[_Ticket] = []
        self._writing = False
        self._closed = False
        self._segs: list[_Segment] = []
        self._wfd = -1
        try:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)  # logs carry secrets: private
            self._committed = self._read_committed()
            for first_seq, path in segments(directory):
                refs = scan_segment(path)
                seg = _Segment(first_seq, path, refs, [r.first_seq for r in refs], path.stat().st_size)
                self._segs.append(seg)
            self._next_seq = max(self._committed + 1, (self._segs[-1].last_seq + 1) if self._segs else 1)
            self._reclaim()
            if not self._segs or self._segs[-1].size >= segment_bytes:
                self._new_segment()
            else:
                self._wfd = os.open(self._segs[-1].path, os.O_WRONLY | os.O_APPEND)
        except OSError as e:
            raise SpoolError(f"cannot open spool in {directory}: {e}") from e
        log.info(
            "spool %s: %d segments, committed seq %d, next seq %d",
            directory,
            len(self._segs),
            self._committed,
            self._next_seq,
        )

    # ---- state -------------------------------------------------------------------------------------------
    @property
    def committed_seq(self) -> int:
        return self._committed

    @property
    def last_seq(self) -> int:
        return self._next_seq - 1

    def backlog(self) -> tuple[int, int]:
        """Unconsumed ``(messages, bytes)``."""
        with self._cond:
            return self._backlog_locked()

    def _backlog_locked(self) -> tuple[int, int]:
        msgs = self._next_seq - 1 - self._committed
        total = sum(s.size for s in self._segs)
        if self._segs:
            head = self._segs[0]
            i = bisect.bisect_right(head.starts, self._committed) - 1
            if i >= 0 and head.refs[i].last_seq <= self._committed:
                total -= head.refs[i].offset + head.refs[i].length
        return msgs, total

    def _full_locked(self, n: int) -> bool:
        msgs, nbytes = self._backlog_locked()
        if msgs == 0:
            return False  # a single oversized batch into an empty spool must not deadlock
        return msgs + n > self._max_backlog or nbytes >= self._max_bytes

    # ---- writer ------------------------------------------------------------------------------------------
    def append(self, messages: Sequence[RawMessage]) -> int:
        if not messages:
            return self._next_seq - 1
        ticket = _Ticket(messages)
        with self._cond:
            while not self._closed and self._full_locked(len(messages)):
                self._cond.wait(1.0)
            if self._closed:
                raise SpoolClosedError(f"spool {self._dir} is closed")
            self._pending.append(ticket)
            while not ticket.done:
                if self._writing:
                    self._cond.wait()
                    continue
                self._write_group()
        if ticket.error is not None:
            raise SpoolError(f"cannot append to spool {self._dir}: {ticket.error}") from ticket.error
        return ticket.last_seq

    def _write_group(self) -> None:
        """Called with the lock held; releases it while encoding and writing."""
        group, self._pending = self._pending, []
        self._writing = True
        first = self._next_seq
        batch: list[RawMessage] = []
        for t in group:
            batch.extend(t.messages)
            t.last_seq = first + len(batch) - 1
        error: BaseException | None = None
        try:
            if self._segs[-1].size >= self._segment_bytes:
                self._rotate()
            seg = self._segs[-1]
            self._cond.release()
            try:
                record = encode(first, batch)
                view = memoryview(record)
                while view:
                    view = view[os.write(self._wfd, view) :]
                if self._fsync == "always" or (
                    self._fsync == "batch" and self._clock() - self._last_sync >= self._fsync_interval_s
                ):
                    os.fdatasync(self._wfd)
                    self._last_sync = self._clock()
            finally:
                self._cond.acquire()
            seg.refs.append(RecordRef(first, first + len(batch) - 1, seg.size, len(record)))
            seg.starts.append(first)
            seg.size += len(record)
            self._next_seq = first + len(batch)
        except OSError as e:
            error = e
        for t in group:
            t.error = error
            t.done = True
        self._writing = False
        self._cond.notify_all()

    def _new_segment(self) -> None:
        path = segment_path(self._dir, self._next_seq)
        self._wfd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._segs.append(_Segment(self._next_seq, path))
        if self._fsync != "never":
            self._sync_dir()

    def _rotate(self) -> None:
        if self._fsync != "never":
            os.fdatasync(self._wfd)
        os.close(self._wfd)
        self._new_segment()

    def _sync_dir(self) -> None:
        dfd = os.open(self._dir, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)

    # ---- reader ------------------------------------------------------------------------------------------
    def read(self, after_seq: int, max_messages: int) -> list[tuple[int, RawMessage]]:
        out: list[tuple[int, RawMessage]] = []
        seq = after_seq + 1
        while len(out) < max_messages:
            with self._cond:
                if seq >= self._next_seq:
                    break
                found = self._find_locked(seq)
            if found is None:
                break
            seg, ref = found
            try:
                if seg.rfd < 0:
                    seg.rfd = os.open(seg.path, os.O_RDONLY)
                record = os.pread(seg.rfd, ref.length, ref.offset)
            except OSError as e:
                raise SpoolError(f"cannot read spool segment {seg.path}: {e}") from e
            _, msgs = decode(record, seq - 1)
            out += msgs[: max_messages - len(out)]
            seq = out[-1][0] + 1 if out else ref.last_seq + 1
        return out

    def _find_locked(self, seq: int) -> tuple[_Segment, RecordRef] | None:
        for seg in self._segs:
            if seg.refs and seg.first_seq <= seq <= seg.last_seq:
                i = bisect.bisect_right(seg.starts, seq) - 1
                return seg, seg.refs[max(i, 0)]
            if seg.refs and seg.first_seq > seq:  # a gap (reclaimed): continue at the next record
                return seg, seg.refs[0]
        return None

    def wait(self, after_seq: int, timeout_s: float) -> bool:
        """Block until a message after ``after_seq`` exists (True) or the timeout/close (False)."""
        with self._cond:
            return self._cond.wait_for(
                lambda: self._next_seq - 1 > after_seq or self._closed, timeout_s
            ) and (self._next_seq - 1 > after_seq)

    def commit(self, seq: int) -> None:
        with self._cond:
            if seq <= self._committed:
                return
            seq = min(seq, self._next_seq - 1)
            tmp = self._dir / f"{_COMMITTED}.tmp"
            try:
                with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
                    f.write(f"{seq}\n")
                    if self._fsync != "never":
                        f.flush()
                        os.fsync(f.fileno())
                tmp.replace(self._dir / _COMMITTED)
                self._committed = seq
                self._reclaim()
            except OSError as e:
                raise SpoolError(f"cannot commit spool {self._dir} at seq {seq}: {e}") from e
            self._cond.notify_all()

    def _reclaim(self) -> None:
        while len(self._segs) > 1 and self._segs[0].last_seq <= self._committed:
            seg = self._segs.pop(0)
            if seg.rfd >= 0:
                os.close(seg.rfd)
            seg.path.unlink(missing_ok=True)

    def _read_committed(self) -> int:
        path = self._dir / _COMMITTED
        try:
            text = path.read_text().strip()
        except FileNotFoundError:
            return 0
        if not text.isdigit():
            log.warning("spool %s: unreadable committed offset %r: replaying everything", self._dir, text)
            return 0
        return int(text)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            while self._writing:
                self._cond.wait()
            for seg in self._segs:
                if seg.rfd >= 0:
                    with contextlib.suppress(OSError):
                        os.close(seg.rfd)
                    seg.rfd = -1
            if self._wfd >= 0:
                with contextlib.suppress(OSError):
                    if self._fsync != "never":
                        os.fdatasync(self._wfd)
                    os.close(self._wfd)
                self._wfd = -1
