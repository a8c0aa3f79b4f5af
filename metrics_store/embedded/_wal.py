"""Write-ahead log: append-only binary segments ``NNNNNNNN.wal`` in one directory.

Record layout (little endian)::

    u8 type | u32 payload_length | u32 crc32(payload) | payload

* ``SERIES`` payload: repeated ``u32 ref | u16 n_pairs | n_pairs × (u16 len, name utf8, u32 len, value utf8)``
* ``SAMPLES`` payload: ``u32 n | n × u32 ref | n × i64 timestamp_ms | n × f64 value`` (packed numpy arrays,
  so NaN payloads such as the staleness marker survive bit-exactly)
* ``SAMPLES_AT`` payload: ``u32 n | i64 timestamp_ms | n × u32 ref | n × f64 value``: a batch whose samples
  share one timestamp (a scrape), 12 bytes a sample instead of 20. Written since the format had only the two
  types above; older code reads it as an unknown type (a torn tail), so a WAL written by this code must be
  folded (a clean stop folds it) before going back to older code.

A record is written with one ``os.write``/``os.writev`` call per append, straight from the arrays (the OS
keeps it across a kill -9 of the process);
``fsync`` policy decides when it also reaches the disk. A torn tail (crash mid-write: short header, short
payload or CRC mismatch) is truncated on replay with a warning, never an exception.

Thread safety: ``WalWriter`` is not thread-safe; the store serialises calls under its lock.
"""

from __future__ import annotations

import contextlib
import logging
import os
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from metrics_store.config import FsyncPolicy
from metrics_store.errors import WalError
from metrics_store.model import Labels

__all__ = [
    "SAMPLES",
    "SAMPLES_AT",
    "SERIES",
    "WalRecord",
    "WalWriter",
    "encode_samples",
    "encode_series",
    "replay",
    "segments",
]

log = logging.getLogger("metrics_store.wal")

SERIES = 1
SAMPLES = 2
SAMPLES_AT = 3
_TYPES = (SERIES, SAMPLES, SAMPLES_AT)
_HEADER = struct.Struct("<BII")
_PAIR_NAME = struct.Struct("<H")
_PAIR_VALUE = struct.Struct("<I")
_SERIES_HEAD = struct.Struct("<IH")
_COUNT = struct.Struct("<I")
_COUNT_TS = struct.Struct("<Iq")

Buffers = list[bytes | memoryview]
"""One or more records as the pieces ``os.writev`` writes back to back (no copy of the arrays)."""


def _record(rtype: int, payload: bytes) -> bytes:
    return _HEADER.pack(rtype, len(payload), zlib.crc32(payload)) + payload


def encode_series(entries: list[tuple[int, Labels]]) -> bytes:
    parts: list[bytes] = []
    for ref, labels in entries:
        parts.append(_SERIES_HEAD.pack(ref, len(labels)))
        for name, value in labels:
            nb, vb = name.encode(), value.encode()
            parts += (_PAIR_NAME.pack(len(nb)), nb, _PAIR_VALUE.pack(len(vb)), vb)
    return _record(SERIES, b"".join(parts))


def encode_samples(
    refs: npt.NDArray[np.uint32], ts: npt.NDArray[np.int64], values: npt.NDArray[np.float64]
) -> Buffers:
    """One samples record as buffers over the arrays themselves: the header's CRC is computed over the
    pieces in turn, so the payload is never joined into one bytes object (a scrape's 2,000 samples were
    copied three times: ``tobytes``, the join, the header's concatenation). A batch whose timestamps are
    one shared value (``ts`` of stride 0, see ``_head.shared_ts``) is a ``SAMPLES_AT`` record: the
    timestamp once, 12 bytes a sample instead of 20."""
    n = len(refs)
    r = np.ascontiguousarray(refs, np.uint32).data.cast("B")
    v = np.ascontiguousarray(values, np.float64).data.cast("B")
    if n and ts.strides == (0,):
        head = _COUNT_TS.pack(n, int(ts[0]))
        parts: Buffers = [head, r, v]
        rtype = SAMPLES_AT
    else:
        head = _COUNT.pack(n)
        parts = [head, r, np.ascontiguousarray(ts, np.int64).data.cast("B"), v]
        rtype = SAMPLES
    crc = 0
    size = 0
    for part in parts:
        crc = zlib.crc32(part, crc)
        size += len(part)
    return [_HEADER.pack(rtype, size, crc), *parts]


