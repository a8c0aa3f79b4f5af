"""Segment files of the spool: ``<first_seq:020d>.seg``, append-only, one record per group commit.

Record layout (little endian)::

    u32 payload_length | u32 crc32(payload) | payload
    payload = u64 first_seq | u32 count | count × message
    message = i64 received_ns | u16 len(transport) | u16 len(peer) | u32 len(data) | transport | peer | data

A torn tail (a crash in the middle of a write: short header, short payload, CRC mismatch) is cut off on open
with a warning; it was never acknowledged, because an append returns only after its whole record was written.
"""

from __future__ import annotations

import logging
import os
import struct
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from log_pipeline.model import RawMessage, raw_message

__all__ = ["RecordRef", "decode", "dump", "encode", "scan_segment", "segment_path", "segments"]

log = logging.getLogger("log_pipeline.spool")

_HEADER = struct.Struct("<II")
_BATCH = struct.Struct("<QI")
_MSG = struct.Struct("<qHHI")
SUFFIX = ".seg"


@dataclass(slots=True)
class RecordRef:
    """Where one record lives: its sequence range, segment, byte offset and total length."""

    first_seq: int
    last_seq: int
    offset: int
    length: int


def segment_path(directory: Path, first_seq: int) -> Path:
    return directory / f"{first_seq:020d}{SUFFIX}"


def segments(directory: Path) -> list[tuple[int, Path]]:
    """Existing segments as ``(first_seq, path)``, oldest first."""
    out = [(int(p.stem), p) for p in directory.glob(f"*{SUFFIX}") if p.stem.isdigit()]
    return sorted(out)


def encode(first_seq: int, messages: Sequence[RawMessage]) -> bytes:
    pack = _MSG.pack
    parts: list[bytes] = [b"", _BATCH.pack(first_seq, len(messages))]
    append = parts.append
    cache: dict[str, bytes] = {}
    for m in messages:
        t = cache.get(m.transport)
        if t is None:
            t = cache[m.transport] = m.transport.encode()
        p = cache.get(m.peer)
        if p is None:
            p = cache[m.peer] = m.peer.encode()
        append(pack(m.received_ns, len(t), len(p), len(m.data)))
        append(t)
        append(p)
        append(m.data)
    payload = b"".join(parts)
    return _HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def decode(record: bytes, after_seq: int = 0) -> tuple[int, list[tuple[int, RawMessage]]]:
    """``(first_seq, [(seq, message), ...])`` of one whole record (header included, CRC already checked),
    the messages with a seq at most ``after_seq`` left out. Consecutive messages of one connection share
    their transport and peer: those bytes are compared in place and decoded once per run, not per message."""
    first_seq, count = _BATCH.unpack_from(record, _HEADER.size)
    pos = _HEADER.size + _BATCH.size
    unpack = _MSG.unpack_from
    size = _MSG.size
    starts = record.startswith
    out: list[tuple[int, RawMessage]] = []
    append = out.append
    cache: dict[tuple[int, bytes], tuple[str, str]] = {}  # (len(transport), its bytes + peer's) -> names
    run = b""  # the transport and peer bytes of the previous message
    run_lt = -1
    t = p = ""
    for seq in range(first_seq, first_seq + count):
        ns, lt, lp, ld = unpack(record, pos)
        pos += size
        end = pos + lt + lp
        if lt != run_lt or len(run) != lt + lp or not starts(run, pos):
            run, run_lt = record[pos:end], lt
            names = cache.get((lt, run))
            if names is None:
                names = cache[lt, run] = (
                    run[:lt].decode("utf-8", "replace"),
                    run[lt:].decode("utf-8", "replace"),
                )
            t, p = names
        pos = end + ld
        if seq > after_seq:
            append((seq, raw_message(record[end:pos], ns, t, p)))
    return first_seq, out


def scan_segment(path: Path) -> list[RecordRef]:
    """Index of the valid records of ``path``; a torn or corrupt tail is truncated with a warning."""
    data = path.read_bytes()
    refs: list[RecordRef] = []
    pos = 0
    while pos < len(data):
        reason = ""
        if len(data) - pos < _HEADER.size + _BATCH.size:
            reason = "short header"
        else:
            length, crc = _HEADER.unpack_from(data, pos)
            end = pos + _HEADER.size + length
            if end > len(data):
                reason = "short payload"
            elif zlib.crc32(memoryview(data)[pos + _HEADER.size : end]) != crc:
                reason = "crc mismatch"
        if reason:
            log.warning(
                "spool segment %s: torn record at offset %d (%s): truncating %d bytes",
                path,
                pos,
                reason,
                len(data) - pos,
            )
            os.truncate(path, pos)
            break
        first_seq, count = _BATCH.unpack_from(data, pos + _HEADER.size)
        refs.append(RecordRef(first_seq, first_seq + count - 1, pos, end - pos))
        pos = end
    return refs


def dump(directory: Path) -> Iterator[tuple[int, RawMessage]]:
    """Read-only view of every complete record in ``directory`` (safe while a spool writes to it: an
    incomplete tail is skipped, never truncated). For tests, benches and debugging."""
    for _, path in segments(directory):
        data = path.read_bytes()
        pos = 0
        while len(data) - pos >= _HEADER.size:
            length, crc = _HEADER.unpack_from(data, pos)
            end = pos + _HEADER.size + length
            if end > len(data) or zlib.crc32(memoryview(data)[pos + _HEADER.size : end]) != crc:
                break
            yield from decode(data[pos:end])[1]
            pos = end
