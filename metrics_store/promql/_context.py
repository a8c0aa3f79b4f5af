"""Per-query evaluation context: the step grid, the Querier, limits. One per query, never shared."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from metrics_store.base import Querier, StoreError
from metrics_store.model import Matcher, SeriesData
from metrics_store.promql._steps import I64
from metrics_store.promql.errors import QueryStorageError, QueryTimeoutError, TooManySamplesError

__all__ = ["EvalContext"]


@dataclass(slots=True)
class EvalContext:
    querier: Querier
    steps_ms: I64
    start_ms: int
    end_ms: int
    lookback_ms: int
    max_samples: int
    deadline: float
    monotonic: Callable[[], float]
    samples_loaded: int = 0

    @property
    def num_steps(self) -> int:
        return len(self.steps_ms)

    def check_deadline(self) -> None:
        if self.monotonic() > self.deadline:
            raise QueryTimeoutError

    def check_samples(self, n: int) -> None:
        """``n`` samples are about to be held by one step of the evaluation."""
        if n > self.max_samples:
            raise TooManySamplesError

    def select(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> list[SeriesData]:
        self.check_deadline()
        try:
            data = self.querier.select(matchers, start_ms, end_ms)
        except StoreError as exc:
            raise QueryStorageError(f"storage error: {exc}") from exc
        loaded = sum(len(s.timestamps_ms) for s in data)
        self.samples_loaded += loaded
        self.check_samples(loaded)
        self.check_deadline()
        return data
