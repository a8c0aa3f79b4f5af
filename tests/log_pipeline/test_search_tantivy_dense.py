"""Dense conjunctions in the embedded store: the bitset count and the newest-first windows give exactly what
the plain search gives (totals, hits, their order, later pages), with replays (deleted documents) and bounds.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from log_pipeline.model import LogRecord
from log_pipeline.search import _tantivy_count, tantivy_store
from log_pipeline.search._tantivy_window import window_starts
from log_pipeline.search.base import SearchPage
from log_pipeline.search.tantivy_store import TantivyStore
from platforms.tenancy import FOUNDATION, Grant, Scope

T0 = 1_714_564_800 * 10**9
N = 24_000
WORDS = ["timeout", "upstream", "backend", "cache", "miss", "retry"]
QUERIES = [
    "timeout AND upstream",
    "timeout upstream cache",
    "app:a AND timeout",
    "timeout AND upstream AND NOT cache",
    "level:info AND retry AND miss",
    '"timeout" AND "upstream"',
    "timeout AND upstreams",  # no such term: counted 0
]


def _records(rnd: random.Random, first: int, n: int, step_ns: int) -> list[LogRecord]:
    return [
        LogRecord(
            f"{i:016x}",
            T0 + i * step_ns,
            " ".join(rnd.choice(WORDS) for _ in range(3)) + (" upstreams" if i % 97 == 0 else ""),
            {"app": "a", "level": rnd.choice(["info", "warn"]), "org": rnd.choice(["o1", "o2"])},
        )
        for i in range(first, first + n)
    ]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> TantivyStore:
    rnd = random.Random(7)
    s = TantivyStore(tmp_path_factory.mktemp("dense"), registry=CollectorRegistry())
    for first in range(0, N, 4000):
        s.write(_records(rnd, first, 4000, 1_000_000))  # 1 ms apart: windows of 16 ms, 128 ms, ... matter
    s.write(_records(rnd, 5000, 3000, 1_000_000))  # replays with other words: deleted documents
    return s


def _pages(
    s: TantivyStore, q: str, lo: int | None, hi: int | None, limit: int, scope: Scope = FOUNDATION
) -> list[SearchPage]:
    first = s.search(q, lo, hi, limit, scope=scope)
    second = s.search(q, lo, hi, limit, first.next_cursor, scope=scope) if first.next_cursor else None
    return [first] if second is None else [first, second]


def _plain(s: TantivyStore, monkeypatch: pytest.MonkeyPatch, *args: object) -> list[SearchPage]:
    with monkeypatch.context() as m:
        m.setattr(tantivy_store, "conjunction_count", lambda *_: None)
        return _pages(s, *args)  # type: ignore[arg-type]


@pytest.mark.parametrize("q", QUERIES)
@pytest.mark.parametrize(
    ("lo", "hi", "limit"),
    [(None, None, 100), (None, None, 1), (T0 + 3_000_000_000, T0 + 20_000_000_000, 50), (None, None, 2500)],
)
def test_same_pages_as_the_plain_search(
    store: TantivyStore, monkeypatch: pytest.MonkeyPatch, q: str, lo: int | None, hi: int | None, limit: int
) -> None:
    expected = _plain(store, monkeypatch, q, lo, hi, limit)
    for _ in range(2):  # the second time with the anchor the first one noted
        assert _pages(store, q, lo, hi, limit) == expected


def test_dense_conjunction_is_counted_by_the_bitset(
    store: TantivyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    counted: list[int | None] = []
    real = _tantivy_count.conjunction_count

    def spy(*args: object) -> int | None:
        counted.append(real(*args))  # type: ignore[arg-type]
        return counted[-1]

    monkeypatch.setattr(tantivy_store, "conjunction_count", spy)
    store.search("timeout AND upstream", None, None, 10)  # notes the partition's anchor, if none yet
    page = store.search("timeout AND upstream", None, None, 10)
    assert counted[-1] == page.total  # taken (not None) and exact


def test_windows_grow_below_the_anchor_and_stop_short_of_the_range() -> None:
    assert list(window_starts(None, None, 10**6, 100)) == []
    assert list(window_starts(10**12, None, 799, 100)) == []  # sparse: the plain search is cheaper
    assert list(window_starts(10**12, None, 800, 100)) == [10**12 - 16_000_000 * 8**k for k in range(5)]
    assert list(window_starts(10**12, 10**12 - 200_000_000, 800, 100)) == [
        10**12 - 16_000_000,
        10**12 - 128_000_000,
    ]


@pytest.fixture
def window_found(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each call of ``TantivyStore._newest_in_window`` found its records, in call order."""
    found: list[bool] = []
    real = TantivyStore._newest_in_window

    def spy(self: TantivyStore, *args: object) -> object:
        recs = real(self, *args)  # type: ignore[arg-type]
        found.append(recs is not None)
        return recs

    monkeypatch.setattr(TantivyStore, "_newest_in_window", spy)
    return found


def test_newest_page_comes_from_a_window_once_an_anchor_is_known(
    store: TantivyStore, window_found: list[bool]
) -> None:
    found = window_found
    store.search("upstream AND timeout", None, None, 20)
    store.search("upstream AND timeout", None, None, 20)
    assert found[-1]


