"""The metadata registry (bounds, ageing, thread safety of the shape) and /api/v1/metadata over it."""

from __future__ import annotations

import random
import threading
import time
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

import collector.metadata
from collector.exposition import FamilyMeta, parse
from collector.metadata import MetadataRegistry, MetricMetadata, metadata_router
from platforms.tenancy import Grant, Scope


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _registry(clock: _Clock | None = None, **kw: int) -> MetadataRegistry:
    return MetadataRegistry(clock=clock or _Clock(), registry=CollectorRegistry(), **kw)


def test_types_help_unit_from_both_formats() -> None:
    reg = _registry()
    reg.observe(
        parse(
            b"# HELP a_total A.\n# TYPE a_total counter\na_total 1\nb 2\n"
            b"# TYPE u untyped\n# HELP u U.\nu 3\n",
            "text/plain",
        ).families
    )
    om = b"# TYPE d_seconds gauge\n# UNIT d_seconds seconds\n# HELP d_seconds D.\nd_seconds 1\n# EOF\n"
    reg.observe(parse(om, "application/openmetrics-text; version=1.0.0").families)
    assert reg.snapshot() == {
        "d_seconds": [MetricMetadata("gauge", "D.", "seconds")],
        "u": [MetricMetadata("unknown", "U.", "")],
        "a_total": [MetricMetadata("counter", "A.", "")],
    }  # b has no TYPE/HELP line: no metadata, as in Prometheus


def test_distinct_variants_limit_and_metric_filter() -> None:
    reg = _registry()
    for help_text in ("one", "two", "one"):
        reg.observe({"m": FamilyMeta("m", "gauge", help_text), "n": FamilyMeta("n", "counter", "x")})
    assert reg.snapshot("m") == {
        "m": [MetricMetadata("gauge", "one", ""), MetricMetadata("gauge", "two", "")]
    }
    assert reg.snapshot("absent") == {}
    assert len(reg.snapshot(limit=1)) == 1
    assert reg.snapshot(limit=0) == {}


def test_bounded_and_aged() -> None:
    clock = _Clock()
    reg = _registry(clock, max_metrics=2, max_variants=2, max_age_s=60)
    for name in ("a", "b", "c"):
        reg.observe({name: FamilyMeta(name, "gauge", "h")})
    assert set(reg.snapshot()) == {"b", "c"}  # least recently seen evicted
    for i in range(3):
        clock.now += 1
        reg.observe({"c": FamilyMeta("c", "gauge", f"h{i}")})
    assert [m.help for m in reg.snapshot("c")["c"]] == ["h1", "h2"]
    clock.now += 61.5
    reg.observe({"c": FamilyMeta("c", "gauge", "h2")})
    assert reg.snapshot() == {"c": [MetricMetadata("gauge", "h2", "")]}  # the rest aged out


def test_concurrent_observe_and_snapshot() -> None:
    reg = _registry(max_metrics=100)
    fams = {f"m{i}": FamilyMeta(f"m{i}", "gauge", "h") for i in range(300)}

    def work() -> None:
        for _ in range(20):
            reg.observe(fams)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        assert len(reg.snapshot()) <= 100
    assert len(reg.snapshot()) == 100


def test_metadata_endpoint_shape_and_errors() -> None:
    reg = _registry()
    reg.observe({"m": FamilyMeta("m", "histogram", "Latency.", "seconds")})
    app = FastAPI()
    app.include_router(metadata_router(reg))
    client = TestClient(app)
    assert client.get("/api/v1/metadata").json() == {
        "status": "success",
        "data": {"m": [{"type": "histogram", "help": "Latency.", "unit": "seconds"}]},
    }
    assert client.get("/api/v1/metadata", params={"metric": "x"}).json()["data"] == {}
    resp = client.get("/api/v1/metadata", params={"limit": "ten"})
    assert resp.status_code == 400
    assert resp.json() == {"status": "error", "errorType": "bad_data", "error": "limit must be a number"}


