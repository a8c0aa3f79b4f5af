"""An exception no fetch, parse or store error covers (a bug of ours or a library's) fails that scrape,
logged and counted with reason ``error``; the target's loop goes on. Before, it ended the target's scrape
task silently: no ``up`` sample, health ``unknown``, never scraped again."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

import collector._fetch
import collector.loop
from collector.config import CollectorConfig, StaticJob
from collector.manager import ScrapeManager
from metrics_store.memory import MemoryStore
from tests.collector.exporters import Exporter
from tests.collector.helpers import eventually, select

BODY = "ok_metric 1\n" + "".join(f'load{{i="{i}"}} {i}\n' for i in range(200))


async def test_an_unexpected_error_fails_the_scrape_not_the_target(monkeypatch: pytest.MonkeyPatch) -> None:
    fetch = collector._fetch.fetch
    raised: list[bool] = []

    async def failing_once(*args: Any, **kwargs: Any) -> Any:
        if not raised:
            raised.append(True)
            raise RuntimeError("boom")
        return await fetch(*args, **kwargs)

    monkeypatch.setattr(collector.loop, "fetch", failing_once)
    registry = CollectorRegistry()
    store = MemoryStore()
    with Exporter() as ex:
        ex.set_body(BODY)
        job = StaticJob(name="buggy", targets=[ex.address], interval_s=0.2, timeout_s=0.2)
        mgr = ScrapeManager(CollectorConfig(jobs=[job]), store, None, registry=registry)
        await mgr.start()
        try:
            await eventually(lambda: ex.count("/metrics") >= 2, 10, "scrapes after the failed one")
            await eventually(lambda: 1.0 in select(store, "up", job="buggy")[0].values, 10, "up 1")
        finally:
            await mgr.stop()
    assert select(store, "up", job="buggy")[0].values[0] == 0.0  # the failed scrape's report
    errors = registry.get_sample_value("paramedic_scrape_errors_total", {"job": "buggy", "reason": "error"})
    assert errors == 1


async def test_a_repeated_unexpected_error_logs_one_traceback(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The same unexpected error every scrape: one traceback, the repeats at debug level; another kind of
    error gets its own traceback."""
    raised: list[str] = []

    async def failing(*args: Any, **kwargs: Any) -> Any:
        raised.append("x")
        raise (RuntimeError if len(raised) <= 3 else KeyError)("boom")

    monkeypatch.setattr(collector.loop, "fetch", failing)
    caplog.set_level(logging.DEBUG, logger="collector.scrape")
    with Exporter() as ex:
        ex.set_body(BODY)
        job = StaticJob(name="buggy", targets=[ex.address], interval_s=0.1, timeout_s=0.1)
        mgr = ScrapeManager(CollectorConfig(jobs=[job]), MemoryStore(), None, registry=CollectorRegistry())
        await mgr.start()
        try:
            await eventually(lambda: len(raised) >= 5, 10, "five failed scrapes")
        finally:
            await mgr.stop()
    unexpected = [r for r in caplog.records if "unexpected error in the scrape" in r.getMessage()]
    errors = [r for r in unexpected if r.levelno == logging.ERROR]
    assert [r.exc_info[0] for r in errors if r.exc_info] == [RuntimeError, KeyError]
    assert len(unexpected) >= 5 and all(r.levelno == logging.DEBUG for r in unexpected if r not in errors)