def test_records_written_after_the_anchor_are_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_tantivy_count, "MIN_DOC_FREQ", 100)
    rnd = random.Random(3)
    s = TantivyStore(tmp_path, registry=CollectorRegistry())
    s.write(_records(rnd, 0, 3000, 1_000_000))
    s.search("timeout AND upstream", None, None, 20)  # the anchor: the newest match of these
    s.write(_records(rnd, 3000, 500, 1_000_000))  # newer than the anchor
    s.write(_records(rnd, 10_000, 200, -3_000_000)[::-1])  # late: timestamps before the first ones
    s.write(_records(rnd, 2990, 10, 1_000_000))  # replayed just below the anchor, other words
    for limit in (5, 20, 300):
        expected = _plain(s, monkeypatch, "timeout AND upstream", None, None, limit)
        assert _pages(s, "timeout AND upstream", None, None, limit) == expected
    s.close()


@pytest.mark.parametrize("q", ["timeout AND upstream", "upstream", "org:o2 AND timeout"])
def test_same_pages_in_a_tenant_scope(store: TantivyStore, monkeypatch: pytest.MonkeyPatch, q: str) -> None:
    scope = Scope.of([Grant("o1", None, "viewer")])  # (query) AND org:o1: nested, flattened for the count
    expected = _plain(store, monkeypatch, q, None, None, 100, scope)
    assert all(h.labels["org"] == "o1" for p in expected for h in p.hits)
    counted: list[int | None] = []
    real = _tantivy_count.conjunction_count
    monkeypatch.setattr(
        tantivy_store, "conjunction_count", lambda *a: counted.append(real(*a)) or counted[-1]
    )
    for _ in range(2):
        assert _pages(store, q, None, None, 100, scope) == expected
    assert counted[-1] is not None  # the query ANDed with the scope's term: counted by the bitset too


def _walk(s: TantivyStore, q: str, limit: int, pages: int) -> list[SearchPage]:
    out = [s.search(q, None, None, limit)]
    while len(out) < pages and out[-1].next_cursor:
        out.append(s.search(q, None, None, limit, out[-1].next_cursor))
    return out


@pytest.mark.parametrize("q", QUERIES)
@pytest.mark.parametrize("limit", [1, 100, 256])
def test_every_page_past_a_cursor_is_the_plain_one(
    store: TantivyStore, monkeypatch: pytest.MonkeyPatch, q: str, limit: int
) -> None:
    with monkeypatch.context() as m:
        m.setattr(tantivy_store, "conjunction_count", lambda *_: None)
        expected = _walk(store, q, limit, 6)
    assert _walk(store, q, limit, 6) == expected


def test_a_page_past_a_cursor_comes_from_a_window_without_an_anchor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, window_found: list[bool]
) -> None:
    monkeypatch.setattr(_tantivy_count, "MIN_DOC_FREQ", 100)
    rnd = random.Random(5)
    s = TantivyStore(tmp_path, registry=CollectorRegistry())
    s.write(_records(rnd, 0, 12_000, 1_000_000))
    first = s.search("timeout AND upstream", None, None, 100)
    fresh = TantivyStore(tmp_path, registry=CollectorRegistry())  # no search has noted an anchor in it
    found = window_found
    found.clear()  # only the page past the cursor counts
    second = fresh.search("timeout AND upstream", None, None, 100, first.next_cursor)
    assert found == [True]
    assert second.total == first.total
    assert second.hits[0].timestamp_ns < first.hits[-1].timestamp_ns
    s.close()


@pytest.mark.parametrize("limit", [1, 3, 10, 100])
def test_pages_across_timestamp_ties_follow_the_timestamp_then_the_id(tmp_path: Path, limit: int) -> None:
    rnd = random.Random(11)
    records = [  # groups of 7 share a timestamp; written in shuffled order, so ids do not follow addresses
        LogRecord(f"{i:016x}", T0 + (i // 7) * 1_000_000, " ".join(rnd.choice(WORDS) for _ in range(3)), {})
        for i in range(3000)
    ]
    rnd.shuffle(records)
    s = TantivyStore(tmp_path, registry=CollectorRegistry())
    s.write(records)
    for q, words in (("timeout", {"timeout"}), ("timeout AND upstream", {"timeout", "upstream"})):
        expected = sorted(
            (r for r in records if words <= set(r.message.split())),
            key=lambda r: (r.timestamp_ns, r.id),
            reverse=True,
        )
        pages = _walk(s, q, limit, 10**6)
        assert [h.id for p in pages for h in p.hits] == [r.id for r in expected]
        assert {p.total for p in pages} == {len(expected)}
    s.close()


@pytest.mark.parametrize("index", [0, 1, 150, 4999, 12_345, N - 2, N - 1])
@pytest.mark.parametrize("before", [1, 10, 200])
def test_context_is_the_plain_one(
    store: TantivyStore, monkeypatch: pytest.MonkeyPatch, index: int, before: int
) -> None:
    rid = f"{index:016x}"  # org + app: a dense conjunction, so the records before it may come from windows
    with monkeypatch.context() as m:
        m.setattr(tantivy_store, "conjunction_count", lambda *_: None)
        expected = store.context(rid, before, before)
    assert store.context(rid, before, before) == expected


def test_the_records_before_a_context_hit_come_from_a_window(
    store: TantivyStore, window_found: list[bool]
) -> None:
    found = window_found
    ctx = store.context(f"{12_345:016x}", 10, 10)
    assert found == [True] and len(ctx.before) == 10
