"""Embedded search store on tantivy: one index per time partition under ``path``.

Layout: ``path/p<unix-seconds>/`` holds the records with timestamps in ``[start, start + partition_s)``.
Schema (see :func:`_schema`): ``id`` (raw, upsert key), ``ts`` (ns, fast: sort key and ranges), ``ts_ms``
(fast, histograms), ``message`` (tokenised, positions for phrases), ``lbl`` (raw ``name=value`` per label),
``kv`` (raw ``name=value`` per parsed field), ``num`` (fast JSON of numeric fields, for ranges), ``src``
(stored JSON of labels, fields and pattern).

Upserts: ``id`` is also a fast field, so each partition knows the greatest id it holds (read from the index
once, then tracked). :meth:`write` adds an id above it directly and deletes any other id before adding it
(pipeline ids are fixed-width sequence numbers, so only replays pay for the delete).

Durability: :meth:`write` commits every touched partition before return;
a tantivy commit is atomic and synced, so a reopen after kill -9 sees every acknowledged batch. Retention
drops whole partitions older than ``retention_s`` and, oldest first, while the store exceeds ``max_bytes``.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import tantivy
from prometheus_client import REGISTRY, CollectorRegistry

from log_pipeline.model import LogRecord
from log_pipeline.search._common import (
    NS_PER_MS,
    check_histogram_args,
    clamp_ns,
    decode_cursor,
    encode_cursor,
    source_query,
)
from log_pipeline.search._metrics import StoreMetrics
from log_pipeline.search._tantivy_count import conjunction_count
from log_pipeline.search._tantivy_docs import DocBuilder, Row, document
from log_pipeline.search._tantivy_query import to_tantivy
from log_pipeline.search._tantivy_window import window_starts
from log_pipeline.search.base import Bucket, Context, RecordNotFoundError, SearchError, SearchPage
from log_pipeline.search.query import FieldRef, Node, Term, parse_query
from log_pipeline.search.tenancy import restrict
from platforms.tenancy import FOUNDATION, Scope

__all__ = ["TantivyReader", "TantivyStore"]

NS = 1_000_000_000
_MAX_OPEN_WRITERS = 2


def _schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("id", stored=True, fast=True, tokenizer_name="raw", index_option="basic")
    sb.add_integer_field("ts", stored=True, fast=True)  # ranges run on the fast field: no term per document
    sb.add_integer_field("ts_ms", fast=True)
    sb.add_text_field("message", stored=True, tokenizer_name="default", index_option="position")
    sb.add_text_field("lbl", tokenizer_name="raw", index_option="basic")
    sb.add_text_field("kv", tokenizer_name="raw", index_option="basic")
    sb.add_json_field("num", fast=True, tokenizer_name="raw", index_option="basic")
    sb.add_bytes_field("src", stored=True, indexed=False)
    return sb.build()


def _record(doc: tantivy.Document) -> LogRecord:
    src = orjson.loads(doc.get_first("src") or b"{}")
    return LogRecord(
        id=str(doc.get_first("id")),
        timestamp_ns=int(doc.get_first("ts") or 0),
        message=str(doc.get_first("message") or ""),
        labels=src["l"],
        fields=src["f"],
        pattern_id=src["p"],
        template=src["t"],
    )


@dataclass(frozen=True, slots=True)
class _Scan:
    node: Node
    lo: int | None = None
    hi: int | None = None
    after: tuple[int, str] | None = None  # exclusive cursor (timestamp_ns, id)
    descending: bool = True


def _beyond(key: tuple[int, str], after: tuple[int, str], *, descending: bool) -> bool:
    return key < after if descending else key > after


# (inode, size, mtime, ctime) of a partition's ``meta.json``: tantivy commits by writing a new file and
# renaming it over the old one, so every commit changes the inode (the old file is still linked while the new
# one is created) and every commit's state differs from the one before it
_MetaKey = bytes


def _meta_key(path: Path) -> _MetaKey | None:
    """The content of ``path/meta.json`` (the list of a partition's segments and deletes, with tantivy's
    opstamp, which every commit raises), None if absent. Its bytes rather than its stat: a stat can repeat
    across commits a reader skipped (ext4 reuses inodes; coarse time stamps), the content cannot. Reading
    the file (a few KB; tantivy replaces it atomically) costs far less than ``Index.reload``."""
    try:
        return (path / "meta.json").read_bytes()
    except FileNotFoundError:
        return None


def _still_there(child: Path) -> bool:
    """Whether a partition that failed to open or reload still exists (an error to report) rather than
    having been deleted meanwhile (retention: forgotten); one that cannot even be looked at exists."""
    try:
        return child.is_dir() and (child / "meta.json").is_file()
    except OSError:
        return True


@dataclass
class _Partition:
    start_s: int
    path: Path
    index: tantivy.Index
    max_id: str | None = None  # greatest id in the partition; valid once ``max_known``
    max_known: bool = False
    legacy: bool = False  # written with the earlier schema (``id`` not fast): every write deletes first
    newest_seen: int | None = None  # the newest timestamp a search found here: where windows start
    meta_key: _MetaKey | None = None  # ``meta.json`` as a reader last reloaded it (:func:`_meta_key`)

    def greatest_id(self) -> str | None:
        if not self.max_known and not self.legacy:
            self.index.reload()
            searcher = self.index.searcher()
            hits = searcher.search(tantivy.Query.all_query(), 1, count=False, order_by_field="id").hits
            self.max_id = str(hits[0][0]) if hits else None
            self.max_known = True
        return self.max_id


def _anchor(part: _Partition, scan: _Scan, partition_s: int) -> int | None:
    """Where a newest-first scan of ``part`` looks for its matches first (the windows of
    :func:`window_starts` lie below it), or None for no windows. Past a cursor, the cursor's time (``scan.hi``
    is bounded by it: the next page lies just below the last one), or the partition's end if that is lower.
    Else the newest record a search has found in ``part`` (none yet: the first search is the plain one),
    never above ``scan.hi``."""
    if not scan.descending:
        return None
    seen = part.newest_seen
    if scan.after is not None and scan.hi is not None:
        seen = min(scan.hi, (part.start_s + partition_s) * NS - 1)
    return seen if seen is None or scan.hi is None else min(seen, scan.hi)


def _page(
    searcher: tantivy.Searcher, query: tantivy.Query, scan: _Scan, fetch: int, want: int, *, counted: bool
) -> tuple[list[LogRecord], int, bool]:
    """The first ``want`` records beyond the cursor among the first ``fetch`` hits of ``query`` in scan order,
    the match count (-1 unless ``counted``), and whether they are complete: ``want`` of them, or every
    match."""
    order = tantivy.Order.Desc if scan.descending else tantivy.Order.Asc
    result: Any = searcher.search(query, fetch, count=counted, order_by_field="ts", order=order)
    hits: list[tuple[int, Any]] = result.hits
    truncated = len(hits) == fetch
    if truncated and hits:  # the last timestamp's group may be cut: keep only complete groups
        edge = hits[-1][0]
        hits = [h for h in hits if h[0] != edge]
    recs = _load(searcher, hits, scan, want)
    complete = len(recs) >= want or not truncated
    recs.sort(key=lambda r: (r.timestamp_ns, r.id), reverse=scan.descending)
    return recs[:want], int(result.count) if counted else -1, complete


def _load(searcher: tantivy.Searcher, hits: list[tuple[int, Any]], scan: _Scan, want: int) -> list[LogRecord]:
    """The records of ``hits`` (``(timestamp, address)`` in scan order of the timestamp) beyond the cursor,
    loaded only as far as the first ``want`` of them need: once ``want`` are kept, the rest of the last
    timestamp's group (within a timestamp the order is by id) and no further."""
    after, descending = scan.after, scan.descending
    recs: list[LogRecord] = []
    last = None
    for ts, addr in hits:
        if len(recs) >= want and ts != last:
            break
        last = ts
        rec = _record(searcher.doc(addr))
        if after is None or _beyond((rec.timestamp_ns, rec.id), after, descending=descending):
            recs.append(rec)
    return recs


