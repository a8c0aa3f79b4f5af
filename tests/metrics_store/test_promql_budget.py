"""The in-flight budget (``max_inflight_samples``): queries sharing an engine hold their steps (before
evaluation) and the samples they read from one pool; one that does not fit waits for room until its
deadline, then answers 503 ``unavailable``; one larger than the pool alone is refused at once."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest
from prometheus_client import CollectorRegistry

from metrics_store.config import QueryLimits
from metrics_store.memory import MemoryStore
from metrics_store.model import Labels, Matcher, SeriesData, labels_from
from metrics_store.promql import Engine, QueryBusyError, SampleBudget, TooManySamplesError, Vector
from metrics_store.promql.semantics import PROMETHEUS_2

HEAVY = "max_over_time(m[10m:1s])"  # 603 steps (call, subquery, 601 inner), then all 200 samples of m read


class _GatedStore:
    """A MemoryStore whose selects wait for ``gate`` once ``entered`` is set (a query held mid-way)."""

    def __init__(self) -> None:
        self.store = MemoryStore()
        ref = self.store.series_ref(labels_from({"__name__": "m"}))
        self.store.append([ref] * 200, [t * 3_000 for t in range(200)], [float(t) for t in range(200)])
        self.entered = threading.Event()
        self.gate = threading.Event()
        self.held_at_select: list[int] = []
        self.budget: SampleBudget | None = None

    def select(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> list[SeriesData]:
        if self.budget is not None:
            self.held_at_select.append(self.budget.held)
        self.entered.set()
        assert self.gate.wait(30)
        return self.store.select(matchers, start_ms, end_ms)

    def series(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> list[Labels]:
        return self.store.series(matchers, start_ms, end_ms)

    def close(self) -> None:
        self.store.close()


def _engine(querier: object, budget: SampleBudget, timeout_s: float = 30.0) -> Engine:
    # 2.42 semantics: the subquery's inner grid includes the window start (3.x: left-open, a step less)
    return Engine(
        querier, registry=CollectorRegistry(), budget=budget, timeout_s=timeout_s, semantics=PROMETHEUS_2
    )  # type: ignore[arg-type]


def test_a_query_waits_for_room_then_answers_busy_and_everything_is_given_back() -> None:
    gated = _GatedStore()
    budget = SampleBudget(1_000)
    gated.budget = budget
    engine = _engine(gated, budget)
    first: dict[str, object] = {}
    worker = threading.Thread(target=lambda: first.update(value=engine.instant_query(HEAVY, 600_000)))
    worker.start()
    try:
        assert gated.entered.wait(30)
        assert budget.held == 603  # the steps, reserved before the first read
        with pytest.raises(QueryBusyError) as info:
            engine.instant_query(HEAVY, 600_000, timeout_s=0.2)  # 603 more do not fit beside it
        assert (info.value.error_type, info.value.http_status) == ("unavailable", 503)
    finally:
        gated.gate.set()
    worker.join(30)
    assert not worker.is_alive()
    assert isinstance(first["value"], Vector) and first["value"].samples[0].value == 199.0
    assert budget.held == 0
    assert gated.held_at_select == [603]


def test_a_waiting_query_runs_once_room_is_given_back() -> None:
    gated = _GatedStore()
    budget = SampleBudget(1_000)
    engine = _engine(gated, budget)
    results: list[object] = []
    threads = [threading.Thread(target=lambda: results.append(engine.instant_query(HEAVY, 600_000)))]
    threads[0].start()
    try:
        assert gated.entered.wait(30)
        threads.append(threading.Thread(target=lambda: results.append(engine.instant_query(HEAVY, 600_000))))
        threads[1].start()
    finally:
        gated.gate.set()
    for t in threads:
        t.join(30)
        assert not t.is_alive()
    assert len(results) == 2 and all(isinstance(r, Vector) for r in results)
    assert budget.held == 0


def test_samples_read_count_and_a_query_larger_than_the_pool_is_refused_at_once() -> None:
    gated = _GatedStore()
    gated.gate.set()
    with pytest.raises(TooManySamplesError):
        _engine(gated, SampleBudget(602)).instant_query(HEAVY, 600_000)  # 603 steps
    with pytest.raises(TooManySamplesError):
        _engine(gated, SampleBudget(802)).instant_query(HEAVY, 600_000)  # + 200 samples
    budget = SampleBudget(803)
    assert isinstance(_engine(gated, budget).instant_query(HEAVY, 600_000), Vector)
    assert budget.held == 0


def test_the_default_pool_holds_two_queries_at_max_samples() -> None:
    limits = QueryLimits()
    assert limits.max_inflight_samples == 2 * limits.max_samples
