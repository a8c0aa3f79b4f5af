"""Embedded store specifics beyond the contract suite: upserts skip deletes only for ids never written."""

from __future__ import annotations

from pathlib import Path

import pytest
import tantivy
from prometheus_client import CollectorRegistry

from log_pipeline.model import LogRecord
from log_pipeline.search._tantivy_docs import document
from log_pipeline.search.base import SearchError
from log_pipeline.search.tantivy_store import TantivyReader, TantivyStore

T0 = 1_714_564_800 * 10**9


def _rec(i: int, message: str) -> LogRecord:
    return LogRecord(f"{i:016x}", T0 + i * 1000, message, {"app": "a"})


def _store(path: Path) -> TantivyStore:
    return TantivyStore(path, registry=CollectorRegistry())


def test_replay_after_reopen_replaces_not_duplicates(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.write([_rec(i, f"first {i}") for i in range(10)])
    store.close()
    store = _store(tmp_path)  # the greatest id comes from the index, not from memory
    store.write([_rec(i, f"second {i}") for i in range(5, 15)])
    page = store.search("", None, None, 100)
    assert page.total == 15
    assert sorted(r.message.split()[0] for r in page.hits).count("second") == 10
    store.close()


def test_duplicate_ids_in_one_batch_keep_the_last(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.write([_rec(1, "one"), _rec(2, "two"), _rec(2, "two again"), _rec(1, "one again")])
    page = store.search("", None, None, 10)
    assert sorted(r.message for r in page.hits) == ["one again", "two again"]
    store.close()


def test_lower_id_than_written_is_still_an_upsert(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.write([_rec(3, "three"), _rec(9, "nine")])
    store.write([_rec(3, "three again"), _rec(4, "four")])
    page = store.search("", None, None, 10)
    assert sorted(r.message for r in page.hits) == ["four", "nine", "three again"]
    assert store.search("three", None, None, 10).total == 1
    store.close()


def test_partition_with_the_earlier_schema_is_read_and_upserted(tmp_path: Path) -> None:
    sb = tantivy.SchemaBuilder()  # before: id not fast, ts indexed
    sb.add_text_field("id", stored=True, tokenizer_name="raw", index_option="basic")
    sb.add_integer_field("ts", stored=True, indexed=True, fast=True)
    sb.add_integer_field("ts_ms", fast=True)
    sb.add_text_field("message", stored=True, tokenizer_name="default", index_option="position")
    sb.add_text_field("lbl", tokenizer_name="raw", index_option="basic")
    sb.add_text_field("kv", tokenizer_name="raw", index_option="basic")
    sb.add_json_field("num", fast=True, tokenizer_name="raw", index_option="basic")
    sb.add_bytes_field("src", stored=True, indexed=False)
    part = tmp_path / f"p{T0 // 10**9 // 86_400 * 86_400}"
    part.mkdir()
    index = tantivy.Index(sb.build(), str(part))
    writer = index.writer(15_000_000, 1)
    for i in range(3):
        writer.add_document(document(_rec(i, f"old {i}")))
    writer.commit()
    writer.wait_merging_threads()
    store = _store(tmp_path)
    assert store.search("old", T0 + 1000, T0 + 2000, 10).total == 2
    store.write([_rec(1, "new 1"), _rec(7, "new 7")])
    page = store.search("", None, None, 10)
    assert sorted(r.message for r in page.hits) == ["new 1", "new 7", "old 0", "old 2"]
    store.close()


def test_rows_are_written_as_records_are_and_a_reader_refuses_both(tmp_path: Path) -> None:
    store = _store(tmp_path)
    recs = [_rec(i, f"row {i}") for i in range(6)]
    store.write(recs[:3])
    store.write_rows(
        [(r.id, r.timestamp_ns, r.message, r.labels, r.fields, r.pattern_id, r.template) for r in recs[3:]]
    )
    assert store.search("", None, None, 10).hits == sorted(
        recs, key=lambda r: (r.timestamp_ns, r.id), reverse=True
    )
    reader = TantivyReader(tmp_path, registry=CollectorRegistry())
    for write in (lambda: reader.write(recs), lambda: reader.write_rows([])):
        with pytest.raises(SearchError, match="read-only"):
            write()
    assert reader.search("", None, None, 10).total == 6
    reader.close()
    store.close()


class _ReloadSpy:
    """A partition's index with its reloads counted (tantivy's ``Index`` takes no new attributes)."""

    def __init__(self, index: object) -> None:
        self._index = index
        self.reloads = 0

    def reload(self) -> None:
        self.reloads += 1
        self._index.reload()  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> object:
        return getattr(self._index, name)


def test_a_reader_reloads_a_partition_only_after_a_commit(tmp_path: Path) -> None:
    """A search in a worker refreshes first; with no commit since the last one, tantivy is not asked to
    re-read the partition (meta.json's bytes decide), and after a commit it is, and sees it."""
    store = _store(tmp_path)
    store.write([_rec(0, "first")])
    reader = TantivyReader(tmp_path, registry=CollectorRegistry())
    part = next(iter(reader._parts.values()))
    spy = _ReloadSpy(part.index)
    part.index = spy  # type: ignore[assignment]
    for _ in range(3):
        assert reader.search("", None, None, 10).total == 1
    assert spy.reloads == 0
    store.write([_rec(1, "second")])
    assert [r.message for r in reader.search("", None, None, 10).hits] == ["second", "first"]
    assert spy.reloads == 1
    store.close()


def test_a_reader_sees_every_one_of_many_quick_commits(tmp_path: Path) -> None:
    """Every one of 40 commits in quick succession (tens of ms apart here) is seen by the next search: each
    rewrites meta.json with a higher opstamp, whatever the file's inode and time stamps."""
    store = _store(tmp_path)
    reader = TantivyReader(tmp_path, registry=CollectorRegistry())
    for i in range(40):
        store.write([_rec(i, f"line {i}")])
        page = reader.search("", None, None, 1)
        assert (page.total, page.hits[0].message) == (i + 1, f"line {i}")
    store.close()
