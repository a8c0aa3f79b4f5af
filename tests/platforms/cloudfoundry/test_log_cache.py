"""LogCacheSource against the fake Log Cache PromQL endpoint; MemoryStore is the appender."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry

from metrics_store.memory import MemoryStore
from metrics_store.model import Matcher, MatchOp, labels_from
from platforms.cloudfoundry import CloudFoundryError, LogCacheSource
from platforms.cloudfoundry.log_cache import samples_from_response
from tests.platforms.cloudfoundry.conftest import make_config
from tests.platforms.cloudfoundry.fake_cf import APP_GUID, FakeCF

QUERIES = [
    {"expr": 'cpu{source_id="{app_guid}"}', "per_app": True},
    {"expr": 'CapacityRemainingMemory{source_id="rep"}'},
    {"expr": 'nosuchmetric{source_id="bbs"}'},
]


def _source(
    fake: FakeCF, store: MemoryStore, registry: CollectorRegistry, interval_s: float = 30
) -> LogCacheSource:
    log_cache = {"url": fake.base_url, "interval_s": interval_s, "queries": QUERIES, "backfill_s": 0}
    cfg = make_config(fake, log_cache=log_cache)
    return LogCacheSource(cfg, store, registry=registry)


def _all(store: MemoryStore) -> dict[tuple[tuple[str, str], ...], list[tuple[int, float]]]:
    found = store.select([Matcher("__name__", MatchOp.RE, ".+")], 0, 2**62)
    return {s.labels: list(zip(s.timestamps_ms.tolist(), s.values.tolist(), strict=True)) for s in found}


def _space_org(fake: FakeCF) -> dict[str, str]:
    app = fake.apps[APP_GUID]
    space = fake.spaces[app["relationships"]["space"]["data"]["guid"]]
    org = fake.orgs[space["relationships"]["organization"]["data"]["guid"]]
    return {"space": space["name"], "org": org["name"]}


def test_poll_appends_labelled_samples(fake: FakeCF) -> None:
    store, registry = MemoryStore(), CollectorRegistry()
    source = _source(fake, store, registry)
    assert source.poll_once() == 3
    series = _all(store)
    common = {
        "source_id": APP_GUID,
        "deployment": "cf",
        "job": "diego-cell",
        "origin": "rep",
        "unit": "percentage",
    }
    # org and space names come from the same app listing (include=space.organization of the official
    # examples: space "my-space" of org "my-organization")
    common |= {"app": "my_app", "app_guid": APP_GUID, **_space_org(fake)}
    cpu0 = labels_from({"__name__": "cpu", "instance_id": "0", **common})
    cpu1 = labels_from({"__name__": "cpu", "instance_id": "1", **common})
    assert series[cpu0] == [(1712000000500, 2.25)]
    assert series[cpu1] == [(1712000000500, 0.5)]
    [rep] = [k for k in series if ("__name__", "CapacityRemainingMemory") in k]
    assert dict(rep)["source_id"] == "rep" and "app" not in dict(rep)
    assert series[rep] == [(1712000001000, 8192.0)]
    # per-app query ran only for the STARTED app, with its GUID as source_id
    queries = [r.query["query"] for r in fake.calls("GET", "/api/v1/query")]
    assert queries[0] == f'cpu{{source_id="{APP_GUID}"}}'
    assert all(r.auth == "bearer token-1" for r in fake.calls("GET", "/api/v1/query"))
    assert registry.get_sample_value("paramedic_cf_log_cache_samples_total") == 3
    assert registry.get_sample_value("paramedic_cf_log_cache_errors_total", {"reason": "400"}) == 1
    asyncio.run(source.stop())


def test_start_stop_polls_every_interval(fake: FakeCF) -> None:
    store, registry = MemoryStore(), CollectorRegistry()
    source = _source(fake, store, registry, interval_s=0.05)

    async def run() -> None:
        await source.start()
        deadline = asyncio.get_running_loop().time() + 10
        while source.polls < 2:
            assert asyncio.get_running_loop().time() < deadline, "Log Cache source did not poll twice"
            await asyncio.sleep(0.01)
        await source.stop()
        await source.stop()  # idempotent

    asyncio.run(run())
    assert len(_all(store)) == 3


def test_requires_log_cache_config(fake: FakeCF) -> None:
    with pytest.raises(CloudFoundryError, match="log_cache is not configured"):
        LogCacheSource(make_config(fake), MemoryStore(), registry=CollectorRegistry())


def test_matrix_and_error_responses() -> None:
    body = {
        "status": "success",
        "data": {
            "resultType": "matrix",
            "result": [{"metric": {"source_id": "bbs"}, "values": [[1, "2"], [2, "3"]]}],
        },
    }
    assert samples_from_response(body, 'LRPsMissing{source_id="bbs"}') == [
        ({"source_id": "bbs", "__name__": "LRPsMissing"}, 1000, 2.0),
        ({"source_id": "bbs", "__name__": "LRPsMissing"}, 2000, 3.0),
    ]
    with pytest.raises(ValueError, match="status 'error'"):
        samples_from_response({"status": "error", "error": "bad"}, "x")
