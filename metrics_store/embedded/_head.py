"""The head: samples acknowledged (in the WAL) but not yet folded into DuckDB, as numpy chunks.

Appending a batch costs one list append (a scrape's batch, whose samples share one timestamp, keeps it
once: 12 bytes a sample instead of 20, see :func:`shared_ts`); readers take a ``snapshot`` (the chunk list
at that moment; chunks are never mutated) and filter it outside the store lock. ``compact`` merges the
chunks a reader saw into one so the next reader concatenates less (that merged chunk holds every
timestamp: 20 bytes a sample again, until the next fold).

Thread safety: ``append``/``compact``/``snapshot`` run under the store lock; snapshots are read without it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

__all__ = ["Chunk", "Head", "concat", "empty_chunk", "shared_ts"]


@dataclass(frozen=True, slots=True)
class Chunk:
    refs: npt.NDArray[np.uint32]
    ts: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.refs)


def shared_ts(ts: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """``ts`` as the head keeps it: when every sample has the same timestamp (one scrape), a read-only view
    of a single copy of it (stride 0: 8 bytes, not 8 per sample); otherwise ``ts`` itself. Every reader
    indexes, compares or concatenates chunks' timestamps, so the view reads exactly as the full array."""
    n = len(ts)
    if n < 2 or ts[0] != ts[-1] or not bool((ts == ts[0]).all()):
        return ts
    return np.broadcast_to(ts[:1].copy(), (n,))


def empty_chunk() -> Chunk:
    return Chunk(np.empty(0, np.uint32), np.empty(0, np.int64), np.empty(0, np.float64))


def concat(chunks: list[Chunk]) -> Chunk:
    if not chunks:
        return empty_chunk()
    if len(chunks) == 1:
        return chunks[0]
    return Chunk(
        np.concatenate([c.refs for c in chunks]),
        np.concatenate([c.ts for c in chunks]),
        np.concatenate([c.values for c in chunks]),
    )


@dataclass(slots=True)
class Head:
    chunks: list[Chunk] = field(default_factory=list)
    samples: int = 0

    def append(self, chunk: Chunk) -> None:
        self.chunks.append(chunk)
        self.samples += len(chunk)

    def snapshot(self) -> list[Chunk]:
        return list(self.chunks)

    def compact(self, seen: list[Chunk], merged: Chunk) -> None:
        """Replace the prefix ``seen`` (if still the prefix) by ``merged`` (their concatenation)."""
        n = len(seen)
        if n > 1 and len(self.chunks) >= n and all(a is b for a, b in zip(self.chunks, seen, strict=False)):
            self.chunks[:n] = [merged]
