"""``sum``'s batched paths (groups stacked at once, large groups a chunk of members at a time) add exactly
what the one-member-at-a-time fold adds, and a large group is never stacked whole."""

from __future__ import annotations

import time
import tracemalloc

import numpy as np
import pytest

from metrics_store.memory import MemoryStore
from metrics_store.model import Labels
from metrics_store.promql import _aggregate
from metrics_store.promql._aggregate import _fold, _sums
from metrics_store.promql._context import EvalContext
from metrics_store.promql._steps import StepSeries

_SPECIAL = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e308, -1e308, 5e-324])


def _ctx(n: int) -> EvalContext:
    return EvalContext(
        querier=MemoryStore(),
        steps_ms=np.arange(n, dtype=np.int64),
        start_ms=0,
        end_ms=n - 1,
        lookback_ms=1,
        max_samples=10**9,
        deadline=time.monotonic() + 600,
        monotonic=time.monotonic,
    )


def _members(rng: np.random.Generator, count: int, n: int, tag: str) -> list[StepSeries]:
    out = []
    for m in range(count):
        values = rng.normal(0, 10.0 ** rng.integers(-3, 12), n)
        special = rng.random(n) < 0.05
        values[special] = rng.choice(_SPECIAL, int(special.sum()))
        out.append(StepSeries((("g", tag), ("m", str(m))), values, rng.random(n) < 0.8))
    return out


@pytest.mark.parametrize("batch", [1 << 17, 64, 7, 1], ids=["default", "chunks-of-members", "tiny", "one"])
@pytest.mark.parametrize("seed", range(6))
def test_sums_bit_identical_to_fold(seed: int, batch: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Groups of several sizes (some alone, some sharing a size), NaN/inf/±0/subnormals, absent steps;
    ``batch`` small enough that most groups are summed a chunk of members at a time (each chunk carrying
    the sum so far), or at once."""
    monkeypatch.setattr(_aggregate, "_SUM_BATCH_ELEMENTS", batch)
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 40))
    groups: dict[Labels, list[StepSeries]] = {
        (("g", str(k)),): _members(rng, int(rng.choice([1, 2, 3, 17, 40])), n, str(k))
        for k in range(int(rng.integers(1, 7)))
    }
    got = _sums(_ctx(n), groups)
    assert [s.labels for s in got] == list(groups)
    for s, members in zip(got, groups.values(), strict=True):
        want_values, want_present = _fold("sum", members, n)
        assert s.present.tolist() == want_present.tolist()
        # bit for bit where present (NaN payloads and the sign of zero included)
        got_bits = s.values[s.present].view(np.uint64)
        assert got_bits.tolist() == want_values[want_present].view(np.uint64).tolist()


def test_large_group_is_not_stacked_whole() -> None:
    """A group of 250 members x 5,761 steps (a 24 h ``sum by`` at 15 s step, one of four groups of 1k
    series) is summed with a few MB of temporaries, not three stacked copies of its ~12 MB of values."""
    n, count = 5_761, 250
    rng = np.random.default_rng(0)
    members = [StepSeries((("m", str(m)),), rng.random(n), np.ones(n, dtype=np.bool_)) for m in range(count)]
    ctx = _ctx(n)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        _sums(ctx, {(): members})
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert peak < 8_000_000, f"{peak / 1e6:.1f} MB of temporaries"


@pytest.mark.parametrize("size", [22, 300], ids=["batched-groups", "chunked-group"])
def test_answers_do_not_keep_the_stacked_members_alive(size: int) -> None:
    """Each group's sum is its own array: a view into the stacked batch kept every member's values alive
    as long as the answer (400 groups of 22 members x 5,761 steps held ~408 MB, the answer ~18 MB)."""
    n = 5_761
    groups_n = 40 if size == 22 else 2
    rng = np.random.default_rng(1)
    groups: dict[Labels, list[StepSeries]] = {
        (("g", str(k)),): [
            StepSeries((("g", str(k)), ("m", str(m))), rng.random(n), np.ones(n, dtype=np.bool_))
            for m in range(size)
        ]
        for k in range(groups_n)
    }
    ctx = _ctx(n)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        got = _sums(ctx, groups)
        retained = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    answer = sum(s.values.nbytes + s.present.nbytes for s in got)
    assert retained < 2 * answer + 1_000_000, (
        f"{retained / 1e6:.1f} MB held for a {answer / 1e6:.1f} MB answer"
    )
