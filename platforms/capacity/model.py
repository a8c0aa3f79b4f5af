"""The capacity arithmetic of a set of cells: free chunks, container slots and N+1 headroom. Pure, no I/O.

A *chunk* is the memory (or disk) of the largest app instance: ``floor(remaining / chunk)`` per cell, summed
over cells, is how many more such instances the foundation can place (PCF Healthwatch's "available free
chunks", whose chunk size is a setting: sized here to the largest instance, the one that must still fit; a
chunk cannot straddle two cells, hence the floor per cell, not of the sum).

*N+1*: the foundation survives losing any one cell when the instances of that cell (its allocated memory, in
chunks, rounded up: each displaced instance is counted as a largest one) fit in the free chunks of the other
cells. :func:`n_plus_one` evaluates every cell as the lost one and keeps the worst: in the usual case the
biggest cell. ``headroom_chunks`` is how many more largest instances can be placed before N+1 is lost
(negative: the deficit).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["CellCapacity", "NPlusOne", "cells_to_add", "chunks_free", "n_plus_one"]


@dataclass(frozen=True, slots=True)
class CellCapacity:
    """One cell now. Memory and disk in MiB; container counts; ``None`` where the platform does not say."""

    name: str
    memory_total_mib: float
    memory_remaining_mib: float
    disk_total_mib: float | None = None
    disk_remaining_mib: float | None = None
    containers_total: float | None = None
    containers_remaining: float | None = None

    @property
    def memory_allocated_mib(self) -> float:
        return max(0.0, self.memory_total_mib - self.memory_remaining_mib)

    @property
    def containers_used(self) -> float | None:
        if self.containers_total is None or self.containers_remaining is None:
            return None
        return max(0.0, self.containers_total - self.containers_remaining)


@dataclass(frozen=True, slots=True)
class NPlusOne:
    """The foundation after losing ``worst_cell`` (the cell whose loss leaves the least headroom)."""

    survives: bool
    worst_cell: str
    headroom_chunks: int  # largest instances that still fit while keeping N+1 (negative: the deficit)
    headroom_mib: float  # the same in MiB, without the chunk rounding
    containers_headroom: float | None  # container slots left after re-placing the lost cell's containers


def chunks_free(remaining_mib: Sequence[float | None], chunk_mib: float) -> int:
    """How many chunks of ``chunk_mib`` fit in the cells' remaining capacity (a chunk stays in one cell)."""
    if chunk_mib <= 0:
        raise ValueError(f"chunk_mib must be > 0, got {chunk_mib}")
    return sum(math.floor(max(0.0, r) / chunk_mib) for r in remaining_mib if r is not None)


def n_plus_one(cells: Sequence[CellCapacity], chunk_mib: float) -> NPlusOne | None:
    """N+1 headroom of ``cells`` in chunks of ``chunk_mib`` (None for fewer than two cells: losing the only
    cell loses everything)."""
    if len(cells) < 2:
        return None
    per_cell = [chunks_free([c.memory_remaining_mib], chunk_mib) for c in cells]
    total_chunks = sum(per_cell)
    total_free = sum(max(0.0, c.memory_remaining_mib) for c in cells)
    worst: tuple[int, float, str] | None = None
    for cell, own in zip(cells, per_cell, strict=True):
        displaced = math.ceil(cell.memory_allocated_mib / chunk_mib - 1e-9)
        chunks = total_chunks - own - displaced
        mib = total_free - max(0.0, cell.memory_remaining_mib) - cell.memory_allocated_mib
        if worst is None or (chunks, mib) < worst[:2]:
            worst = (chunks, mib, cell.name)
    assert worst is not None
    return NPlusOne(
        survives=worst[0] >= 0 and worst[1] >= 0,
        worst_cell=worst[2],
        headroom_chunks=worst[0],
        headroom_mib=worst[1],
        containers_headroom=_containers_headroom(cells),
    )


def _containers_headroom(cells: Sequence[CellCapacity]) -> float | None:
    if any(c.containers_used is None or c.containers_remaining is None for c in cells):
        return None
    free = sum(max(0.0, c.containers_remaining or 0.0) for c in cells)
    return min(free - max(0.0, c.containers_remaining or 0.0) - (c.containers_used or 0.0) for c in cells)


def cells_to_add(allocated_mib: float, cells: Sequence[CellCapacity], chunk_mib: float) -> int:
    """How many cells the size of the biggest one must be added so that ``allocated_mib`` (e.g. a projected
    allocation) still fits after losing the biggest cell, with one chunk to spare for the next instance. A
    single cell has no N+1 to keep: there the allocation only has to fit."""
    if not cells:
        return 0
    biggest = max(c.memory_total_mib for c in cells)
    if biggest <= 0:
        return 0
    total = sum(c.memory_total_mib for c in cells)
    usable = total - biggest if len(cells) > 1 else total  # N+1: the biggest cell may be lost
    shortfall = allocated_mib + chunk_mib - usable
    return max(0, math.ceil(shortfall / biggest - 1e-9))
