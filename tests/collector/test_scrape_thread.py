"""Plain ``http://`` targets fetched in the scrape thread (``ScrapeManager(max_fetch_threads=...)``): hung
targets hold a pool thread each, not the others' schedule, and stopping does not wait for their timeout."""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
import time
from typing import Any

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

import collector._fetch
import collector._fetch_sync
import collector.loop
from collector.config import CollectorConfig, StaticJob
from collector.manager import ScrapeManager
from metrics_store.memory import MemoryStore
from tests.collector.exporters import Exporter
from tests.collector.helpers import eventually, select

BODY = "ok_metric 1\n" + "".join(f'load{{i="{i}"}} {i}\n' for i in range(2000))


def _healthy_and_hung(healthy: str, hostile: str, *, hung: int, timeout_s: float) -> list[StaticJob]:
    """A healthy job scraped every 0.2 s and ``hung`` jobs ``never0``... of a target that never answers
    (``/never``), each every 0.5 s with ``timeout_s``."""
    jobs = [StaticJob(name="healthy", targets=[healthy], interval_s=0.2, timeout_s=0.2)]
    jobs += [
        StaticJob(
            name=f"never{i}",
            targets=[hostile],
            metrics_path="/never",
            params={"i": [str(i)]},
            interval_s=0.5,
            timeout_s=timeout_s,
        )
        for i in range(hung)
    ]
    return jobs


async def _scrape_by_name(ex: Exporter, *, timeout_s: float, scrapes: int) -> tuple[MemoryStore, str]:
    """Scrape ``ex`` as ``localhost:<port>`` (a name, not an IP literal) every 0.2 s until it has answered
    ``scrapes`` times; returns the store and the port."""
    ex.set_body(BODY)
    port = ex.address.rsplit(":", 1)[1]
    store = MemoryStore()
    job = StaticJob(name="named", targets=[f"localhost:{port}"], interval_s=0.2, timeout_s=timeout_s)
    mgr = ScrapeManager(CollectorConfig(jobs=[job]), store, None, registry=CollectorRegistry())
    await mgr.start()
    try:
        await eventually(lambda: ex.count() >= scrapes, 10, f"{scrapes} scrapes")
    finally:
        await mgr.stop()
    return store, port


async def test_more_hung_targets_than_workers_do_not_delay_a_healthy_one() -> None:
    """Four targets that never answer (0.4 s timeout every 0.5 s) hold four threads most of the time; with
    the two parse workers alone the healthy target's scrapes would queue behind them."""
    with Exporter() as healthy, Exporter() as hostile:
        healthy.set_body(BODY)
        jobs = _healthy_and_hung(healthy.address, hostile.address, hung=4, timeout_s=0.4)
        store = MemoryStore()
        registry = CollectorRegistry()
        mgr = ScrapeManager(CollectorConfig(jobs=jobs), store, None, registry=registry, max_workers=2)
        await mgr.start()
        try:

            def timed_out_twice() -> bool:
                return all(
                    (
                        registry.get_sample_value(
                            "paramedic_scrape_errors_total", {"job": f"never{i}", "reason": "timeout"}
                        )
                        or 0
                    )
                    >= 2
                    for i in range(4)
                )

            await eventually(timed_out_twice, 10, "every hung target to time out twice")
            await eventually(
                lambda: len(select(store, "up", job="healthy")[0].values) >= 10, 10, "10 scrapes"
            )
        finally:
            await mgr.stop()
    gaps = np.diff(select(store, "up", job="healthy")[0].timestamps_ms)
    on_time = ((gaps >= 120) & (gaps <= 300)).sum()
    assert on_time >= len(gaps) - 1 and gaps.max() <= 450, gaps  # one hiccup of a loaded machine allowed
    assert set(select(store, "up", job="healthy")[0].values) == {1.0}


