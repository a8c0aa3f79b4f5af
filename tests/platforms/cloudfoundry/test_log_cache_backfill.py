"""LogCacheSource named queries and query_range backfill against the loopback fake Log Cache.

The fake holds fixed point sets per query text (it evaluates no PromQL); the tests check the values,
names, labels and timestamps Paramedic stored, and the time bounds it asked for."""

from __future__ import annotations

import asyncio
from typing import Any

from prometheus_client import CollectorRegistry

from alerting.rules import load_files
from metrics_store.memory import MemoryStore
from metrics_store.model import Matcher, MatchOp
from metrics_store.promql import Engine, Vector
from platforms.cloudfoundry import LogCacheSource
from platforms.cloudfoundry.log_cache_queries import derive_queries
from platforms.config import LogCacheConfig
from tests.platforms.cloudfoundry.conftest import make_config
from tests.platforms.cloudfoundry.fake_cf import APP_GUID, FakeCF, Scripted

T0 = 1_800_000_000.0  # the fake wall clock's start (unix seconds)
P95 = 'quantile_over_time(0.95, latency{source_id="gorouter"}[1m])'
ROUTER = {"source_id": "gorouter", "deployment": "cf", "job": "router", "index": "0"}


class Wall:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def _points(start: float, end: float, step: float = 30.0) -> list[list[Any]]:
    """Points every ``step`` s in [start, end], value = seconds since T0 (distinct, easy to check)."""
    out, t = [], start
    while t <= end:
        out.append([t, str(t - T0)])
        t += step
    return out


def _source(
    fake: FakeCF, queries: list[dict[str, Any]], **log_cache: Any
) -> tuple[LogCacheSource, MemoryStore, CollectorRegistry, Wall]:
    store, registry, wall = MemoryStore(), CollectorRegistry(), Wall()
    cfg = make_config(
        fake, log_cache={"url": fake.base_url, "interval_s": 30, "queries": queries, **log_cache}
    )
    return LogCacheSource(cfg, store, registry=registry, wall=wall), store, registry, wall


def _stored(store: MemoryStore, name: str) -> dict[tuple[tuple[str, str], ...], list[tuple[int, float]]]:
    found = store.select([Matcher("__name__", MatchOp.EQ, name)], 0, 2**62)
    return {s.labels: list(zip(s.timestamps_ms.tolist(), s.values.tolist(), strict=True)) for s in found}


def _ranges(fake: FakeCF) -> list[dict[str, str]]:
    return [r.query for r in fake.calls("GET", "/api/v1/query_range")]


def test_named_query_is_stored_under_its_name_with_labels(fake: FakeCF) -> None:
    fake.log_cache_points[P95] = [{"metric": ROUTER, "values": [[T0 - 30, "120.5"], [T0, "99.25"]]}]
    source, store, registry, _ = _source(fake, [{"expr": P95, "name": "gorouter_latency_p95"}], backfill_s=0)
    assert source.poll_once() == 1
    [(labels, points)] = _stored(store, "gorouter_latency_p95").items()
    assert dict(labels) == {"__name__": "gorouter_latency_p95", **ROUTER}
    assert points == [(int(T0 * 1000), 99.25)]  # the newest point Log Cache answered, its own timestamp
    assert [r.query["query"] for r in fake.calls("GET", "/api/v1/query")] == [P95]
    assert (
        registry.get_sample_value(
            "paramedic_cf_log_cache_queries_total", {"kind": "instant", "outcome": "ok"}
        )
        == 1
    )
    assert registry.get_sample_value("paramedic_cf_log_cache_polled_queries") == 1
    asyncio.run(source.stop())


def test_per_app_named_query_gets_source_id_and_app(fake: FakeCF) -> None:
    expr = 'quantile_over_time(0.95, http{source_id="{app_guid}"}[1m])'
    sent = expr.replace("{app_guid}", APP_GUID)
    metric = {"instance_id": "0", "status_code": "200", "method": "GET"}
    fake.log_cache_points[sent] = [{"metric": metric, "values": [[T0, "2500000"]]}]
    query = {"expr": expr, "name": "cf_app_http_latency_p95_ns", "per_app": True}
    source, store, _, _ = _source(fake, [query], backfill_s=0)
    source.poll_once()
    [(labels, points)] = _stored(store, "cf_app_http_latency_p95_ns").items()
    assert dict(labels) == {
        "__name__": "cf_app_http_latency_p95_ns",
        "source_id": APP_GUID,
        "app": "my_app",
        "app_guid": APP_GUID,
        "space": "my-space",  # the official examples' space and org, included in the app listing
        "org": "my-organization",
        **metric,
    }
    assert points == [(int(T0 * 1000), 2_500_000.0)]
    asyncio.run(source.stop())


def test_first_poll_backfills_the_configured_window(fake: FakeCF) -> None:
    held = _points(T0 - 7200, T0)  # Log Cache holds 2 h; Paramedic may take 1 h
    fake.log_cache_points[P95] = [{"metric": ROUTER, "values": held}]
    source, store, registry, _ = _source(
        fake, [{"expr": P95, "name": "gorouter_latency_p95"}], backfill_s=3600
    )
    appended = source.poll_once()
    [asked] = _ranges(fake)
    assert (float(asked["start"]), float(asked["end"]), asked["step"]) == (T0 - 3600, T0 - 30, "30s")
    [(_, points)] = _stored(store, "gorouter_latency_p95").items()
    expected = [(round(t * 1000), float(v)) for t, v in held if t >= T0 - 3600]
    assert points == expected  # backfilled [T0-1h, T0-30s] plus the instant point at T0
    assert appended == len(expected)
    backfilled = registry.get_sample_value("paramedic_cf_log_cache_backfilled_samples_total")
    assert backfilled == len(expected) - 1
    assert (
        registry.get_sample_value("paramedic_cf_log_cache_queries_total", {"kind": "range", "outcome": "ok"})
        == 1
    )
    asyncio.run(source.stop())