def test_each_tenant_sees_the_triples_its_own_or_the_foundations_targets_exposed() -> None:
    clock = _Clock()
    reg = _registry(clock, max_variants=2, max_age_s=60)
    acme, globex = Scope.of([Grant("acme", "prod", "viewer")]), Scope.of([Grant("globex", None, "viewer")])
    reg.observe({"m": FamilyMeta("m", "gauge", "shared")}, ("acme", "prod"))
    reg.observe({"m": FamilyMeta("m", "gauge", "shared")}, ("globex", "prod"))
    reg.observe({"m": FamilyMeta("m", "gauge", "globex's own")}, ("globex", "dev"))
    reg.observe({"r": FamilyMeta("r", "gauge", "router")})  # a foundation target: shown to every tenant
    assert [m.help for m in reg.scoped_snapshot(["m"], acme)["m"]] == ["shared"]
    assert [m.help for m in reg.scoped_snapshot(["m"], globex)["m"]] == ["shared", "globex's own"]
    assert reg.scoped_snapshot(["r", "absent"], acme) == {"r": [MetricMetadata("gauge", "router", "")]}
    assert len(reg.scoped_snapshot(["m", "r"], globex, limit=1)) == 1
    # freshness is per tenant: acme's target stopped exposing "shared", globex's did not
    clock.now += 61
    reg.observe({"m": FamilyMeta("m", "gauge", "shared")}, ("globex", "prod"))
    assert reg.scoped_snapshot(["m"], acme) == {}
    assert [m.help for m in reg.scoped_snapshot(["m"], globex)["m"]] == ["shared"]
    assert reg.snapshot() == {"m": [MetricMetadata("gauge", "shared", "")]}  # foundation-wide: all tenants'


def test_three_orgs_exposing_a_help_do_not_make_it_everyones() -> None:
    """No org, nor three of them, can show a HELP text to a tenant whose targets did not expose it (initech's
    dev/staging/prod orgs keep their own HELP; a holder of three orgs cannot push one to every tenant)."""
    reg = _registry()
    for org in ("initech-dev", "initech-staging", "initech-prod"):
        reg.observe({"orders_total": FamilyMeta("orders_total", "counter", "initech's secret")}, (org, "s"))
    reg.observe({"orders_total": FamilyMeta("orders_total", "counter", "umbrella's")}, ("umbrella", "s"))
    umbrella = Scope.of([Grant("umbrella", None, "viewer")])
    assert reg.scoped_snapshot(["orders_total"], umbrella) == {
        "orders_total": [MetricMetadata("counter", "umbrella's", "")]
    }


def test_one_tenants_many_helps_do_not_push_out_anothers() -> None:
    """The triple limit is per (tenant, name): globex exposing ``max_variants`` junk HELPs of ``m`` leaves
    acme's own (it used to be one limit per name, shared by every tenant)."""
    reg = _registry(max_variants=8)
    reg.observe({"m": FamilyMeta("m", "gauge", "acme's")}, ("acme", "prod"))
    for i in range(8):
        reg.observe({"m": FamilyMeta("m", "gauge", f"junk {i}")}, ("globex", "prod"))
    acme = Scope.of([Grant("acme", None, "viewer")])
    assert reg.scoped_snapshot(["m"], acme) == {"m": [MetricMetadata("gauge", "acme's", "")]}


def _evicted(prom: CollectorRegistry, reason: str) -> float:
    return prom.get_sample_value("paramedic_collector_metadata_evicted_total", {"reason": reason}) or 0.0


def test_expired_entries_are_freed_and_the_budget_is_global() -> None:
    clock, prom = _Clock(), CollectorRegistry()
    reg = MetadataRegistry(clock=clock, registry=prom, max_triples=100, max_age_s=60)
    fams = {f"f{i}": FamilyMeta(f"f{i}", "gauge", "h") for i in range(10)}
    for j in range(50):  # 500 (tenant, name) entries into a budget of 100: the least recently seen go
        reg.observe(fams, ("bigcorp", f"s{j}"))
    assert prom.get_sample_value("paramedic_collector_metadata_metrics") == 10  # names
    assert _evicted(prom, "max_triples") == 400
    assert reg.scoped_snapshot(fams, Scope.of([Grant("bigcorp", "s0", "viewer")])) == {}
    assert len(reg.scoped_snapshot(fams, Scope.of([Grant("bigcorp", "s49", "viewer")]))) == 10
    clock.now += 61  # every target gone for longer than max_age_s: the next call deletes their entries
    reg.observe({"x": FamilyMeta("x", "gauge", "h")})
    assert prom.get_sample_value("paramedic_collector_metadata_metrics") == 1
    assert _evicted(prom, "max_age") == 100
    assert reg._orgs.keys() == {""}  # the emptied tenants' maps are gone too
    # a live tenant's name that its targets stopped exposing is deleted too (pruned once per max_age_s)
    acme = Scope.of([Grant("acme", "prod", "viewer")])
    reg.observe({"a": FamilyMeta("a", "gauge", "h"), "b": FamilyMeta("b", "gauge", "h")}, ("acme", "prod"))
    for _ in range(2):
        clock.now += 40
        reg.observe({"a": FamilyMeta("a", "gauge", "h")}, ("acme", "prod"))
    assert reg.scoped_snapshot(["a", "b"], acme) == {"a": [MetricMetadata("gauge", "h", "")]}
    assert prom.get_sample_value("paramedic_collector_metadata_metrics") == 1  # acme's a; b and x deleted
    assert _evicted(prom, "max_age") == 102


