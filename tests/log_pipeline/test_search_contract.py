"""One contract suite over every SearchStore: ids like ``embedded:phrase_query``.

Each case states its expectation with a Python oracle over the dataset, and every store computes its answer
itself: the embedded tantivy store, and the ``elasticsearch`` store on a live 3-node OpenSearch 2.19 cluster
(``opensearch:<case>``, one cluster per session: tests/log_pipeline/conftest.py). Nothing is primed with the
expected hits. The Elasticsearch client's half is checked against documentation-derived response shapes only
(tests/log_pipeline/test_es_shapes.py): no Elasticsearch server runs here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from log_pipeline.model import LogRecord
from log_pipeline.search.base import Bucket, InvalidArgumentError, RecordNotFoundError, SearchStore
from log_pipeline.search.es_store import ElasticsearchStore
from log_pipeline.search.opensearch_cluster import OpenSearchCluster
from log_pipeline.search.query import QuerySyntaxError
from log_pipeline.search.tantivy_store import TantivyStore
from platforms.tenancy import Grant, Scope
from tests.log_pipeline.conftest import opensearch_store

T0 = 1_714_564_800 * 10**9  # 2024-05-01T12:00:00Z
S = 10**9


def _dataset() -> list[LogRecord]:
    recs = []
    for i in range(24):
        app = "checkout" if i % 2 else "cart"
        org, space = ("globex", "dev") if i % 2 else ("acme", "prod")
        status = [200, 200, 404, 500, 503, 200][i % 6]
        level = "error" if status >= 500 else "info"
        msg = (
            f"GET /orders/{i} {status} took {i}ms" if i % 4 else f"connection refused by db-{i % 3} retrying"
        )
        recs.append(
            LogRecord(
                id=f"r{i:03d}",
                timestamp_ns=T0 + (i // 2) * 60 * S,  # pairs share a timestamp: ties broken by id
                message=msg,
                labels={
                    "app": app,
                    "instance": str(i % 2 and 1),
                    "level": level,
                    "host": "cell-1",
                    "org": org,
                    "space": space,
                },
                fields={"status": status, "method": "GET", "path": f"/orders/{i}", "response_time_s": i / 10},
            )
        )
    return recs


DATA = _dataset()


def newest_first(recs: list[LogRecord]) -> list[LogRecord]:
    return sorted(recs, key=lambda r: (r.timestamp_ns, r.id), reverse=True)


@dataclass
class Harness:
    backend: str
    store: SearchStore


@pytest.fixture(scope="module")
def opensearch_contract_store(live_opensearch: OpenSearchCluster) -> Iterator[ElasticsearchStore]:
    store = opensearch_store(live_opensearch, "contract-logs")
    store.write(DATA)  # durable and searchable when it returns (refresh=wait_for)
    yield store
    store.close()


@pytest.fixture
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    backend = request.param
    if backend == "opensearch":
        yield Harness(backend, request.getfixturevalue("opensearch_contract_store"))
        return
    store = TantivyStore(tmp_path / "idx", partition_s=3600, registry=CollectorRegistry())
    store.write(DATA)
    yield Harness(backend, store)
    store.close()


def ids(recs: list[LogRecord]) -> list[str]:
    return [r.id for r in recs]


def check_query(h: Harness, q: str, pred: Callable[[LogRecord], bool], limit: int = 50) -> None:
    oracle = [r for r in DATA if pred(r)]
    assert oracle, f"the dataset has no record for {q!r}: the case would prove nothing"
    page = h.store.search(q, None, None, limit)
    assert ids(page.hits) == ids(newest_first(oracle))[:limit]
    assert page.total == len(oracle)


def case_phrase_query(h: Harness) -> None:
    check_query(h, '"connection refused"', lambda r: "connection refused" in r.message)


def case_bare_terms_implicit_and(h: Harness) -> None:
    check_query(h, "took 500", lambda r: "took" in r.message and " 500 " in r.message)


def case_label_filters(h: Harness) -> None:
    check_query(
        h,
        "app:checkout level:error",
        lambda r: r.labels["app"] == "checkout" and r.labels["level"] == "error",
    )


def case_range_query(h: Harness) -> None:
    check_query(h, "status:[500 TO 599]", lambda r: 500 <= int(r.fields["status"]) <= 599)


def case_comparison_and_exclusive_range(h: Harness) -> None:
    check_query(
        h,
        "response_time_s:>=1.5 AND status:{200 TO 600}",
        lambda r: float(r.fields["response_time_s"]) >= 1.5 and 200 < int(r.fields["status"]) < 600,
    )


def case_or_not_parentheses(h: Harness) -> None:
    check_query(
        h,
        "(status:404 OR status:500) NOT app:cart",
        lambda r: r.fields["status"] in (404, 500) and r.labels["app"] != "cart",
    )


def case_wildcard(h: Harness) -> None:
    check_query(
        h,
        "path:/orders/1* AND refus*",
        lambda r: str(r.fields["path"]).startswith("/orders/1") and "refused" in r.message,
    )


def case_time_range(h: Harness) -> None:
    lo, hi = T0 + 3 * 60 * S, T0 + 5 * 60 * S
    oracle = [r for r in DATA if lo <= r.timestamp_ns <= hi]
    page = h.store.search("", lo, hi, 50)
    assert ids(page.hits) == ids(newest_first(oracle)) and page.total == len(oracle) == 6


def case_time_range_beyond_int64(h: Harness) -> None:
    """Bounds wider than int64 nanoseconds (the API passes on any integer) select like the widest range."""
    page = h.store.search("", -(10**30), 10**30, 50)
    assert ids(page.hits) == ids(newest_first(DATA)) and page.total == len(DATA)


def case_cursor_pagination(h: Harness) -> None:
    expected = ids(newest_first(DATA))
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = h.store.search("", None, None, 5, cursor)
        assert page.total == len(DATA)
        seen += ids(page.hits)
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == expected and pages == 5


def case_histogram(h: Harness) -> None:
    step = 5 * 60 * S
    end = T0 + 20 * 60 * S
    counts = [0] * 5
    for r in DATA:
        if r.labels["level"] == "error":
            counts[(r.timestamp_ns - T0) // step] += 1
    buckets = h.store.histogram("level:error", T0, end, step)
    assert buckets == [Bucket(T0 + i * step, c) for i, c in enumerate(counts)]
    assert sum(counts) > 0 and 0 in counts  # empty buckets are reported too


def case_histogram_offset_step(h: Harness) -> None:
    """Buckets start at ``start``, not at a multiple of the step since the epoch."""
    step, start = 7 * 60 * S, T0 - 3 * 60 * S
    n = 4
    counts = [0] * n
    for r in DATA:
        k = (r.timestamp_ns - start) // step
        if 0 <= k < n and r.timestamp_ns <= start + n * step - 1:
            counts[k] += 1
    buckets = h.store.histogram("", start, start + n * step - 1, step)
    assert buckets == [Bucket(start + i * step, c) for i, c in enumerate(counts)]


def case_histogram_beyond_rfc3339_years(h: Harness) -> None:
    """Bucket times must be printable (years 0001-9999): a window outside is a bad argument, not a crash."""
    day = 86_400 * S
    year_1 = -62_135_596_800 * S
    year_10000 = 253_402_300_800 * S
    for start, end in [(year_1 - day, year_1 + day), (year_10000 - day, year_10000 + day), (-(10**30), 0)]:
        with pytest.raises(InvalidArgumentError, match="years 0001 to 9999"):
            h.store.histogram("level:error", start, end, day)


def case_context(h: Harness) -> None:
    hit = next(r for r in DATA if r.id == "r011")  # app checkout, instance 1
    same = newest_first([r for r in DATA if r.labels["app"] == "checkout" and r.labels["instance"] == "1"])
    older = [r for r in same if (r.timestamp_ns, r.id) < (hit.timestamp_ns, hit.id)][:2]
    newer = sorted(
        [r for r in same if (r.timestamp_ns, r.id) > (hit.timestamp_ns, hit.id)],
        key=lambda r: (r.timestamp_ns, r.id),
    )[:3]
    ctx = h.store.context("r011", 2, 3)
    assert ctx.hit.id == "r011"
    assert ctx.hit.fields == hit.fields and ctx.hit.labels == hit.labels
    assert ids(ctx.before) == ids(older[::-1]) and len(ctx.before) == 2
    assert ids(ctx.after) == ids(newer) and len(ctx.after) == 3


def case_context_unknown_id(h: Harness) -> None:
    with pytest.raises(RecordNotFoundError):
        h.store.context("nope", 1, 1)


def case_tenant_scope(h: Harness) -> None:
    """A space viewer matches, counts, buckets and pages only its own space, whatever it asks for."""
    acme_prod = Scope.of([Grant("acme", "prod", "viewer")])
    mine = [r for r in DATA if r.labels["org"] == "acme"]
    for q in ["", "org:globex", "app:checkout", "NOT org:acme", "org:*"]:
        page = h.store.search(q, None, None, 50, scope=acme_prod)
        oracle = [r for r in mine if q in ("", "org:*")]
        assert ids(page.hits) == ids(newest_first(oracle)) and page.total == len(oracle), q
    buckets = h.store.histogram("", T0, T0 + 12 * 60 * S - 1, 12 * 60 * S, scope=acme_prod)
    assert buckets == [Bucket(T0, len(mine))]
    foreign = next(r for r in DATA if r.labels["org"] == "globex")
    with pytest.raises(RecordNotFoundError):
        h.store.context(foreign.id, 1, 1, scope=acme_prod)
    assert h.store.context(mine[0].id, 0, 0, scope=acme_prod).hit.id == mine[0].id


def case_upsert_by_id(h: Harness) -> None:
    changed = LogRecord("r003", DATA[3].timestamp_ns, "rewritten line", dict(DATA[3].labels), {"status": 201})
    h.store.write([changed])
    try:
        page = h.store.search("rewritten", None, None, 10)
        assert ids(page.hits) == ["r003"] and page.hits[0].fields == {"status": 201}
        assert h.store.search("", None, None, 100).total == len(DATA)
    finally:
        h.store.write([DATA[3]])  # the store is shared by the module's cases
    assert h.store.search("rewritten", None, None, 10).total == 0


def case_bad_query(h: Harness) -> None:
    for q, col in [("(app:cart", 10), ("status:[1 TO", 13), ('"open', 1), ("app:", 5)]:
        with pytest.raises(QuerySyntaxError) as err:
            h.store.search(q, None, None, 10)
        assert err.value.column == col, (q, str(err.value))


CASES: dict[str, Callable[[Harness], None]] = {
    name[5:]: fn for name, fn in globals().items() if name.startswith("case_") and callable(fn)
}
BACKENDS = [pytest.param("embedded", id="embedded"), pytest.param("opensearch", marks=pytest.mark.opensearch)]


@pytest.mark.parametrize(
    ("harness", "case"),
    [pytest.param(b.values[0], c, marks=b.marks, id=f"{b.values[0]}:{c}") for b in BACKENDS for c in CASES],
    indirect=["harness"],
)
def test_contract(harness: Harness, case: str) -> None:
    CASES[case](harness)
