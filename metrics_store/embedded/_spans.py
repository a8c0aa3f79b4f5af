"""The ``spans`` table of the embedded store's database, held in memory: which checkpoints a time range
touches, found without a DuckDB query.

Every select first needs the checkpoints (``seq``) whose time range overlaps its window, to prune the
samples by ``seq``. Asked of DuckDB that was a query of its own (~1 ms of CPU), and a window no checkpoint
overlaps (the last few minutes, still in memory) then still ran the samples query (~2.5 ms more) to find
nothing. The table only changes under the database's write lock (a fold, retention), which reloads this
copy before it lets go; a reader takes the copy as it is at that moment (one attribute read), so it sees
each write whole. A fold's rows are in the store's in-memory chunks until after the fold (and its reload)
returns, so a reader that took the copy just before never misses them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["Spans"]


@dataclass(frozen=True)
class Spans:
    """Checkpoint ``seq`` with the ``[min_ts, max_ts]`` of its samples, one entry per row of ``spans``."""

    seq: npt.NDArray[np.int64]
    min_ts: npt.NDArray[np.int64]
    max_ts: npt.NDArray[np.int64]

    @classmethod
    def of(cls, rows: dict[str, npt.NDArray[np.generic]]) -> Spans:
        """From DuckDB's ``fetchnumpy()`` of ``SELECT seq, min_ts, max_ts FROM spans``."""
        return cls(*(np.asarray(rows[k], dtype=np.int64) for k in ("seq", "min_ts", "max_ts")))

    def overlapping(self, start_ms: int, end_ms: int) -> tuple[int, int] | None:
        """The lowest and highest ``seq`` of the checkpoints that overlap ``[start_ms, end_ms]`` (as
        ``max_ts >= start_ms AND min_ts <= end_ms``), or None when none does."""
        hit = (self.max_ts >= start_ms) & (self.min_ts <= end_ms)
        if not hit.any():
            return None
        seqs = self.seq[hit]
        return int(seqs.min()), int(seqs.max())