def _fill(reg: MetadataRegistry, spaces: range, fams: dict[str, FamilyMeta]) -> float:
    started = time.process_time()
    for j in spaces:
        reg.observe(fams, ("bigcorp", f"s{j}"))
    return time.process_time() - started


def test_first_sighting_cost_does_not_grow_with_tenants() -> None:
    """CPU time of 50 new spaces' first scrapes (one org) after 50 spaces vs after 2,000 (it used to rebuild
    the org set of every space exposing a triple, and past 4,096 spaces scan for the oldest one: ~40x)."""
    reg = _registry(max_triples=10**7)
    fams = {f"f{i}_total": FamilyMeta(f"f{i}_total", "counter", "h") for i in range(50)}
    _fill(reg, range(50), fams)
    early = min(_fill(reg, range(50 + 50 * k, 100 + 50 * k), fams) for k in range(3))
    _fill(reg, range(200, 2000), fams)
    late = min(_fill(reg, range(2000 + 50 * k, 2050 + 50 * k), fams) for k in range(3))
    assert late < 3 * early + 0.01, (early, late)


def test_a_scoped_read_does_not_scan_other_tenants() -> None:
    """A viewer's read costs one lookup per (grant, family) plus the foundation's: counted here as the
    entries it reads, and a generous CPU bound for 1,000 reads among 300,000 other tenants' entries."""
    reg = _registry(max_triples=10**7)
    fams = {f"f{i}": FamilyMeta(f"f{i}", "gauge", "h") for i in range(100)}
    for j in range(3000):  # one org's spaces: no rule folds them into fewer entries
        reg.observe(fams, ("bigcorp", f"s{j}"))
    reg.observe({"f1": FamilyMeta("f1", "gauge", "umbrella's")}, ("umbrella", "s"))
    umbrella = Scope.of([Grant("umbrella", "s", "viewer"), Grant("umbrella", "t", "viewer")])
    read: list[int] = []
    real_merge = collector.metadata._merge

    def counting(found: list[MetricMetadata], triples: Any, horizon: float) -> None:
        read.append(len(triples))
        real_merge(found, triples, horizon)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(collector.metadata, "_merge", counting)
        assert reg.scoped_snapshot(["f1", "f2", "nothere"], umbrella) == {
            "f1": [MetricMetadata("gauge", "umbrella's", "")]
        }
    assert read == [1]
    started = time.process_time()
    for _ in range(1000):
        reg.scoped_snapshot(["f1", "f2"], umbrella)
    assert time.process_time() - started < 1.0  # ~10 ms here; scanning the 300,000 entries: minutes


class _CountingLock:
    def __init__(self) -> None:
        self.lock, self.taken = threading.Lock(), 0

    def __enter__(self) -> None:
        self.lock.acquire()
        self.taken += 1

    def __exit__(self, *exc: object) -> None:
        self.lock.release()


def test_a_scoped_read_lets_scrapes_in_between_names() -> None:
    """An org viewer's read of many names (1,000 spaces x 200 names held the lock ~100 ms at once) releases
    the lock after each name, so the scrapes waiting on it are not held up for the whole read."""
    reg = _registry()
    fams = {f"f{i}": FamilyMeta(f"f{i}", "gauge", "h") for i in range(20)}
    for j in range(5):
        reg.observe(fams, ("bigcorp", f"s{j}"))
    lock = _CountingLock()
    reg._lock = lock  # type: ignore[assignment]
    assert len(reg.scoped_snapshot(fams, Scope.of([Grant("bigcorp", None, "viewer")]))) == 20
    assert lock.taken == 1 + 20