def _decode_series(payload: bytes) -> list[tuple[int, Labels]]:
    out: list[tuple[int, Labels]] = []
    pos = 0
    while pos < len(payload):
        ref, n = _SERIES_HEAD.unpack_from(payload, pos)
        pos += _SERIES_HEAD.size
        pairs: list[tuple[str, str]] = []
        for _ in range(n):
            (ln,) = _PAIR_NAME.unpack_from(payload, pos)
            pos += _PAIR_NAME.size
            name = payload[pos : pos + ln].decode()
            pos += ln
            (lv,) = _PAIR_VALUE.unpack_from(payload, pos)
            pos += _PAIR_VALUE.size
            value = payload[pos : pos + lv].decode()
            pos += lv
            pairs.append((name, value))
        out.append((ref, tuple(pairs)))
    return out


@dataclass(slots=True)
class WalRecord:
    """One replayed record: ``series`` for SERIES records, the three arrays for SAMPLES records."""

    series: list[tuple[int, Labels]] | None = None
    refs: npt.NDArray[np.uint32] | None = None
    ts: npt.NDArray[np.int64] | None = None
    values: npt.NDArray[np.float64] | None = None


def segments(directory: Path) -> list[tuple[int, Path]]:
    """Existing segments, oldest first."""
    out = []
    for p in directory.glob("*.wal"):
        if p.stem.isdigit():
            out.append((int(p.stem), p))
    return sorted(out)


def _read_segment(path: Path, on_torn: Callable[[str], None]) -> Iterator[WalRecord]:
    data = path.read_bytes()
    pos = 0
    while pos < len(data):
        reason = ""
        if len(data) - pos < _HEADER.size:
            reason = "short header"
        else:
            rtype, length, crc = _HEADER.unpack_from(data, pos)
            end = pos + _HEADER.size + length
            if end > len(data):
                reason = "short payload"
            else:
                payload = data[pos + _HEADER.size : end]
                if zlib.crc32(payload) != crc:
                    reason = "crc mismatch"
                elif rtype not in _TYPES:
                    reason = f"unknown record type {rtype}"
        if reason:
            log.warning(
                "wal %s: torn record at offset %d (%s): truncating %d bytes",
                path,
                pos,
                reason,
                len(data) - pos,
            )
            on_torn(reason)
            os.truncate(path, pos)
            return
        if rtype == SERIES:
            yield WalRecord(series=_decode_series(payload))
        elif rtype == SAMPLES_AT:
            n, at = _COUNT_TS.unpack_from(payload, 0)
            off = _COUNT_TS.size
            refs = np.frombuffer(payload, np.uint32, n, off).copy()
            ts = np.full(n, at, np.int64)
            vals = np.frombuffer(payload, np.float64, n, off + 4 * n).copy()
            yield WalRecord(refs=refs, ts=ts, values=vals)
        else:
            (n,) = _COUNT.unpack_from(payload, 0)
            off = _COUNT.size
            refs = np.frombuffer(payload, np.uint32, n, off).copy()
            ts = np.frombuffer(payload, np.int64, n, off + 4 * n).copy()
            vals = np.frombuffer(payload, np.float64, n, off + 12 * n).copy()
            yield WalRecord(refs=refs, ts=ts, values=vals)
        pos = end


def replay(directory: Path, on_torn: Callable[[str], None]) -> Iterator[WalRecord]:
    """Records of every segment in order; torn tails are truncated (``on_torn`` is told why)."""
    try:
        for _, path in segments(directory):
            yield from _read_segment(path, on_torn)
    except OSError as e:
        raise WalError(f"cannot replay write-ahead log in {directory}: {e}") from e


