"""The per-target series cache in isolation (real parser, real MemoryStore): bounded by the series count,
one ref per series however it is spelled, limits checked before anything is appended, rebuilt on relabel
changes."""

from __future__ import annotations

import dataclasses

import pytest

from collector.cache import ScrapeCache
from collector.config import RelabelConfig
from collector.errors import ScrapeLimitError
from collector.exposition import Exposition, parse
from collector.relabel import compile_rules
from collector.settings import ScrapeSettings
from metrics_store.memory import MemoryStore
from metrics_store.model import is_stale_nan
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
