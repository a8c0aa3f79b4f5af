"""``paramedic demo --replicas``: each replica's config (checked like the demo's own), its shared OpenSearch
log store or, when OpenSearch is not built, the loud fallback to per-replica indices, and the HAProxy TCP
front for RELP/syslog (checked by the real haproxy)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from log_pipeline.search.config import ElasticsearchSearchConfig
from paramedic.config import parse_config
from paramedic.demo import demo_config
from paramedic.demo._config import DemoSinks, demo_spaces
from paramedic.demo._log_store import opensearch_search, start_log_store
from paramedic.demo._replicas import front_config, replica_config, replica_plans
from tests.support.servers import require_binary


def test_every_replica_gets_its_ports_and_state_and_shares_store_and_etcd(tmp_path: Path) -> None:
    base = demo_config(tmp_path, 9300, 2.0, sinks=DemoSinks(2525, 9099), spaces=demo_spaces(["checkout"]))
    plans = replica_plans(tmp_path, 3, 9300)
    cfgs = [
        parse_config(
            yaml.safe_dump(
                replica_config(base, p, etcd_url="http://127.0.0.1:2379", store_url="http://127.0.0.1:8428")
            ),
            f"{p.id}.yaml",
        )
        for p in plans
    ]
    assert cfgs[0].server.listen_port == 9300
    ports = (
        [c.server.listen_port for c in cfgs] + [p.relp_port for p in plans] + [p.syslog_port for p in plans]
    )
    assert len(set(ports)) == len(ports)
    for plan, cfg in zip(plans, cfgs, strict=True):
        assert cfg.cluster is not None and cfg.cluster.replica_id == plan.id
        assert cfg.cluster.advertise_url == plan.api_url
        assert cfg.metrics_store.type == "remote"
        assert cfg.logs is not None and cfg.logs.syslog_udp is None
        assert cfg.logs.relp is not None and cfg.logs.relp.port == plan.relp_port
        assert str(plan.dir) in str(cfg.logs.spool.path)
        assert cfg.alerting is not None and str(plan.dir) in str(cfg.alerting.data_dir)
    # the single-process demo config is left as it was
    assert base["metrics_store"]["type"] == "embedded" and "cluster" not in base


def test_the_log_front_is_a_valid_haproxy_tcp_config(tmp_path: Path) -> None:
    plans = replica_plans(tmp_path, 3, 9300)
    text = front_config(2514, 1514, plans)
    cfg = tmp_path / "front.cfg"
    cfg.write_text(text)
    check = subprocess.run(
        [require_binary("haproxy"), "-c", "-f", str(cfg)], capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout + check.stderr
    for plan in plans:
        assert f"server {plan.id} 127.0.0.1:{plan.relp_port}" in text
        assert f"server {plan.id} 127.0.0.1:{plan.syslog_port}" in text
    assert "mode tcp" in text and "bind 127.0.0.1:2514" in text and "bind 127.0.0.1:1514" in text


def test_with_the_shared_log_store_every_replica_searches_the_same_opensearch(tmp_path: Path) -> None:
    base = demo_config(tmp_path, 9300, 2.0, spaces=demo_spaces(["checkout"]))
    urls = [f"http://127.0.0.1:{9200 + i}" for i in range(3)]
    for plan in replica_plans(tmp_path, 3, 9300):
        raw = replica_config(
            base, plan, etcd_url="http://127.0.0.1:2379", store_url="http://127.0.0.1:8428",
            search=opensearch_search(urls),
        )  # fmt: skip
        cfg = parse_config(yaml.safe_dump(raw), f"{plan.id}.yaml")
        search = cfg.logs.search if cfg.logs is not None else None
        assert isinstance(search, ElasticsearchSearchConfig)
        assert search.engine == "opensearch" and search.hosts == urls and search.number_of_replicas == 1
    assert base["logs"]["search"]["type"] == "embedded"


def test_without_opensearch_built_the_demo_says_so_and_keeps_per_replica_indices(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARAMEDIC_CACHE", str(tmp_path / "empty-cache"))
    said: list[tuple[str, bool]] = []

    def echo(message: str, *, err: bool = False) -> None:
        said.append((message, err))

    assert start_log_store(tmp_path, echo) is None
    assert len(said) == 1 and said[0][1] and said[0][0].startswith("OPENSEARCH NOT BUILT")
    assert "scripts/build_opensearch.sh" in said[0][0]
    assert not (tmp_path / "opensearch-3").exists()
    plan = replica_plans(tmp_path, 2, 9300)[1]
    base = demo_config(tmp_path, 9300, 2.0, spaces=demo_spaces(["checkout"]))
    raw = replica_config(base, plan, etcd_url="http://127.0.0.1:2379", store_url="http://127.0.0.1:8428")
    assert raw["logs"]["search"] == {"type": "embedded", "path": str(plan.dir / "logs" / "search")}