class TantivyStore:
    """Embedded :class:`~log_pipeline.search.base.SearchStore`. ``clock`` returns Unix nanoseconds."""

    def __init__(
        self,
        path: Path,
        *,
        partition_s: int = 86_400,
        retention_s: int | None = None,
        max_bytes: int | None = None,
        writer_heap_bytes: int = 64_000_000,
        writer_threads: int = 1,
        clock: Callable[[], int] = time.time_ns,
        registry: CollectorRegistry = REGISTRY,
    ) -> None:
        if partition_s <= 0:
            raise SearchError("partition_s must be positive")
        self._root = path
        self._partition_s = partition_s
        self._retention_s = retention_s
        self._max_bytes = max_bytes
        self._heap = writer_heap_bytes
        self._threads = writer_threads
        self._clock = clock
        self._metrics = StoreMetrics(registry, "tantivy")
        self._schema = _schema()
        self._lock = threading.Lock()  # guards the partition table and writers
        self._parts: dict[int, _Partition] = {}
        self._writers: OrderedDict[int, tantivy.IndexWriter] = OrderedDict()
        self._docs = DocBuilder()
        try:
            self._load()
        except (OSError, ValueError) as exc:
            raise SearchError(f"cannot open search store at {path}: {exc}") from exc

    def _load(self) -> None:
        self._root.mkdir(parents=True, exist_ok=True)
        for start, child in self._listing():
            self._parts[start] = self._open(start, child)
        self.apply_retention()

    def _listing(self) -> list[tuple[int, Path]]:
        # scandir's entries know their type: no stat per partition (a reader lists before every search);
        # a reader may start before the writer has created the root, or over one it cannot use (the index
        # child reports that): no partitions, as ``Path.glob`` listed them before
        try:
            with os.scandir(self._root) as entries:
                found = [
                    (int(e.name[1:]), self._root / e.name)
                    for e in entries
                    if e.name.startswith("p") and e.name[1:].isdigit() and e.is_dir()
                ]
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            return []
        return sorted(found, key=lambda sc: sc[1])

    def _open(self, start: int, path: Path) -> _Partition:
        try:
            return _Partition(start, path, tantivy.Index(self._schema, str(path)))
        except ValueError as exc:
            if "schema does not match" not in str(exc):
                raise
            # a partition from before ``id`` became a fast field (and ``ts`` stopped being indexed): same
            # fields in the same order, so queries built against the current schema apply to it
            return _Partition(start, path, tantivy.Index.open(str(path)), legacy=True)

    # ---- writing -----------------------------------------------------------------------------------

    def _partition(self, start_s: int) -> _Partition:
        part = self._parts.get(start_s)
        if part is None:
            pdir = self._root / f"p{start_s}"
            pdir.mkdir(exist_ok=True)
            part = _Partition(start_s, pdir, tantivy.Index(self._schema, str(pdir)), max_known=True)
            self._parts[start_s] = part
        return part

    def _writer(self, part: _Partition) -> tantivy.IndexWriter:
        writer = self._writers.get(part.start_s)
        if writer is None:
            writer = part.index.writer(self._heap, self._threads)
            self._writers[part.start_s] = writer
            while len(self._writers) > _MAX_OPEN_WRITERS:
                _, old = self._writers.popitem(last=False)
                old.wait_merging_threads()
        self._writers.move_to_end(part.start_s)
        return writer

    def write(self, records: Sequence[LogRecord]) -> None:
        self.write_rows(
            [(r.id, r.timestamp_ns, r.message, r.labels, r.fields, r.pattern_id, r.template) for r in records]
        )

    def write_rows(self, rows: Sequence[Row]) -> None:
        """:meth:`write` of records given as rows of plain values (as the index process receives them)."""
        groups: dict[int, list[Row]] = defaultdict(list)
        for row in rows:
            groups[row[1] // NS // self._partition_s * self._partition_s].append(row)
        try:
            with self._lock:
                for start_s, group in groups.items():
                    self._write_partition(start_s, group)
        except (OSError, ValueError, RuntimeError) as exc:
            self._metrics.error("write")
            raise SearchError(f"search store write failed: {exc}") from exc
        self._metrics.written.inc(len(rows))

    def _write_partition(self, start_s: int, rows: list[Row]) -> None:
        part = self._partition(start_s)
        writer = self._writer(part)
        top = part.greatest_id()
        legacy = part.legacy
        to_json = self._docs.json
        try:
            for row in rows:
                rid = row[0]
                if not legacy and (top is None or rid > top):
                    top = rid  # never written to this partition: nothing to delete
                else:
                    writer.delete_documents_by_term("id", rid)
                text = to_json(row)
                if text is None:
                    writer.add_document(document(LogRecord(*row)))
                else:
                    writer.add_json(text)
            writer.commit()
        finally:  # an upper bound even on failure: uncommitted adds may land with a later commit
            part.max_id = top
        part.index.reload()

    def apply_retention(self) -> list[Path]:
        """Drop partitions past ``retention_s`` and, oldest first, beyond ``max_bytes``. Returns them."""
        dropped: list[Path] = []
        with self._lock:
            now_s = self._clock() // NS
            for start in sorted(self._parts):
                if self._retention_s is not None and start + self._partition_s <= now_s - self._retention_s:
                    dropped.append(self._drop(start, "age"))
            if self._max_bytes is not None:
                sizes = {s: _dir_bytes(p.path) for s, p in self._parts.items()}
                total = sum(sizes.values())
                for start in sorted(sizes)[:-1]:  # never drop the newest partition
                    if total <= self._max_bytes:
                        break
                    total -= sizes[start]
                    dropped.append(self._drop(start, "size"))
        return dropped

    def _drop(self, start: int, reason: str) -> Path:
        writer = self._writers.pop(start, None)
        if writer is not None:
            writer.wait_merging_threads()
        part = self._parts.pop(start)
        shutil.rmtree(part.path, ignore_errors=True)
        self._metrics.dropped(reason)
        return part.path

    def close(self) -> None:
        with self._lock:
            for writer in self._writers.values():
                writer.wait_merging_threads()
            self._writers.clear()

    # ---- reading -----------------------------------------------------------------------------------

    def _snapshot(self, start_ns: int | None, end_ns: int | None) -> list[_Partition]:
        with self._lock:
            parts = list(self._parts.values())
        lo = None if start_ns is None else start_ns // NS
        hi = None if end_ns is None else end_ns // NS
        return [
            p
            for p in parts
            if (lo is None or p.start_s + self._partition_s > lo) and (hi is None or p.start_s <= hi)
        ]

    def _time_query(self, index: tantivy.Index, node: Node, lo: int | None, hi: int | None) -> tantivy.Query:
        query = to_tantivy(index, node)
        if lo is None and hi is None:
            return query
        rng = tantivy.Query.range_query(self._schema, "ts", tantivy.FieldType.Integer, lo, hi)
        return tantivy.Query.boolean_query([(tantivy.Occur.Must, query), (tantivy.Occur.Must, rng)])

    def _ordered(
        self, parts: list[_Partition], scan: _Scan, limit: int, counts: dict[int, int] | None = None
    ) -> tuple[list[LogRecord], bool]:
        """Up to ``limit`` records strictly beyond ``scan.after`` in scan order, and whether more exist.

        With ``counts`` (only without a cursor), the match count of each partition searched is stored there,
        collected in the same pass as its hits.
        """
        lo, hi, after = scan.lo, scan.hi, scan.after
        if after is not None and scan.descending:
            hi = after[0] if hi is None else min(hi, after[0])
        elif after is not None:
            lo = after[0] if lo is None else max(lo, after[0])
        bounded = _Scan(scan.node, lo, hi, after, descending=scan.descending)
        out: list[LogRecord] = []
        for part in sorted(parts, key=lambda p: p.start_s, reverse=scan.descending):
            if len(out) > limit:
                break
            recs, count = self._from_partition(part, bounded, limit + 1 - len(out))
            out.extend(recs)
            if counts is not None:
                counts[part.start_s] = count
        return out[:limit], len(out) > limit

    def _from_partition(self, part: _Partition, scan: _Scan, want: int) -> tuple[list[LogRecord], int]:
        """Up to ``want`` records in scan order, and how many documents match the (bounded) query."""
        if scan.lo is not None and scan.hi is not None and scan.lo > scan.hi:
            return [], 0
        searcher = part.index.searcher()
        count = None
        anchor = _anchor(part, scan, self._partition_s)
        # only where a window can follow (newest first, an anchor known): else one search counts and orders
        if anchor is not None:
            count = conjunction_count(searcher, scan.node, self._bounded(part.index), scan.lo, scan.hi)
        if count is not None and anchor is not None:
            recs = self._newest_in_window(part, searcher, scan, want, count, anchor)
            if recs is not None:
                return self._seen(part, scan, recs), count
        query = self._time_query(part.index, scan.node, scan.lo, scan.hi)
        recs, total = self._top(searcher, query, scan, want, counted=count is None)
        return self._seen(part, scan, recs), total if count is None else count

    @staticmethod
    def _seen(part: _Partition, scan: _Scan, recs: list[LogRecord]) -> list[LogRecord]:
        """``recs``, having noted the newest of them as the partition's anchor for later windows."""
        if recs and scan.descending and (part.newest_seen is None or recs[0].timestamp_ns > part.newest_seen):
            part.newest_seen = recs[0].timestamp_ns
        return recs

    def _bounded(self, index: tantivy.Index) -> Callable[[Node, int | None, int | None], tantivy.Query]:
        return lambda node, lo, hi: self._time_query(index, node, lo, hi)

    def _newest_in_window(
        self, part: _Partition, searcher: tantivy.Searcher, scan: _Scan, want: int, count: int, anchor: int
    ) -> list[LogRecord] | None:
        """The newest ``want`` matches beyond the cursor when they lie within a short time window below
        ``anchor`` (:func:`_anchor`; the windows of :func:`window_starts`), else None. The window is open
        above (up to ``scan.hi``), so records newer than the anchor are in it, and every match outside it is
        older than every match inside: with ``want`` matches in the window, they are the newest of the whole
        range (exact whatever the anchor; only the cost depends on it)."""
        for start in window_starts(anchor, scan.lo, count, want):
            query = self._time_query(part.index, scan.node, start, scan.hi)
            recs = _page(searcher, query, scan, want + 16, want, counted=False)[0]
            if len(recs) == want:  # every older match is older than these
                return recs
        return None

    def _top(
        self, searcher: tantivy.Searcher, query: tantivy.Query, scan: _Scan, want: int, *, counted: bool
    ) -> tuple[list[LogRecord], int]:
        """Up to ``want`` records in scan order and (if ``counted``, else -1) the match count."""
        fetch = want + 16
        count = -1
        while True:
            recs, total, complete = _page(searcher, query, scan, fetch, want, counted=counted and count < 0)
            count = total if count < 0 else count
            if complete:
                return recs, count
            fetch *= 4

    def _count(self, part: _Partition, node: Node, lo: int | None, hi: int | None) -> int:
        searcher = part.index.searcher()
        count = conjunction_count(searcher, node, self._bounded(part.index), lo, hi)
        if count is not None:
            return count
        result: Any = searcher.search(self._time_query(part.index, node, lo, hi), 1)
        return int(result.count)

    def search(
        self,
        query: str,
        start_ns: int | None,
        end_ns: int | None,
        limit: int,
        cursor: str | None = None,
        *,
        scope: Scope = FOUNDATION,
    ) -> SearchPage:
        node = restrict(parse_query(query), scope)
        start_ns, end_ns = clamp_ns(start_ns), clamp_ns(end_ns)
        after = decode_cursor(cursor) if cursor else None
        with self._metrics.query_seconds.time():
            try:
                parts = self._snapshot(start_ns, end_ns)
                scan = _Scan(node, start_ns, end_ns, after, descending=True)
                counts: dict[int, int] = {}
                # a cursor narrows the scan, so its counts are not the page total
                hits, more = self._ordered(parts, scan, limit, None if after else counts)
                total = sum(
                    counts[p.start_s] if p.start_s in counts else self._count(p, node, start_ns, end_ns)
                    for p in parts
                )
            except ValueError as exc:
                self._metrics.error("search")
                raise SearchError(f"search failed: {exc}") from exc
        return SearchPage(total, hits, encode_cursor(hits[-1]) if more and hits else None)

    def histogram(
        self, query: str, start_ns: int, end_ns: int, step_ns: int, *, scope: Scope = FOUNDATION
    ) -> list[Bucket]:
        n = check_histogram_args(start_ns, end_ns, step_ns)
        node = restrict(parse_query(query), scope)
        counts = [0] * n
        step_ms, start_ms = step_ns // NS_PER_MS, start_ns // NS_PER_MS
        agg = {"h": {"histogram": {"field": "ts_ms", "interval": step_ms, "offset": start_ms % step_ms}}}
        with self._metrics.query_seconds.time():
            for part in self._snapshot(start_ns, end_ns):
                q = self._time_query(part.index, node, start_ns, end_ns)
                try:
                    result = part.index.searcher().aggregate(q, agg)
                except ValueError as exc:
                    self._metrics.error("histogram")
                    raise SearchError(f"histogram failed: {exc}") from exc
                for b in result["h"]["buckets"]:
                    k = round((b["key"] - start_ms) / step_ms)
                    if 0 <= k < n:
                        counts[k] += int(b["doc_count"])
        return [Bucket(start_ns + i * step_ns, c) for i, c in enumerate(counts)]

    def context(self, record_id: str, before: int, after: int, *, scope: Scope = FOUNDATION) -> Context:
        with self._metrics.query_seconds.time():
            parts = self._snapshot(None, None)
            by_id = restrict(Term(FieldRef("id", "id"), record_id), scope)
            found, _ = self._ordered(parts, _Scan(by_id), 1)
            if not found:  # another tenant's record is not found either: its existence is not confirmed
                raise RecordNotFoundError(f"no record with id {record_id!r}")
            hit = found[0]
            src = restrict(source_query(hit), scope)
            key = (hit.timestamp_ns, hit.id)
            older, _ = self._ordered(parts, _Scan(src, after=key), before)
            newer, _ = self._ordered(parts, _Scan(src, after=key, descending=False), after)
        return Context(hit, older[::-1], newer)


class TantivyReader(TantivyStore):
    """A read-only :class:`TantivyStore` over an index that another store writes, usually in another process
    (a search worker, :mod:`log_pipeline.search.workers`): it creates nothing, :meth:`write` and
    :meth:`apply_retention` raise :class:`~log_pipeline.search.base.SearchError`, and every query first calls
    :meth:`refresh`."""

    def _load(self) -> None:
        self.refresh()

    def refresh(self) -> None:
        """Take up the partitions created and forget those deleted since the last call, and
        see every commit made so far (the writer is another store, usually in another process).

        Runs before every search, histogram and context. A partition whose ``meta.json`` is the file of the
        last reload, byte for byte (:func:`_meta_key`, read before the reload, so a commit racing it is seen
        next time) is not reloaded: a read of the file instead of tantivy re-reading and parsing it and
        re-opening its segments (bench/README.md, stop 33: saves ~0.3 ms of a search's CPU after an idle gap
        for partitions not written since the last search; the partition being ingested reloads as before).
        Tantivy's own reader also polls ``meta.json`` and reloads within about 0.5 s. A partition still being
        created (no ``meta.json`` yet) is left for the next call; one deleted while it is reloaded is
        forgotten; any other failure is a :class:`~log_pipeline.search.base.SearchError`."""
        with self._lock:
            on_disk = dict(self._listing())
            for start in [s for s in self._parts if s not in on_disk]:
                del self._parts[start]
            for start, child in on_disk.items():
                part = self._parts.get(start)
                try:
                    key = _meta_key(child)
                    if part is None:
                        if key is not None:
                            index = tantivy.Index.open(str(child))
                            self._parts[start] = _Partition(start, child, index, meta_key=key)
                    elif key is None or key != part.meta_key:
                        part.index.reload()
                        part.meta_key = key
                except (OSError, ValueError) as exc:
                    self._parts.pop(start, None)
                    if _still_there(child):
                        raise SearchError(f"cannot read search partition {child.name}: {exc}") from exc

    def write(self, records: Sequence[LogRecord]) -> None:
        raise SearchError(f"the search store at {self._root} is open read-only")

    def write_rows(self, rows: Sequence[Row]) -> None:
        raise SearchError(f"the search store at {self._root} is open read-only")

    def apply_retention(self) -> list[Path]:
        raise SearchError(f"the search store at {self._root} is open read-only")

    def _snapshot(self, start_ns: int | None, end_ns: int | None) -> list[_Partition]:
        self.refresh()
        return super()._snapshot(start_ns, end_ns)


def _dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
