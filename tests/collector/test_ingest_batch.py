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

import collector._ingest_batch as ingest_batch
import collector.loop
import collector.manager
from collector._ingest_batch import Done, IngestBatcher
from collector.config import CollectorConfig, StaticJob
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
    stamps = [int(t) for s in select(store, "ok_metric") for t in s.timestamps_ms]
    assert len(stamps) == len(set(stamps)), sorted(stamps)
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
    assert parsed_in["small"] == {"scrape-ingest"}
    assert parsed_in["big"] and not parsed_in["big"] & {"scrape-ingest"}