class WalWriter:
    """Appends records to the newest segment; ``rotate`` starts a new one and returns the ids before it."""

    def __init__(
        self, directory: Path, fsync: FsyncPolicy, fsync_interval_s: float, clock: Callable[[], float]
    ) -> None:
        self._dir = directory
        self._fsync = fsync
        self._fsync_interval_s = fsync_interval_s
        self._clock = clock
        self._last_sync = clock()
        self._fd = -1
        self.size = 0
        self.segment_id = 0
        try:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            existing = segments(directory)
            self.size = sum(p.stat().st_size for _, p in existing)
            self._open(existing[-1][0] + 1 if existing else 1)
        except OSError as e:
            raise WalError(f"cannot open write-ahead log in {directory}: {e}") from e

    def _open(self, segment_id: int) -> None:
        path = self._dir / f"{segment_id:08d}.wal"
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self.segment_id = segment_id
        if self._fsync != "never":
            self._sync_dir()

    def _sync_dir(self) -> None:
        dfd = os.open(self._dir, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)

    def write(self, data: bytes | Buffers) -> None:
        """Append ``data`` (one record's bytes, or records as :data:`Buffers`) with one system call; a
        short write (a full disk) is finished from a joined copy of what is left. A write that fails leaves
        nothing behind (:meth:`_discard_from`): replay truncates a segment at its first torn record, so a
        partial record left mid-segment would take every later, acknowledged, append with it."""
        start = -1
        try:
            start = os.lseek(self._fd, 0, os.SEEK_END)  # O_APPEND: where this write's records begin
            parts = [data] if isinstance(data, bytes) else data
            total = sum(len(p) for p in parts)
            done = os.writev(self._fd, parts)
            if done < total:
                view = memoryview(b"".join(parts))[done:]
                while view:
                    view = view[os.write(self._fd, view) :]
            if self._fsync == "always" or (
                self._fsync == "batch" and self._clock() - self._last_sync >= self._fsync_interval_s
            ):
                self.sync()
            self.size += total
        except OSError as e:
            if start >= 0:
                self._discard_from(start)
            raise WalError(f"cannot write write-ahead log segment {self.segment_id}: {e}") from e

    def _discard_from(self, offset: int) -> None:
        """Cut the current segment back to ``offset`` after a failed write; if even that fails, go on in a
        new segment (replay drops the torn tail of this one and carries on with the next)."""
        try:
            os.ftruncate(self._fd, offset)
            return
        except OSError as e:
            log.error("write-ahead log segment %d: cannot cut a failed write (%s)", self.segment_id, e)
        with contextlib.suppress(OSError):
            os.close(self._fd)
        self._fd = -1
        try:
            self._open(self.segment_id + 1)
        except OSError as e:  # every later write fails too (a clear WalError each), until a restart
            log.error(
                "write-ahead log: cannot open segment %d after a failed write: %s", self.segment_id + 1, e
            )

    def sync(self) -> None:
        os.fdatasync(self._fd)
        self._last_sync = self._clock()

    def rotate(self) -> int:
        """Close the current segment and open the next; returns the id of the closed segment."""
        closed = self.segment_id
        try:
            if self._fsync != "never":
                self.sync()
            os.close(self._fd)
            self._open(closed + 1)
        except OSError as e:
            raise WalError(f"cannot rotate write-ahead log: {e}") from e
        return closed

    def remove_up_to(self, segment_id: int) -> None:
        """Delete segments ``<= segment_id`` (their content is in the database now)."""
        try:
            for sid, path in segments(self._dir):
                if sid <= segment_id:
                    self.size -= path.stat().st_size
                    path.unlink()
        except OSError as e:
            raise WalError(f"cannot remove folded write-ahead log segments: {e}") from e
        self.size = max(self.size, 0)

    def close(self) -> None:
        if self._fd >= 0:
            try:
                if self._fsync != "never":
                    self.sync()
                os.close(self._fd)
            except OSError as e:
                raise WalError(f"cannot close write-ahead log: {e}") from e
            finally:
                self._fd = -1
