"""The ingest thread (``ScrapeManager(ingest_window_s=...)``, :mod:`collector._ingest_batch`): the bodies
of a window are parsed and ingested together, each scrape keeps its own result and timestamp, a batch is
bounded, and a huge body is parsed in its own fetch thread so it cannot hold the others' appends."""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

import collector._fetch
import collector._ingest_batch as ingest_batch
import collector.loop
import collector.manager
from collector._ingest_batch import Done, IngestBatcher, settle
from collector.config import CollectorConfig, StaticJob
from collector.exposition import ParseMemo, default_parser
from collector.manager import ScrapeManager
from metrics_store.memory import MemoryStore
from tests.collector.exporters import Exporter
from tests.collector.helpers import eventually, select

BIG = "ok_metric 1\n" + "".join(f'load{{i="{i}"}} {i}\n' for i in range(2000))
SMALL = "ok_metric 1\n"


def _count_batches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of every batch the ingest thread settles (its one loop wake-up per batch)."""
    sizes: list[int] = []
    real = ingest_batch.settle

    def counted(done: list[Done]) -> None:
        sizes.append(len(done))
        real(done)

    monkeypatch.setattr(ingest_batch, "settle", counted)
    return sizes


async def test_a_window_of_bodies_is_ingested_together_each_with_its_own_result(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sizes = _count_batches(monkeypatch)
    batcher = IngestBatcher(0.2, threading.Semaphore(2))
    loop = asyncio.get_running_loop()
    ran_in: list[str] = []

    def work(n: int) -> int:
        ran_in.append(threading.current_thread().name)
        if n == 1:
            raise ValueError("bad body")
        return n * 10

    futs: list[asyncio.Future[Any]] = [loop.create_future() for _ in range(3)]
    try:
        for n, fut in enumerate(futs):
            batcher.submit(functools.partial(work, n), 100, loop, fut)
        results = await asyncio.wait_for(asyncio.gather(*futs, return_exceptions=True), 5)
    finally:
        batcher.close()
    assert results[0] == 0 and results[2] == 20
    assert isinstance(results[1], ValueError)  # one failing body fails its own scrape only
    assert ran_in == ["scrape-ingest"] * 3
    assert sizes == [3]  # one batch, one loop wake-up


async def test_a_batch_takes_at_most_max_batch_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    sizes = _count_batches(monkeypatch)
    batcher = IngestBatcher(0.2, threading.Semaphore(2), max_batch_bytes=100)
    loop = asyncio.get_running_loop()
    futs: list[asyncio.Future[Any]] = [loop.create_future() for _ in range(3)]
    try:
        for n, fut in enumerate(futs):
            batcher.submit(functools.partial(int, n), 60, loop, fut)
        assert await asyncio.wait_for(asyncio.gather(*futs), 5) == [0, 1, 2]
    finally:
        batcher.close()
    assert sizes == [1, 1, 1]


def _jobs(*targets: str, interval_s: float = 0.2) -> list[StaticJob]:
    return [
        StaticJob(name=f"j{i}", targets=[t], interval_s=interval_s, timeout_s=interval_s)
        for i, t in enumerate(targets)
    ]


async def test_batched_scrapes_keep_their_own_timestamps(monkeypatch: pytest.MonkeyPatch) -> None:
    """Three targets at different phases, a window longer than their interval: their scrapes share
    batches, and each sample still carries its own scrape's time (not the batch's) and its own duration
    (without the wait for the batch)."""
    sizes = _count_batches(monkeypatch)
    with Exporter() as a, Exporter() as b, Exporter() as c:
        for ex in (a, b, c):
            ex.set_body(SMALL)
        store = MemoryStore()
        jobs = _jobs(a.address, b.address, f"localhost:{c.address.rsplit(':', 1)[1]}")
        registry = CollectorRegistry()
        mgr = ScrapeManager(CollectorConfig(jobs=jobs), store, None, registry=registry, ingest_window_s=0.3)
        await mgr.start()
        try:
            await eventually(lambda: any(n > 1 for n in sizes), 10, "a batch of several scrapes")
        finally:
            await mgr.stop()
    series = select(store, "ok_metric")
    stamps = [int(t) for s in series for t in s.timestamps_ms]
    for s in series:  # a target's own scrapes never share a time
        assert len(set(s.timestamps_ms)) == len(s.timestamps_ms), s.timestamps_ms
    # across targets, two phases may fall in the same ms by chance; a batch's time would make most collide
    assert len(set(stamps)) >= 0.8 * len(stamps), sorted(stamps)
    # the wait for the batch is not the scrape's: scrape_duration_seconds stays under the 0.3 s window
    durations = [float(v) for s in select(store, "scrape_duration_seconds") for v in s.values]
    assert durations and max(durations) < 0.25, durations
    for job in ("j0", "j1", "j2"):  # the histogram too: every observation in the buckets up to 0.25 s
        labels = {"job": job}
        count = registry.get_sample_value("paramedic_scrape_duration_seconds_count", labels)
        assert count, job
        under = registry.get_sample_value(
            "paramedic_scrape_duration_seconds_bucket", {**labels, "le": "0.25"}
        )
        assert under == count, (job, under, count)


async def test_a_huge_body_is_parsed_in_its_fetch_thread_not_ahead_of_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A body over ``big_body_bytes`` whose parse takes 1.5 s: the small target's scrapes (every 0.2 s)
    keep reaching the store meanwhile; queued in the ingest thread, they would wait behind it."""
    monkeypatch.setattr(
        collector.manager, "IngestBatcher", functools.partial(IngestBatcher, big_body_bytes=10_000)
    )
    real = collector.loop.ScrapeLoop._parse_and_ingest
    parsed_in: dict[str, set[str]] = {"big": set(), "small": set()}
    slow = threading.Event()

    def parse(self: collector.loop.ScrapeLoop, body: bytes, *args: Any) -> Any:
        kind = "big" if len(body) > 10_000 else "small"
        parsed_in[kind].add(threading.current_thread().name)
        if kind == "big" and not slow.is_set():
            slow.set()
            time.sleep(1.5)  # the simulated huge parse, on the fetch thread
        return real(self, body, *args)

    monkeypatch.setattr(collector.loop.ScrapeLoop, "_parse_and_ingest", parse)
    with Exporter() as big, Exporter() as small:
        big.set_body(BIG)
        small.set_body(SMALL)
        store = MemoryStore()
        mgr = ScrapeManager(
            CollectorConfig(jobs=_jobs(big.address, small.address)), store, None, registry=CollectorRegistry()
        )
        await mgr.start()
        try:
            await eventually(slow.is_set, 10, "the slow parse")
            before = sum(len(s.timestamps_ms) for s in select(store, "ok_metric", job="j1"))
            await eventually(
                lambda: sum(len(s.timestamps_ms) for s in select(store, "ok_metric", job="j1")) >= before + 3,
                1.4,
                "three small scrapes during the slow parse",
            )
        finally:
            await mgr.stop()
    assert "scrape-ingest" in parsed_in["small"]  # the first, not yet timed, in its fetch thread
    assert parsed_in["big"] and not parsed_in["big"] & {"scrape-ingest"}


