"""One contract, every metric source (:class:`collector.base.MetricSource`): ``scrape`` (the scrape manager
against a real HTTP exporter), ``log_cache`` (Cloud Foundry's Log Cache poller, as the platform offers it
through ``platforms.factory.platform_sources``, against the loopback fake) and ``push`` (the push receivers'
``PushIngest`` behind ``/api/v1/write`` on uvicorn, a sender posting remote-write requests all along).
Test ids are ``<source>:<check>``. A new kind of source adds a harness to ``SOURCES``. MemoryStore is the
appender; waits poll with deadlines.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from collector.base import MetricSource
from collector.config import CollectorConfig, PushConfig, StaticJob
from collector.manager import ScrapeManager
from collector.push.api import push_router
from collector.push.ingest import PushIngest
from metrics_store.base import Appender
from metrics_store.memory import MemoryStore
from metrics_store.model import Matcher, MatchOp
from platforms.factory import platform_sources
from tests.collector.exporters import Exporter
from tests.collector.helpers import END, eventually
from tests.collector.push.rw import V1_HEADERS, snappy, v1
from tests.platforms.cloudfoundry.conftest import make_config
from tests.platforms.cloudfoundry.fake_cf import FakeCF, serve
from tests.support.servers import free_port, wait_until

INTERVAL_S = 0.05
SETTLE_S = 0.3  # longer than a poll of the loopback fake: one already in a worker thread may finish


@dataclass(frozen=True)
class Harness:
    build: Callable[[Appender], MetricSource]  # a new, not yet started source appending to the appender


@contextlib.contextmanager
def _scrape() -> Iterator[Harness]:
    with Exporter() as ex:
        ex.set_body("# TYPE mem_bytes gauge\nmem_bytes 1024\n")
        job = StaticJob.model_validate({"name": "node", "targets": [ex.address]})
        cfg = CollectorConfig(interval_s=INTERVAL_S, timeout_s=INTERVAL_S, jobs=[job])
        yield Harness(lambda sink: ScrapeManager(cfg, sink, None, registry=CollectorRegistry()))


@contextlib.contextmanager
def _log_cache() -> Iterator[Harness]:
    with contextlib.contextmanager(serve)(FakeCF()) as fake:
        cfg = make_config(fake, log_cache={"url": fake.base_url, "interval_s": INTERVAL_S})

        def build(sink: Appender) -> MetricSource:
            [source] = platform_sources(cfg, sink, CollectorRegistry())
            return source

        yield Harness(build)


@contextlib.contextmanager
def _push() -> Iterator[Harness]:
    app = FastAPI()
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    done = threading.Event()

    def send() -> None:  # a remote-write sender that never stops trying (503s included)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            while not done.wait(INTERVAL_S / 2):
                body = snappy(
                    v1([({"__name__": "pushed", "job": "sender"}, [(int(time.time() * 1000), 1.0)])])
                )
                with contextlib.suppress(httpx.HTTPError):
                    client.post("/api/v1/write", content=body, headers=V1_HEADERS)

    def build(sink: Appender) -> MetricSource:
        source = PushIngest(sink, registry=CollectorRegistry())
        app.router.routes.clear()  # the routes of the newest source only
        app.include_router(push_router(source, PushConfig))
        return source

    thread.start()
    wait_until(lambda: server.started, 20, "the push harness server")
    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    try:
        yield Harness(build)
    finally:
        done.set()
        sender.join(10)
        server.should_exit = True
        thread.join(10)


SOURCES: dict[str, Callable[[], contextlib.AbstractContextManager[Harness]]] = {
    "scrape": _scrape,
    "log_cache": _log_cache,
    "push": _push,
}


def _samples(store: MemoryStore) -> int:
    return sum(len(s.values) for s in store.select([Matcher("__name__", MatchOp.RE, ".+")], 0, END))


async def feeds_until_stopped(harness: Harness) -> None:
    store = MemoryStore()
    source = harness.build(store)
    assert isinstance(source, MetricSource)
    await source.start()
    await source.start()  # idempotent
    try:
        await eventually(lambda: _samples(store) > 0, 10, "samples from the started source")
    finally:
        await source.stop()
    await source.stop()  # idempotent
    await asyncio.sleep(SETTLE_S)
    stopped = _samples(store)
    await asyncio.sleep(4 * INTERVAL_S)
    assert _samples(store) == stopped, "the source kept appending after stop()"


async def stop_without_start(harness: Harness) -> None:
    store = MemoryStore()
    source = harness.build(store)
    await source.stop()
    await asyncio.sleep(2 * INTERVAL_S)
    assert _samples(store) == 0


CHECKS: list[Callable[[Harness], Awaitable[None]]] = [feeds_until_stopped, stop_without_start]
CASES = [(source, check) for source in SOURCES for check in CHECKS]


@pytest.mark.parametrize(("source", "check"), CASES, ids=[f"{s}:{c.__name__}" for s, c in CASES])
async def test_source_contract(source: str, check: Callable[[Harness], Awaitable[None]]) -> None:
    with SOURCES[source]() as harness:
        await check(harness)