def test_a_foundation_wide_read_costs_its_names_not_every_tenants_entries() -> None:
    """An admin's (Grafana's) read merges every tenant's triples: it reads a per-name count kept as entries
    come and go, not the 200,000 (tenant, name) entries (~95 ms a read that way); a generous CPU bound."""
    reg = _registry()
    fams = {f"f{i}": FamilyMeta(f"f{i}", "gauge", "h") for i in range(200)}
    for j in range(1000):
        reg.observe(fams, ("bigcorp", f"s{j}"))
    reg.observe({"f1": FamilyMeta("f1", "gauge", "other")}, ("acme", "prod"))
    assert reg.snapshot("f1") == {
        "f1": [MetricMetadata("gauge", "h", ""), MetricMetadata("gauge", "other", "")]
    }
    started = time.process_time()
    for _ in range(100):
        assert len(reg.snapshot()) == 200
    assert time.process_time() - started < 1.0  # ~10 ms here; reading every entry: ~10 s


def test_the_budget_counts_triples_and_help_is_capped() -> None:
    """A tenant's many HELP texts of one name cost the budget one each (each entry held up to 8 triples,
    ~3 KB with 200-byte HELPs, and HELP had no length limit: 200,000 entries reached ~640 MB)."""
    reg = _registry(max_triples=10)
    for i in range(8):
        reg.observe({"m": FamilyMeta("m", "gauge", f"acme {i}")}, ("acme", "a"))
    for i in range(3):
        reg.observe({"n": FamilyMeta("n", "gauge", f"globex {i}")}, ("globex", "g"))
    assert reg.scoped_snapshot(["m"], Scope.of([Grant("acme", "a", "viewer")])) == {}  # 8 + 3 > 10
    assert len(reg.scoped_snapshot(["n"], Scope.of([Grant("globex", "g", "viewer")]))["n"]) == 3
    reg.observe({"long": FamilyMeta("long", "gauge", "x" * 100_000)})
    assert reg.snapshot("long")["long"][0].help == "x" * collector.metadata.MAX_HELP


def test_the_foundation_wide_read_keeps_the_order_limit_and_variants_cap() -> None:
    """As before tenants: the most recently seen name first, ``limit`` takes those, and at most
    ``max_variants`` triples per name whatever the number of tenants exposing it."""
    reg = _registry()
    for name in ("a", "b", "c", "a"):
        reg.observe({name: FamilyMeta(name, "gauge", "h")}, ("acme", "prod"))
    assert list(reg.snapshot()) == ["a", "c", "b"]
    assert list(reg.snapshot(limit=2)) == ["a", "c"]
    for j in range(12):
        reg.observe({"m": FamilyMeta("m", "gauge", f"tenant {j}")}, ("org", f"s{j}"))
    assert [md.help for md in reg.snapshot("m")["m"]] == [f"tenant {j}" for j in range(4, 12)]
    assert len(reg.snapshot()["m"]) == 8
    assert next(iter(reg.snapshot())) == "m"


def test_tenants_cannot_evict_the_foundations_metadata() -> None:
    """The foundation's triples are outside the tenants' budget: a tenant's junk names evict other tenants
    (counted as max_triples), never the router's or node exporters' metadata."""
    prom = CollectorRegistry()
    reg = MetadataRegistry(clock=_Clock(), registry=prom, max_triples=100)
    reg.observe({"node_cpu_seconds": FamilyMeta("node_cpu_seconds", "counter", "CPU.")})
    reg.observe({"orders": FamilyMeta("orders", "counter", "acme's")}, ("acme", "prod"))
    for j in range(5):
        reg.observe(
            {f"junk{j}_{i}": FamilyMeta(f"junk{j}_{i}", "gauge", "") for i in range(50)}, ("evil", f"s{j}")
        )
    assert reg.snapshot("node_cpu_seconds") == {"node_cpu_seconds": [MetricMetadata("counter", "CPU.", "")]}
    acme = Scope.of([Grant("acme", "prod", "viewer")])
    assert reg.scoped_snapshot(["node_cpu_seconds", "orders"], acme) == {
        "node_cpu_seconds": [MetricMetadata("counter", "CPU.", "")]
    }
    assert _evicted(prom, "max_triples") == 1 + 150  # acme's one, then the evil spaces least recently seen