# a body of tiny series: a REAL slow parse (CPU, holding the GIL), unlike time.sleep; ~2 MiB, well under
# big_body_bytes, so only the parse-time routing keeps it out of the batch
TINY = "".join(f'a{{i="{i}"}} 1\n' for i in range(130_000))


async def test_a_slow_parse_leaves_the_batch_and_others_keep_their_rhythm() -> None:
    """A target whose parse is slow (a 2 MiB body of tiny series; sample_limit rejects it only after the
    parse) is parsed in its own fetch thread once timed: the small target's scrapes keep their 0.25 s
    rhythm and report their wait for the ingest thread. Queued in the one ingest thread, each small body
    waited behind the big parse (3-4 of 12 scrapes reached the store, gaps of seconds)."""
    with Exporter() as big, Exporter() as small:
        big.set_body(TINY)
        small.set_body(SMALL)
        store = MemoryStore()
        registry = CollectorRegistry()
        jobs = [
            StaticJob(name="small", targets=[small.address], interval_s=0.25, timeout_s=0.25),
            StaticJob(name="big", targets=[big.address], interval_s=0.5, timeout_s=0.5, sample_limit=1000),
        ]
        mgr = ScrapeManager(CollectorConfig(jobs=jobs), store, None, registry=registry)
        await mgr.start()
        try:
            await asyncio.sleep(0.5)  # the big target's first parse, timed: from then on its own thread
            first = len([t for s in select(store, "ok_metric") for t in s.timestamps_ms])
            await eventually(
                lambda: len([t for s in select(store, "ok_metric") for t in s.timestamps_ms]) >= first + 8,
                2.5,
                "8 small scrapes in 2.5 s (one per 0.25 s)",
            )
        finally:
            await mgr.stop()
    stamps = sorted(int(t) for s in select(store, "ok_metric") for t in s.timestamps_ms)
    gaps = [b - a for a, b in zip(stamps[first:], stamps[first + 1 :], strict=False)]
    assert gaps and max(gaps) < 600, gaps
    waits = registry.get_sample_value("paramedic_scrape_ingest_wait_seconds_count", {"job": "small"})
    assert waits, "the small target's bodies went through the ingest thread, their wait exported"


