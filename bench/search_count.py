"""Ways of counting a dense two-term conjunction exactly in tantivy, timed in-process (issue 18's search
row: the count is the largest item of a search worker's job, ``bench/search_phases.py``).

Each way counts ``timeout AND upstream`` over every partition of an index that ``bench/search_path.py
--build DIR`` made; the figure is the thread CPU (``time.thread_time``) per count, p50 of ``--calls`` calls
per round, over ``--rounds`` rounds with the ways alternated inside each round (one after another, call by
call), so drift hits every way alike. Every way must give the same count, and ``--grep`` checks it against
``grep timeout logs.txt | grep -c upstream``.

.venv/bin/python bench/search_count.py --data /tmp/sp --rounds 5
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import tantivy

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from log_pipeline.search.tantivy_store import _schema

A, B = "timeout", "upstream"
Count = Callable[[tantivy.Searcher, tantivy.Schema], int]


def _term(schema: tantivy.Schema, word: str) -> tantivy.Query:
    return tantivy.Query.term_query(schema, "message", word)


def _count(result: tantivy.SearchResult) -> int:
    """``SearchResult.count`` (set with ``count=True``; tantivy-py's stubs do not declare it)."""
    count: int | None = getattr(result, "count", None)
    return count or 0


def _both(schema: tantivy.Schema) -> tantivy.Query:
    occur = tantivy.Occur.Must
    return tantivy.Query.boolean_query([(occur, _term(schema, A)), (occur, _term(schema, B))])


def walk_against_bitset(s: tantivy.Searcher, schema: tantivy.Schema) -> int:
    """As the store counts today (``_tantivy_count``): ``timeout``'s postings walked against a bitset of
    ``upstream``'s documents (``terms_with_prefix`` with a filter)."""
    return next((c for t, c in s.terms_with_prefix("message", A, filter_query=_term(schema, B)) if t == A), 0)


def walk_against_const_bitset(s: tantivy.Searcher, schema: tantivy.Schema) -> int:
    """The same with the filter as a constant-score query (no scorer built for it)."""
    flt = tantivy.Query.const_score_query(_term(schema, B), 1.0)
    return next((c for t, c in s.terms_with_prefix("message", A, filter_query=flt) if t == A), 0)


def search_count_boolean(s: tantivy.Searcher, schema: tantivy.Schema) -> int:
    """``Searcher.search(BooleanQuery(Must a, Must b), limit=1, count=True)``: tantivy's intersection with
    its count collector (and a top-1 by score)."""
    return _count(s.search(_both(schema), limit=1, count=True))


def search_count_const(s: tantivy.Searcher, schema: tantivy.Schema) -> int:
    """The same boolean query inside a constant-score query: no BM25 per match."""
    q = tantivy.Query.const_score_query(_both(schema), 1.0)
    return _count(s.search(q, limit=1, count=True))


def search_count_ordered(s: tantivy.Searcher, schema: tantivy.Schema) -> int:
    """The count beside a top-1 by the ``ts`` fast field (what a page of newest-first hits asks)."""
    return _count(s.search(_both(schema), limit=1, count=True, order_by_field="ts"))


WAYS: dict[str, Count] = {
    "walk against bitset (today)": walk_against_bitset,
    "walk against const-score bitset": walk_against_const_bitset,
    "search count=True, boolean": search_count_boolean,
    "search count=True, const-score boolean": search_count_const,
    "search count=True, ordered by ts": search_count_ordered,
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, required=True, help="a directory built by bench/search_path.py")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--calls", type=int, default=21)
    ap.add_argument("--grep", action="store_true", help="also check the count against grep -c")
    a = ap.parse_args()
    schema = _schema()
    root = a.data / "data" / "logs" / "search"
    searchers = []
    for part in sorted(p for p in root.iterdir() if p.is_dir()):
        index = tantivy.Index(schema, str(part))
        index.reload()
        searchers.append(index.searcher())

    def total(way: Count) -> int:
        return sum(way(s, schema) for s in searchers)

    counts = {name: total(way) for name, way in WAYS.items()}
    print("counts:", counts)
    if len(set(counts.values())) != 1:
        raise SystemExit("the ways disagree")
    if a.grep:
        grep = f"grep {A} {a.data / 'logs.txt'} | grep -c {B}"
        expected = int(subprocess.run(["sh", "-c", grep], capture_output=True, text=True, check=True).stdout)
        print(f"grep -c: {expected:,} ({'equal' if expected in counts.values() else 'MISMATCH'})")
    per_round: dict[str, list[float]] = {name: [] for name in WAYS}
    for _ in range(a.rounds):
        samples: dict[str, list[float]] = {name: [] for name in WAYS}
        for _ in range(a.calls):
            for name, way in WAYS.items():
                t = time.thread_time()
                total(way)
                samples[name].append(time.thread_time() - t)
        for name in WAYS:
            per_round[name].append(statistics.median(samples[name]) * 1e3)
    for name, ms in per_round.items():
        rounds = ", ".join(f"{x:.3f}" for x in ms)
        print(f"{name:42s} {rounds} ms (median {statistics.median(ms):.3f})")


if __name__ == "__main__":
    main()
