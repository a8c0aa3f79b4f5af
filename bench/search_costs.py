"""Where a two-term search's CPU goes in tantivy (issue 18): thread CPU of one call, median of 40, on an index
built as ``bench/logs.py`` builds it (``--build``), or on one built before (``--index``).

.venv/bin/python bench/search_costs.py --build /tmp/costs-index      # builds 1M lines first (~40-80 s)
.venv/bin/python bench/search_costs.py --index /tmp/costs-index/p<start>
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import tantivy
from prometheus_client import CollectorRegistry

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.logs import corpus
from log_pipeline.model import LogRecord
from log_pipeline.search.tantivy_store import TantivyStore

Q = tantivy.Query
MUST = tantivy.Occur.Must


def build(root: Path, n: int, batch: int = 20_000) -> Path:
    store = TantivyStore(root, registry=CollectorRegistry())
    t0 = time.time_ns() - n * 1000
    lines = corpus(n)
    for first in range(0, n, batch):
        chunk = list(itertools.islice(lines, batch))
        store.write(
            [
                LogRecord(f"{first + j:016x}", t0 + (first + j) * 1000, m, {"app": "bench", "level": "info"})
                for j, m in enumerate(chunk)
            ]
        )
    store.close()
    return next(root.glob("p*"))


def cpu_ms(fn: Callable[[], object], runs: int = 40) -> float:
    fn()
    times = []
    for _ in range(runs):
        c = time.thread_time()
        fn()
        times.append(time.thread_time() - c)
    return statistics.median(times) * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", type=Path, help="build a 1M-line index under this (new) directory first")
    ap.add_argument("--index", type=Path, help="a partition directory (p<start>) of an index built before")
    a = ap.parse_args()
    path = build(a.build, 1_000_000) if a.build else a.index
    index = tantivy.Index.open(str(path))
    s, schema = index.searcher(), index.schema
    one, two = Q.term_query(schema, "message", "timeout"), Q.term_query(schema, "message", "upstream")
    both = Q.boolean_query([(MUST, one), (MUST, two)])
    newest = s.search(Q.all_query(), 1, count=False, order_by_field="ts").hits[0][0]
    print(f"{s.num_docs:,} documents in {s.num_segments} segments; {s.search(both, 1).count:,} match")
    desc, asc = tantivy.Order.Desc, tantivy.Order.Asc
    cases: list[tuple[str, Callable[[], object]]] = [
        ("top 117 by ts + count (the store before)", lambda: s.search(both, 117, order_by_field="ts")),
        ("top 117 by ts, no count", lambda: s.search(both, 117, count=False, order_by_field="ts")),
        ("top 117 by ts ascending, no count", lambda: s.search(both, 117, False, "ts", order=asc)),
        ("top 1 by ts + count", lambda: s.search(both, 1, order_by_field="ts", order=desc)),
        ("top 1 by score + count", lambda: s.search(both, 1)),
        ("top 1 by constant score + count", lambda: s.search(Q.const_score_query(both, 1.0), 1)),
        ("aggregation value_count(ts)", lambda: s.aggregate(both, {"c": {"value_count": {"field": "ts"}}})),
        ("one term (timeout), top 1 by ts + count", lambda: s.search(one, 1, order_by_field="ts")),
        ("all documents, top 1 by ts + count", lambda: s.search(Q.all_query(), 1, order_by_field="ts")),
        (
            "bitset count: upstream's postings vs timeout",
            lambda: s.terms_with_prefix("message", "upstream", one),
        ),
    ]
    for frac in (0.001, 0.01, 0.1):
        lo = newest - int(1e9 * frac)  # bench/logs.py's lines are 1 µs apart: 1 s in all
        rng = Q.range_query(schema, "ts", tantivy.FieldType.Integer, lo, None)
        window = Q.boolean_query([(MUST, both), (MUST, rng)])
        cases.append(
            (f"top 117 by ts in the newest {frac:.1%}", lambda w=window: s.search(w, 117, False, "ts"))  # type: ignore[misc]
        )
    for name, fn in cases:
        print(f"{name:48s} {cpu_ms(fn):7.2f} ms CPU")


if __name__ == "__main__":
    main()