def test_gap_after_failed_polls_is_backfilled_and_a_restart_backfills_again(fake: FakeCF) -> None:
    fake.log_cache_points[P95] = [{"metric": ROUTER, "values": _points(T0 - 600, T0 + 600)}]
    queries = [{"expr": P95, "name": "gorouter_latency_p95"}]
    source, store, registry, wall = _source(fake, queries, backfill_s=300)
    source.poll_once()
    wall.now = T0 + 30
    source.poll_once()  # on time: no range query
    assert len(_ranges(fake)) == 1
    fake.script(
        "GET", "/api/v1/query", Scripted(503, {"status": "error"}), Scripted(503, {"status": "error"})
    )
    for step in (60, 90):  # two failed polls (the source does not retry 5xx of Log Cache)
        wall.now = T0 + step
        source.poll_once()
    assert (
        registry.get_sample_value(
            "paramedic_cf_log_cache_queries_total", {"kind": "instant", "outcome": "error"}
        )
        == 2
    )
    assert len(_ranges(fake)) == 1  # no range query to a Log Cache that fails the instant one
    wall.now = T0 + 120
    source.poll_once()
    gap = _ranges(fake)[-1]
    assert (float(gap["start"]), float(gap["end"])) == (T0 + 60, T0 + 90)  # after the last good poll
    stamps = [ts for ts, _ in next(iter(_stored(store, "gorouter_latency_p95").values()))]
    assert stamps == [round((T0 + s) * 1000) for s in range(-300, 121, 30)]  # no hole
    asyncio.run(source.stop())

    again, _, _, wall2 = _source(fake, queries, backfill_s=300)  # a restart: no memory of the last poll
    wall2.now = T0 + 600
    again.poll_once()
    restart = _ranges(fake)[-1]
    assert (float(restart["start"]), float(restart["end"])) == (T0 + 300, T0 + 570)
    asyncio.run(again.stop())


def test_oversized_answers_are_refused(fake: FakeCF) -> None:
    fake.log_cache_points[P95] = [{"metric": ROUTER, "values": _points(T0 - 3600, T0)}]
    source, store, registry, _ = _source(
        fake, [{"expr": P95, "name": "gorouter_latency_p95"}], backfill_s=3600, max_samples_per_query=10
    )
    assert source.poll_once() == 1  # the range answer (120 points) refused, the instant one kept
    assert registry.get_sample_value("paramedic_cf_log_cache_errors_total", {"reason": "ValueError"}) == 1
    assert (
        registry.get_sample_value(
            "paramedic_cf_log_cache_queries_total", {"kind": "range", "outcome": "error"}
        )
        == 1
    )
    assert len(next(iter(_stored(store, "gorouter_latency_p95").values()))) == 1
    asyncio.run(source.stop())


def test_first_poll_gives_the_pack_rules_their_history(fake: FakeCF) -> None:
    """The derived queries, served by a Log Cache holding the last hour, let the pack's rules hold for their
    `for:` window right after (re)start: the 502 rate over backfilled counter samples and the p95 named
    series both meet their critical thresholds over the last 5 minutes."""
    derived = derive_queries(LogCacheConfig.model_validate({"url": "http://lc"}).pack_paths())
    wanted = {"bad_gateways": 'bad_gateways{source_id="gorouter"}', "gorouter_latency_p95": P95}
    queries = [q for q in derived if q.expr in wanted.values()]
    assert {q.name or q.expr for q in queries} == {wanted["bad_gateways"], "gorouter_latency_p95"}
    held = [[t, str(0.75 * (t - T0 + 3600))] for t, _ in _points(T0 - 3600, T0)]  # 45 bad gateways a minute
    fake.log_cache_points[wanted["bad_gateways"]] = [{"metric": ROUTER, "values": held}]
    fake.log_cache_points[P95] = [
        {"metric": ROUTER, "values": [[t, "160"] for t, _ in _points(T0 - 3600, T0)]}
    ]
    source, store, _, _ = _source(fake, [q.model_dump() for q in queries], backfill_s=3600)
    source.poll_once()
    engine = Engine(store, registry=CollectorRegistry())
    rules = {
        (rule.name, dict(rule.labels)["severity"]): rule.expr
        for group in load_files(["cloudfoundry"])
        for rule in group.rules
        if rule.name in {"Gorouter502PerMinuteHigh", "GorouterLatencyP95High"}
    }
    for (name, severity), expr in sorted(rules.items()):
        for minutes_ago in range(6):
            result = engine.instant_query(expr, round((T0 - 60 * minutes_ago) * 1000))
            assert isinstance(result, Vector)
            values = {dict(s.labels)["index"]: s.value for s in result.samples}
            assert values and values["0"] >= (40 if name.startswith("Gorouter502") else 150), (name, severity)
    asyncio.run(source.stop())