async def test_more_hung_targets_than_fetch_threads_do_not_delay_a_healthy_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Six targets that never answer against two fetch threads: every fetch thread is held until a
    deadline most of the time, so the healthy target's scrapes find none free and go to aiohttp on the
    loop (parsed by the pool's threads beyond the fetch threads) instead of queueing behind the hung ones."""
    calls: list[str] = []
    aiohttp_fetch = collector._fetch.fetch

    async def counted(*args: object, **kwargs: object) -> tuple[bytes, str | None]:
        calls.append(str(args[1]))
        return await aiohttp_fetch(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(collector.loop, "fetch", counted)
    with Exporter() as healthy, Exporter() as hostile:
        healthy.set_body(BODY)
        jobs = _healthy_and_hung(healthy.address, hostile.address, hung=6, timeout_s=0.45)
        store = MemoryStore()
        registry = CollectorRegistry()
        mgr = ScrapeManager(
            CollectorConfig(jobs=jobs), store, None, registry=registry, max_workers=2, max_fetch_threads=2
        )
        await mgr.start()
        try:
            await eventually(
                lambda: sum(len(u.values) for u in select(store, "up", job="healthy")) >= 12,
                15,
                "12 scrapes",
            )
        finally:
            await mgr.stop()
    up = select(store, "up", job="healthy")[0]
    gaps = np.diff(up.timestamps_ms)
    on_time = ((gaps >= 120) & (gaps <= 300)).sum()
    assert on_time >= len(gaps) - 1 and gaps.max() <= 450, gaps  # one hiccup of a loaded machine allowed
    assert set(up.values) == {1.0}
    assert any(healthy.address in url for url in calls)  # some healthy scrapes found no fetch thread free
    timeouts = [
        registry.get_sample_value("paramedic_scrape_errors_total", {"job": f"never{i}", "reason": "timeout"})
        or 0
        for i in range(6)
    ]
    assert sum(timeouts) >= 6, timeouts


async def _hung_scrape_in_flight(ex: Exporter) -> ScrapeManager:
    """A started manager whose only target's scrape (``/never``, 8 s timeout) is in flight."""
    job = StaticJob(name="hung", targets=[ex.address], metrics_path="/never", interval_s=10, timeout_s=8)
    mgr = ScrapeManager(CollectorConfig(jobs=[job]), MemoryStore(), None, registry=CollectorRegistry())
    await mgr.start()
    try:
        await eventually(lambda: ex.count("/never") >= 1, 15, "the scrape to be in flight")
    except BaseException:
        await mgr.stop()
        raise
    return mgr


async def test_stop_cuts_a_hung_fetch_short() -> None:
    with Exporter() as ex:
        mgr = await _hung_scrape_in_flight(ex)
        started = time.monotonic()
        await mgr.stop()
        assert time.monotonic() - started < 2.0  # not the 8 s timeout


async def test_plain_targets_skip_the_event_loop_fetch(monkeypatch: pytest.MonkeyPatch) -> None:
    """The one-hand-off path is the one taken for a plain target (aiohttp's fetch is never called), and
    ``max_fetch_threads=0`` restores the aiohttp fetch on the loop; both store the same samples."""
    calls: list[str] = []
    aiohttp_fetch = collector._fetch.fetch

    async def counted(*args: object, **kwargs: object) -> tuple[bytes, str | None]:
        calls.append("aiohttp")
        return await aiohttp_fetch(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(collector.loop, "fetch", counted)
    results: dict[int, tuple[int, list[str]]] = {}
    with Exporter() as ex:
        ex.set_body(BODY)
        for threads in (64, 0):
            store = MemoryStore()
            job = StaticJob(name="plain", targets=[ex.address], interval_s=0.2, timeout_s=0.2)
            mgr = ScrapeManager(
                CollectorConfig(jobs=[job]),
                store,
                None,
                registry=CollectorRegistry(),
                max_fetch_threads=threads,
            )
            await mgr.start()

            def scraped(s: MemoryStore = store) -> bool:
                return bool(select(s, "load", i="1999"))

            try:
                await eventually(scraped, 10, "a scrape")
            finally:
                await mgr.stop()
            results[threads] = (len(calls), sorted(str(s.labels) for s in select(store, "load")))
    assert results[64][0] == 0 and results[0][0] >= 1
    assert results[64][1] == results[0][1] and len(results[64][1]) == 2000


async def test_a_redirecting_target_is_followed() -> None:
    """http.client does not follow redirects; aiohttp does (Prometheus' follow_redirects default): the
    target is handed back to the loop's fetch and its first scrape already succeeds."""
    with Exporter() as ex:
        ex.set_body(BODY)
        store = MemoryStore()
        job = StaticJob(name="moved", targets=[ex.address], metrics_path="/redirect", interval_s=0.2)
        mgr = ScrapeManager(CollectorConfig(jobs=[job]), store, None, registry=CollectorRegistry())
        await mgr.start()
        try:
            await eventually(lambda: len(select(store, "up", job="moved")[0:1]) == 1, 10, "a scrape")
            await eventually(lambda: ex.count("/redirect") >= 3, 10, "three scrapes")
        finally:
            await mgr.stop()
    assert set(select(store, "up", job="moved")[0].values) == {1.0}
    assert len(select(store, "load")) == 2000


async def test_a_named_target_is_resolved_on_the_loop_and_fetched_in_the_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``localhost:port``: the loop resolves the name (``getaddrinfo`` on the loop, once for the kept-alive
    connection), the scrape thread fetches; aiohttp's fetch is never called."""
    calls: list[str] = []
    resolved: list[str] = []

    async def counted(*args: object, **kwargs: object) -> tuple[bytes, str | None]:
        calls.append("aiohttp")
        raise AssertionError("aiohttp fetch called")

    monkeypatch.setattr(collector.loop, "fetch", counted)
    real_resolve = collector._fetch_sync.PlainFetcher.resolve

    async def resolve(self: collector._fetch_sync.PlainFetcher, timeout_s: float) -> None:
        resolved.append(self.url)
        await real_resolve(self, timeout_s)

    monkeypatch.setattr(collector._fetch_sync.PlainFetcher, "resolve", resolve)
    with Exporter() as ex:
        store, port = await _scrape_by_name(ex, timeout_s=0.2, scrapes=3)
    assert calls == [] and resolved == [f"http://localhost:{port}/metrics"]
    assert set(select(store, "up", job="named")[0].values) == {1.0}


async def test_a_hung_resolver_does_not_slow_scrapes_on_the_kept_alive_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The review's DNS outage: once the name is resolved, the resolver hangs. With the addresses always
    past their TTL (0 here) every scrape wants a refresh; over the open connection none waits for it (each
    waited half the timeout, 0.1 s here: the timeout is bounded by the 0.2 s interval) and one refresh at
    a time runs (was one per scrape)."""
    loop = asyncio.get_running_loop()
    real = loop.getaddrinfo
    calls: list[str] = []

    async def first_then_hangs(*args: Any, **kwargs: Any) -> Any:
        calls.append("dns")
        if len(calls) == 1:
            return await real(*args, **kwargs)
        await asyncio.sleep(30)
        raise AssertionError("not reached")

    monkeypatch.setattr(loop, "getaddrinfo", first_then_hangs)
    monkeypatch.setattr(collector._fetch_sync, "DNS_TTL_S", 0.0)
    with Exporter() as ex:
        store, _port = await _scrape_by_name(ex, timeout_s=0.4, scrapes=6)
        assert len(ex.connections) == 1
    durations = select(store, "scrape_duration_seconds", job="named")[0].values
    assert set(select(store, "up", job="named")[0].values) == {1.0}
    assert len(durations) >= 5 and max(durations[1:]) < 0.08
    assert len(calls) == 2  # the first resolution, then the one hung refresh


async def test_aiohttp_fetched_scrapes_parse_within_the_parse_slots(monkeypatch: pytest.MonkeyPatch) -> None:
    """Redirecting targets are fetched by aiohttp; their parses share the pool with the fetch threads, so
    they take the parse slots too (one worker: one parse at a time; was up to the pool's 17 threads)."""
    lock = threading.Lock()
    running, peak = [0], [0]
    parse = collector.loop.ScrapeLoop._parse_and_ingest

    def counted(self: collector.loop.ScrapeLoop, *args: Any) -> Any:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        try:
            time.sleep(0.02)  # widen each parse so that overlapping ones would be seen
            return parse(self, *args)
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(collector.loop.ScrapeLoop, "_parse_and_ingest", counted)
    with Exporter() as ex:
        ex.set_body(BODY)
        jobs = [
            StaticJob(name=f"moved{i}", targets=[ex.address], metrics_path="/redirect", interval_s=0.2)
            for i in range(6)
        ]
        mgr = ScrapeManager(
            CollectorConfig(jobs=jobs), MemoryStore(), None, registry=CollectorRegistry(), max_workers=1
        )
        await mgr.start()
        try:
            await eventually(lambda: ex.count("/redirect") >= 30, 20, "scrapes of every target")
        finally:
            await mgr.stop()
    assert peak[0] == 1


async def test_an_unexpected_error_fails_the_scrape_not_the_target(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug in a scrape (here the thread's fetch raising RuntimeError once) is a failed scrape, logged and
    counted (reason ``error``): the target's loop goes on and its next scrape succeeds."""
    fetch = collector._fetch_sync.PlainFetcher.fetch
    raised: list[bool] = []

    def failing_once(self: collector._fetch_sync.PlainFetcher, *args: Any, **kwargs: Any) -> Any:
        if not raised:
            raised.append(True)
            raise RuntimeError("boom")
        return fetch(self, *args, **kwargs)

    monkeypatch.setattr(collector._fetch_sync.PlainFetcher, "fetch", failing_once)
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
    """A target failing every scrape with the same unexpected error: its traceback is logged once (was
    once a scrape), the repeats at debug level; another kind of error gets its own."""
    raised: list[str] = []

    def failing(self: collector._fetch_sync.PlainFetcher, *args: Any, **kwargs: Any) -> Any:
        raised.append("x")
        raise (RuntimeError if len(raised) <= 3 else KeyError)("boom")

    monkeypatch.setattr(collector._fetch_sync.PlainFetcher, "fetch", failing)
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


async def test_stop_during_a_fetch_logs_no_unretrieved_exception(caplog: pytest.LogCaptureFixture) -> None:
    """The fetch cut short by stop() fails in its thread; its future's exception is retrieved, not logged
    as 'Future exception was never retrieved' when the future is collected."""
    with Exporter() as ex:
        mgr = await _hung_scrape_in_flight(ex)
        await mgr.stop()
    gc.collect()
    assert not [r for r in caplog.records if "never retrieved" in r.getMessage()]
