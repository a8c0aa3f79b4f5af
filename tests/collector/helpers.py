"""Async polling and store reading for the collector tests (poll with deadlines, never fixed sleeps)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from metrics_store.memory import MemoryStore
from metrics_store.model import Labels, Matcher, MatchOp, SeriesData, is_stale_nan

__all__ = ["eventually", "is_stale", "last_value", "select", "series_labels_of"]

END = 2**62


async def eventually(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise TimeoutError(f"timed out after {timeout_s:.1f}s waiting for {what}")


def select(store: MemoryStore, name: str, **labels: str) -> list[SeriesData]:
    matchers = [Matcher("__name__", MatchOp.EQ, name)] + [
        Matcher(k, MatchOp.EQ, v) for k, v in labels.items()
    ]
    return store.select(matchers, 0, END)


def last_value(store: MemoryStore, name: str, **labels: str) -> float | None:
    """Last sample of the single matching series (None when absent)."""
    found = select(store, name, **labels)
    if not found:
        return None
    assert len(found) == 1, [s.labels for s in found]
    return float(found[0].values[-1])


def is_stale(store: MemoryStore, name: str, **labels: str) -> bool:
    found = select(store, name, **labels)
    return bool(found) and all(is_stale_nan(float(s.values[-1])) for s in found)


def series_labels_of(store: MemoryStore, name: str) -> list[Labels]:
    return [s.labels for s in select(store, name)]
