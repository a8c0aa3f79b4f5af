"""The alerting service's wiring: the rule engine's PromQL metrics are visible next to the query API's, and
the collector's commit hook reaches the rule manager."""

from __future__ import annotations

import asyncio
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest

from alerting.config import RulesConfig
from metrics_store.memory import MemoryStore
from metrics_store.promql import Engine
from paramedic.alerting import AlertingService


def _service(tmp_path: Path, registry: CollectorRegistry) -> AlertingService:
    (tmp_path / "r.yml").write_text(
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up == 0\n"
    )
    return AlertingService(
        RulesConfig(files=["r.yml"]),
        None,
        base_dir=tmp_path,
        store=MemoryStore(),
        patterns=None,
        server_url="http://127.0.0.1:9300",
        registry=registry,
    )


def test_rule_engine_metrics_are_exported_with_their_own_prefix(tmp_path: Path) -> None:
    registry = CollectorRegistry(auto_describe=True)  # like the server's: duplicate names are refused
    query_api = Engine(MemoryStore(), registry=registry)
    svc = _service(tmp_path, registry)
    svc.engine.instant_query("1 + 1", 0)
    svc.engine.instant_query("1 + 1", 0)
    query_api.instant_query("1", 0)
    assert registry.get_sample_value("paramedic_rules_promql_queries_total", {"kind": "instant"}) == 2
    assert registry.get_sample_value("paramedic_promql_queries_total", {"kind": "instant"}) == 1
    text = generate_latest(registry).decode()
    assert text.count("# TYPE paramedic_rules_promql_queries_total counter") == 1
    assert "\nparamedic_rules_promql_samples_loaded_total " in text


async def test_on_commit_wakes_the_rule_manager(tmp_path: Path) -> None:
    svc = _service(tmp_path, CollectorRegistry())
    assert svc.rules is not None
    await svc.start()
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5
        while svc.rules.groups[0].last_eval_ms < 0 and loop.time() < deadline:
            await asyncio.sleep(0.02)  # the start-up evaluation
        evals = svc.rules.groups[0].last_eval_ms
        svc.on_commit("node")
        while svc.rules.groups[0].last_eval_ms == evals and loop.time() < deadline:
            await asyncio.sleep(0.02)
        assert svc.rules.groups[0].last_eval_ms > evals  # evaluated on arrival, not at the 15 s slot
    finally:
        await svc.stop()