async def test_a_body_is_refused_while_the_ingest_thread_is_busy_past_the_window() -> None:
    """While a batch has parsed for over the window, a new body is not queued behind it (submit says
    False: its fetch thread parses it); nor when ``max_queued`` bodies wait already."""
    body = TINY.encode()
    batcher = IngestBatcher(0.0, threading.Semaphore(2), max_queued=2)
    loop = asyncio.get_running_loop()
    slow: asyncio.Future[Any] = loop.create_future()
    other: asyncio.Future[Any] = loop.create_future()
    try:
        assert batcher.submit(lambda: default_parser().parse(body, None, ParseMemo()), len(body), loop, slow)
        await eventually(
            lambda: batcher._busy_since is not None and time.monotonic() - batcher._busy_since > 0.01,
            5,
            "the slow parse running",
        )
        assert not batcher.submit(lambda: 1, 10, loop, other)
        await asyncio.wait_for(slow, 10)
        full = IngestBatcher(5.0, threading.Semaphore(2), max_queued=1)
        try:
            assert full.submit(lambda: 1, 10, loop, other)
            assert not full.submit(lambda: 2, 10, loop, loop.create_future())  # the queue's bound
        finally:
            full.close()
        assert await asyncio.wait_for(other, 5) == 1
    finally:
        batcher.close()


async def test_a_batch_parsing_past_the_window_hands_the_rest_to_the_spill_thread() -> None:
    """The rest of a batch whose (real, slow) parse ran past the window goes to the spill thread, which
    parses it beside the ingest thread's next batches."""
    body = TINY.encode()
    batcher = IngestBatcher(0.01, threading.Semaphore(2))
    loop = asyncio.get_running_loop()
    futs: list[asyncio.Future[Any]] = [loop.create_future() for _ in range(2)]
    try:
        batcher.submit(lambda: default_parser().parse(body, None, ParseMemo()), len(body), loop, futs[0])
        batcher.submit(lambda: threading.current_thread().name, 10, loop, futs[1])
        await asyncio.wait_for(asyncio.gather(*futs), 10)
    finally:
        batcher.close()
    assert futs[1].result().startswith("scrape-ingest-spill")


async def test_stop_iteration_fails_its_scrape_only_and_settles_the_rest() -> None:
    """asyncio refuses StopIteration as a future's exception (TypeError): one such scrape in a batch
    left the batch's other futures unresolved, and their loops (and stop()) waited forever."""
    loop = asyncio.get_running_loop()
    a: asyncio.Future[Any] = loop.create_future()
    b: asyncio.Future[Any] = loop.create_future()
    settle([(a, None, StopIteration()), (b, 2, None)])
    assert isinstance(a.exception(), RuntimeError) and b.result() == 2

    def stop() -> int:
        raise StopIteration

    batcher = IngestBatcher(0.0, threading.Semaphore(2))
    c: asyncio.Future[Any] = loop.create_future()
    d: asyncio.Future[Any] = loop.create_future()
    try:
        batcher.submit(stop, 10, loop, c)
        batcher.submit(lambda: 4, 10, loop, d)
        await asyncio.wait_for(asyncio.wait([c, d]), 5)
    finally:
        batcher.close()
    assert isinstance(c.exception(), RuntimeError) and d.result() == 4


async def test_a_fetch_slot_is_freed_once_the_body_is_queued(monkeypatch: pytest.MonkeyPatch) -> None:
    """One fetch thread, a 0.3 s window, three targets every 0.2 s: the slot held through the wait for
    the batch sent most scrapes to aiohttp; freed when the fetch ends, almost none."""
    calls = {"aiohttp": 0}
    real = collector._fetch.fetch

    async def counted(*args: Any, **kwargs: Any) -> Any:
        calls["aiohttp"] += 1
        return await real(*args, **kwargs)

    monkeypatch.setattr(collector.loop, "fetch", counted)
    registry = CollectorRegistry()
    with Exporter() as a, Exporter() as b, Exporter() as c:
        for ex in (a, b, c):
            ex.set_body(SMALL)
        mgr = ScrapeManager(
            CollectorConfig(jobs=_jobs(a.address, b.address, c.address)),
            MemoryStore(),
            None,
            registry=registry,
            max_fetch_threads=1,
            ingest_window_s=0.3,
        )
        await mgr.start()

        def scrapes() -> float:
            labels = ({"job": f"j{i}", "result": "success"} for i in range(3))
            return sum(registry.get_sample_value("paramedic_scrape_scrapes_total", x) or 0 for x in labels)

        try:
            await eventually(lambda: scrapes() >= 20, 10, "20 scrapes")
        finally:
            await mgr.stop()
    assert calls["aiohttp"] <= 0.2 * scrapes(), (calls, scrapes())


def test_a_negative_ingest_window_is_refused() -> None:
    with pytest.raises(ValueError, match="ingest_window_s"):
        ScrapeManager(CollectorConfig(jobs=[]), MemoryStore(), None, ingest_window_s=-0.1)
    with pytest.raises(ValueError, match="ingest window"):
        IngestBatcher(-1.0, threading.Semaphore(1))