def test_the_foundation_has_a_share_of_its_own() -> None:
    """The foundation's triples (a pushgateway's too) are bounded apart: past the share its first seen name
    goes, and a tenant's triples stay."""
    reg = _registry(max_foundation_triples=3)
    reg.observe({"orders": FamilyMeta("orders", "counter", "acme's")}, ("acme", "prod"))
    for i in range(5):
        reg.observe({f"r{i}": FamilyMeta(f"r{i}", "gauge", "router")})
    assert sorted(reg.snapshot()) == ["orders", "r2", "r3", "r4"]


def test_a_full_budget_counts_a_scrape_once_and_the_gauge_follows_the_sweep() -> None:
    clock, prom = _Clock(), CollectorRegistry()
    reg = MetadataRegistry(clock=clock, registry=prom, max_triples=5, max_age_s=60)
    fams = {f"f{i}": FamilyMeta(f"f{i}", "gauge", "h") for i in range(10)}
    for _ in range(3):
        reg.observe(fams, ("acme", "prod"))
    assert _evicted(prom, "rejected") == 3  # one per scrape, not 5 refused names each time
    assert prom.get_sample_value("paramedic_collector_metadata_metrics") == 5
    clock.now += 61
    reg.snapshot()  # a read sweeps the gone tenant: the gauge says so
    assert prom.get_sample_value("paramedic_collector_metadata_metrics") == 0


def test_an_org_grant_reads_the_orgs_merged_counts_not_each_space() -> None:
    reg = _registry(max_triples=10**7)
    fams = {f"f{i}": FamilyMeta(f"f{i}", "gauge", "h") for i in range(20)}
    for j in range(500):
        reg.observe(fams, ("bigcorp", f"s{j}"))
    reg.observe({"f1": FamilyMeta("f1", "gauge", "other")}, ("bigcorp", "s7"))
    read: list[int] = []
    real_merge = collector.metadata._merge

    def counting(found: list[MetricMetadata], triples: Any, horizon: float) -> None:
        read.append(len(triples))
        real_merge(found, triples, horizon)

    org = Scope.of([Grant("bigcorp", None, "viewer"), Grant("bigcorp", "s3", "viewer")])
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(collector.metadata, "_merge", counting)
        found = reg.scoped_snapshot(fams, org)
    assert read == []  # no space's own entries read (there were 500 per name)
    assert len(found) == 20
    assert [md.help for md in found["f1"]] == ["h", "other"]


def test_a_target_without_org_is_the_foundations() -> None:
    assert collector.metadata.tenant_of((("job", "j"), ("space", "prod"))) == ("", "")
    assert collector.metadata.tenant_of((("org", "acme"), ("space", "prod"))) == ("acme", "prod")
    assert collector.metadata.tenant_of((("org", "acme"),)) == ("acme", "")


def test_the_indexes_match_the_tenants_entries_through_every_bound() -> None:
    """The foundation-wide and org-wide counts and the budget's use, checked against the tenants' own maps
    after random scrapes that hit every bound (names, variants, triples, age)."""
    rng, clock = random.Random(7), _Clock()
    reg = _registry(
        clock, max_metrics=6, max_triples=40, max_foundation_triples=8, max_variants=2, max_age_s=30
    )
    tenants = [("", ""), ("a", "1"), ("a", "2"), ("b", "1"), ("c", "9")]
    for _ in range(2000):
        clock.now += rng.random() * 2
        names = rng.sample(range(10), rng.randint(0, 5))
        fams = {f"m{n}": FamilyMeta(f"m{n}", "gauge", f"h{rng.randint(0, 3)}") for n in names}
        reg.observe(fams, rng.choice(tenants))
        if rng.random() < 0.05:
            reg.snapshot()
        everyone: dict[str, dict[MetricMetadata, int]] = {}
        orgs: dict[str, dict[str, dict[MetricMetadata, int]]] = {}
        used = 0
        for tenant, seen in reg._tenants.items():
            assert seen.triples == sum(map(len, seen.names.values()))
            for name, triples in seen.names.items():
                for md in triples:
                    counts = everyone.setdefault(name, {})
                    counts[md] = counts.get(md, 0) + 1
                    if tenant != ("", ""):
                        org = orgs.setdefault(tenant[0], {}).setdefault(name, {})
                        org[md] = org.get(md, 0) + 1
                        used += 1
        assert dict(reg._all) == everyone
        assert {org: names for org, names in reg._by_org.items() if names} == orgs
        assert reg._used == used <= 40
        assert sum(seen.triples for t, seen in reg._tenants.items() if t == ("", "")) <= 8
