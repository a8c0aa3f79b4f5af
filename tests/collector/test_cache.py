"""The per-target series cache in isolation (real parser, real MemoryStore): bounded by the series count,
one ref per series however it is spelled, limits checked before anything is appended, rebuilt on relabel
changes."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from collector.cache import ScrapeCache
from collector.config import RelabelConfig
from collector.errors import ScrapeLimitError
from collector.exposition import Exposition, ExpositionParser, ParseMemo, parse
from collector.relabel import compile_rules
from collector.settings import ScrapeSettings
from metrics_store.base import FloatColumn, IntColumn
from metrics_store.memory import MemoryStore
from metrics_store.model import Labels, is_stale_nan
from tests.collector.helpers import select

TARGET = (("instance", "a:1"), ("job", "j"))
SETTINGS = ScrapeSettings("j", 1, 1, 10**6, 0, 0, 0, 0, False, True, ())


def _exp(text: str) -> Exposition:
    return parse(text.encode(), "text/plain; version=0.0.4")


def test_cache_is_bounded_by_the_current_series() -> None:
    store = MemoryStore()
    cache = ScrapeCache(store, TARGET, SETTINGS)
    for scrape in range(5):
        body = "".join(f'churn{{id="{scrape}-{i}"}} {i}\n' for i in range(100))
        result = cache.ingest(_exp(body), 1000 * (scrape + 1), 0.0, 0.001)
        assert result.series_added == 100
        assert result.stale_markers == (100 if scrape else 0)
        assert len(cache) == 100
    stale = [s for s in select(store, "churn") if is_stale_nan(float(s.values[-1]))]
    assert len(stale) == 400


def test_differently_spelled_series_share_one_ref_and_count_as_duplicates() -> None:
    store = MemoryStore()
    cache = ScrapeCache(store, TARGET, SETTINGS)
    result = cache.ingest(_exp('m{a="1",b="2"} 1\nm{b="2",a="1"} 2\n'), 1000, 0.0, 0.0)
    assert (result.appended, result.duplicates) == (1, 1)
    assert len(select(store, "m")) == 1


def test_sample_limit_fails_before_appending() -> None:
    store = MemoryStore()
    cache = ScrapeCache(store, TARGET, dataclasses.replace(SETTINGS, sample_limit=1))
    with pytest.raises(ScrapeLimitError, match="sample_limit exceeded: 2 samples > limit 1"):
        cache.ingest(_exp("a 1\nb 2\n"), 1000, 0.0, 0.0)
    assert select(store, "a") == [] and select(store, "up") == []
    assert cache.fail(1000, 0.01) == 0
    assert float(select(store, "up")[0].values[-1]) == 0


def test_reconfigure_with_new_rules_rebuilds_the_cache() -> None:
    store = MemoryStore()
    cache = ScrapeCache(store, TARGET, SETTINGS)
    cache.ingest(_exp("m 1\n"), 1000, 0.0, 0.0)
    cache.reconfigure(dataclasses.replace(SETTINGS, sample_limit=5))
    assert len(cache) == 1  # a limit change alone keeps the cache
    rules = compile_rules([RelabelConfig(target_label="env", replacement="prod")])
    cache.reconfigure(dataclasses.replace(SETTINGS, metric_relabel=rules))
    assert len(cache) == 0
    result = cache.ingest(_exp("m 2\n"), 2000, 0.0, 0.0)
    assert (result.series_added, result.stale_markers) == (1, 1)  # new identity; the old series ends
    assert float(select(store, "m", env="prod")[0].values[-1]) == 2


def test_explicit_timestamps_are_kept_and_not_stale_tracked() -> None:
    store = MemoryStore()
    cache = ScrapeCache(store, TARGET, SETTINGS)
    cache.ingest(_exp("m 1 500\n"), 1000, 0.0, 0.0)
    result = cache.ingest(_exp("other 1\n"), 2000, 0.0, 0.0)
    assert result.stale_markers == 0
    assert list(select(store, "m")[0].timestamps_ms) == [500]


class _Recorder:
    """An Appender that records every batch as ``(labels, ts, value bits)`` rows, refs resolved to labels."""

    def __init__(self) -> None:
        self.labels: list[Labels] = []
        self.refs: dict[Labels, int] = {}
        self.batches: list[list[tuple[Labels, int, int]]] = []

    def series_ref(self, labels: Labels) -> int:
        if labels not in self.refs:
            self.refs[labels] = len(self.labels)
            self.labels.append(labels)
        return self.refs[labels]

    def append(self, refs: IntColumn, timestamps_ms: IntColumn, values: FloatColumn) -> None:
        bits = np.asarray(values, dtype=np.float64).view(np.uint64).tolist()
        rows = zip(np.asarray(refs).tolist(), np.asarray(timestamps_ms).tolist(), bits, strict=True)
        self.batches.append([(self.labels[r], t, b) for r, t, b in rows])


def _without_series_added(
    batches: list[list[tuple[Labels, int, int]]],
) -> list[list[tuple[Labels, int, int]]]:
    return [[row for row in b if ("__name__", "scrape_series_added") not in row[0]] for b in batches]


def test_steady_state_scrapes_append_what_the_general_path_appends() -> None:
    """Differential: a cache left to its steady-state path (refs reused while the keys repeat) and one forced
    onto the general path at every scrape (its series cache dropped by a relabel-relevant reconfigure)
    append the same rows, bit for bit, through reorders, vanished series, a failed scrape, duplicates and
    exposed timestamps. The steady-state cache is fed by a parser with a memo (repeated bodies come with
    columns), the other by the full parse."""
    bodies = [
        "a 1\nb 2\nc 3\n",
        "a 4\nb 5\nc 6\n",
        "a 7\nb 8\nc 9\n",
        "b 1\na 2\nc 3\n",
        "a 1\nb NaN\n",
        "a 2\nb 3\n",
        None,  # a failed scrape
        "a 3\nb 4\n",
        "a 5\nb 6\na 7\n",
        "a 1 500\nb 2\n",
        "a 8\nb 9\n",
        "a 1e300\nb -0\n",
        "a 1e300\nb 7\n",
    ]
    parser, memo = ExpositionParser(registry=None), ParseMemo()
    fast, ref = _Recorder(), _Recorder()
    fast_cache, ref_cache = ScrapeCache(fast, TARGET, SETTINGS), ScrapeCache(ref, TARGET, SETTINGS)
    other = dataclasses.replace(SETTINGS, honor_labels=True)
    for i, body in enumerate(bodies):
        ts = 1000 * (i + 1)
        ref_cache.reconfigure(other)
        ref_cache.reconfigure(SETTINGS)
        if body is None:
            assert fast_cache.fail(ts, 0.5) == ref_cache.fail(ts, 0.5)
            continue
        got = fast_cache.ingest(parser.parse(body.encode(), "text/plain", memo), ts, 0.0, 0.25)
        want = ref_cache.ingest(_exp(body), ts, 0.0, 0.25)
        assert (got.appended, got.duplicates, got.stale_markers) == (
            want.appended,
            want.duplicates,
            want.stale_markers,
        )
    assert len(fast.batches) == len(bodies)
    assert _without_series_added(fast.batches) == _without_series_added(ref.batches)
    # bodies 2, 3, 6 and 8 repeat the lines before them and came with columns (after three misses in a row
    # the memo learns only every 16th body, so the last two are fully parsed)
    assert memo.hits == 4
