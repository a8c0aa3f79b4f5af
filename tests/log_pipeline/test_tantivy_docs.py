"""Differential test of the tantivy document builders (log_pipeline.search._tantivy_docs): a record indexed
from :meth:`DocBuilder.json`'s text (``IndexWriter.add_json``) is the record indexed field by field
(:func:`document`): the same stored values and the same hits for every query, numeric ranges included; a
record whose values JSON cannot carry exactly is left to :func:`document`."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import tantivy

from log_pipeline.model import FieldValue, LogRecord
from log_pipeline.search._tantivy_docs import DocBuilder, Row, document
from log_pipeline.search._tantivy_query import to_tantivy
from log_pipeline.search.query import parse_query
from log_pipeline.search.tantivy_store import _schema

T0 = 1_714_564_800 * 10**9
QUERIES = (
    "",
    "number",
    "app:cart",
    "instance:1",
    "status:503",
    "status:>=502",
    "latency_s:[0.5 TO *]",
    "neg:<0",
    "big:>1000000000000",
    "ok:True",
    "path:/p/3",
    '"number 7"',
    "ünïcode",
    "-app:db",
    'quote:"a\\"b"',
)


def _row(r: LogRecord) -> Row:
    return (r.id, r.timestamp_ns, r.message, r.labels, r.fields, r.pattern_id, r.template)


def _plain(n: int) -> list[LogRecord]:
    return [
        LogRecord(
            f"{i:016x}",
            T0 + i * 1_234_567,
            f'number {i} ünïcode "q" \\ tab\tnl\n{"x" * (i % 3)}',
            {"app": "cart" if i % 3 else "db", "instance": str(i % 2)} if i % 5 else {},
            {
                "status": 500 + i % 5,
                "latency_s": i / 10,
                "path": f"/p/{i}",
                "neg": -i,
                "big": 2**62 + i,
                "ok": i % 2 == 0,
                "quote": 'a"b',
            }
            if i % 7
            else {},
            pattern_id=f"p{i % 4}",
            template="number <*>",
        )
        for i in range(n)
    ]


def _odd() -> list[LogRecord]:
    fields: list[dict[str, FieldValue]] = [
        {"x": math.nan},
        {"x": math.inf},
        {"x": 2**63},
        {"x": -(2**63) - 1},
        {"x": 2**70},
    ]
    recs = [LogRecord(f"f{i:015x}", T0 + i, f"odd {i}", {"app": "odd"}, f) for i, f in enumerate(fields)]
    recs.append(LogRecord("f00000000000000a", T0, "lone \udc80 surrogate", {"app": "odd"}))
    recs.append(LogRecord("f00000000000000b", T0, "label", {"app": "\udc80"}))
    return recs


def _index(tmp: Path, name: str, recs: list[LogRecord], builder: DocBuilder | None) -> tantivy.Index:
    (tmp / name).mkdir()
    index = tantivy.Index(_schema(), str(tmp / name))
    writer = index.writer(15_000_000, 1)
    for r in recs:
        text = None if builder is None else builder.json(_row(r))
        if text is None:
            writer.add_document(document(r))
        else:
            writer.add_json(text)
    writer.commit()
    writer.wait_merging_threads()
    index.reload()
    return index


def _stored(index: tantivy.Index) -> dict[str, dict[str, list[object]]]:
    searcher = index.searcher()
    hits = searcher.search(tantivy.Query.all_query(), limit=10_000).hits
    docs = [searcher.doc(addr).to_dict() for _, addr in hits]
    return {str(d["id"][0]): d for d in docs}


def _hits(index: tantivy.Index, query: str) -> list[str]:
    searcher = index.searcher()
    q = to_tantivy(index, parse_query(query))
    return sorted(str(searcher.doc(addr).get_first("id")) for _, addr in searcher.search(q, 10_000).hits)


def test_json_documents_equal_field_by_field_ones(tmp_path: Path) -> None:
    recs = _plain(300)
    builder = DocBuilder(max_cached=16)  # small: the cache is emptied and refilled on the way
    assert all(builder.json(_row(r)) is not None for r in recs)  # every plain record goes through JSON
    reference = _index(tmp_path, "reference", recs, None)
    built = _index(tmp_path, "json", recs, DocBuilder(max_cached=16))
    assert _stored(built) == _stored(reference)
    assert len(_stored(built)) == len(recs)
    for query in QUERIES:
        expected = _hits(reference, query)
        assert _hits(built, query) == expected, query
    assert _hits(built, "status:>=502")  # the queries select something
    assert len(_hits(built, "status:503")) < len(recs)


@pytest.mark.parametrize("record", _odd(), ids=lambda r: r.id)
def test_values_json_cannot_carry_are_left_to_the_field_by_field_document(record: LogRecord) -> None:
    builder = DocBuilder()
    assert builder.json(_row(record)) is None
    assert builder.json(_row(record)) is None  # cached as such


def test_a_timestamp_beyond_i64_is_left_to_the_field_by_field_document() -> None:
    assert DocBuilder().json(("x", 2**63, "m", {}, {}, "", "")) is None


def test_the_cache_stays_bounded_under_unique_large_lines() -> None:
    # a sender of unique 60 KB structured-data values must not make the index process hold gigabytes
    builder = DocBuilder(max_cached_bytes=1 << 20)
    t0 = 1_700_000_000_000_000_000
    big: list[Row] = [
        (f"id{i:06d}", t0 + i, "m", {"app": "a"}, {"sd": f"{i}" + "x" * 60_000}, "p", "t") for i in range(200)
    ]
    assert all(builder.json(row) is not None for row in big)
    assert builder.cached_bytes == 0  # too large to be worth caching
    small: list[Row] = [
        (f"id{i:06d}", t0 + i, "m", {"app": "a"}, {"n": i, "s": "y" * 2_000}, "p", "t") for i in range(5_000)
    ]
    for row in small:
        builder.json(row)
        assert builder.cached_bytes <= (1 << 20) + 8_192
    again = builder.json(small[-1])
    assert again is not None and again == DocBuilder().json(small[-1])  # a cached tail reads as a fresh one
