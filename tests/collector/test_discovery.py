"""Discovery end to end: file_sd files rewritten while running, a bad file keeping the last good targets,
and a tiny real Platform whose discover() returns exporters this test starts (scaling up and down)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from collector.config import CollectorConfig, FileJob, PlatformJob, RelabelConfig
from collector.discovery import parse_file_sd
from collector.errors import DiscoveryError
from collector.manager import ScrapeManager
from collector.relabel import compile_rules
from collector.targets import build_targets
from metrics_store.memory import MemoryStore
from platforms.base import DiscoveredTarget, PlatformError
from tests.collector.exporters import Exporter
from tests.collector.helpers import eventually, is_stale, last_value


class ListPlatform:
    """A real (in-process) Platform: its targets are whatever the test puts in ``targets``."""

    name = "list"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._targets: list[DiscoveredTarget] = []
        self.fail = False

    def set(self, targets: list[DiscoveredTarget]) -> None:
        with self._lock:
            self._targets = list(targets)

    def discover(self) -> list[DiscoveredTarget]:
        with self._lock:
            if self.fail:
                raise PlatformError("controller API answered 503")
            return list(self._targets)


def _write(path: Path, groups: object) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(groups))
    tmp.replace(path)


async def test_file_sd_updates_and_bad_files(tmp_path: Path) -> None:
    with Exporter() as a, Exporter() as b:
        a.set_body("m 1\n")
        b.set_body("m 2\n")
        sd = tmp_path / "targets" / "apps.json"
        sd.parent.mkdir()
        _write(sd, [{"targets": [a.address], "labels": {"app": "web"}}])
        job = FileJob(
            name="apps", type="file", files=["targets/*.json"], refresh_interval_s=30, interval_s=0.1
        )
        store = MemoryStore()
        mgr = ScrapeManager(
            CollectorConfig(jobs=[job]), store, None, registry=CollectorRegistry(), base_dir=tmp_path
        )
        await mgr.start()
        try:
            await eventually(
                lambda: last_value(store, "m", instance=a.address, app="web") == 1, 5, "target a"
            )
            _write(sd, [{"targets": [b.address], "labels": {"app": "web"}}])
            await eventually(lambda: last_value(store, "m", instance=b.address) == 2, 5, "target b")
            await eventually(lambda: is_stale(store, "up", instance=a.address), 5, "a's up marked stale")
            assert is_stale(store, "m", instance=a.address)
            sd.write_text('[{"targets": ["x:1"], "labels": {"app": 3}}]')
            await eventually(lambda: bool(mgr.health().discovery_errors), 5, "the discovery error")
            assert (
                "apps.json: entry [0]: labels.app: must be a string" in mgr.health().discovery_errors["apps"]
            )
            assert [t.labels for t in mgr.targets()] == [
                (("app", "web"), ("instance", b.address), ("job", "apps"))
            ]  # the bad file keeps its last good targets
            assert dict(mgr.targets()[0].discovered_labels)["__meta_filepath"] == str(sd)
        finally:
            await mgr.stop()


async def test_platform_scaling_adds_and_removes_targets() -> None:
    platform = ListPlatform()
    with Exporter() as i0, Exporter() as i1:
        for n, ex in enumerate((i0, i1)):
            ex.set_body(f"app_requests_total {n}\n")
        platform.set(
            [
                DiscoveredTarget(
                    f"http://{ex.address}/metrics",
                    {"job": "app", "app": "shop", "app_instance": str(n), "__meta_list_cell": f"cell-{n}"},
                )
                for n, ex in enumerate((i0, i1))
            ]
        )
        job = PlatformJob(
            name="platform",
            type="platform",
            refresh_interval_s=0.1,
            interval_s=0.1,
            relabel_configs=[RelabelConfig(source_labels=["__meta_list_cell"], target_label="cell")],
        )
        store = MemoryStore()
        registry = CollectorRegistry()
        mgr = ScrapeManager(CollectorConfig(jobs=[job]), store, platform, registry=registry)
        await mgr.start()
        try:
            await eventually(
                lambda: (
                    last_value(store, "up", app_instance="0")
                    == last_value(store, "up", app_instance="1")
                    == 1
                ),
                5,
                "both instances up",
            )
            assert (
                last_value(
                    store, "app_requests_total", app="shop", app_instance="0", cell="cell-0", job="app"
                )
                == 0
            )
            platform.fail = True
            await eventually(lambda: bool(mgr.health().discovery_errors), 5, "a discovery error")
            assert len(mgr.targets()) == 2  # a failing platform API keeps the last targets
            platform.fail = False
            platform.set(platform.discover()[:1])  # scale down to one instance
            await eventually(lambda: is_stale(store, "up", app_instance="1"), 5, "instance 1 marked stale")
            assert is_stale(store, "app_requests_total", app_instance="1")
            assert [dict(t.labels)["app_instance"] for t in mgr.targets()] == ["0"]
            assert not is_stale(store, "up", app_instance="0")
            assert mgr.health().ok
        finally:
            await mgr.stop()
    assert registry.get_sample_value("paramedic_scrape_discovery_errors_total", {"job": "platform"})


def test_build_targets_like_prometheus() -> None:
    groups = parse_file_sd(
        "sd.yaml",
        "- targets: ['10.0.0.1:9100', '10.0.0.2:9100']\n  labels: {env: prod}\n"
        "- targets: ['10.0.0.3:9100']\n  labels: {env: dev}\n",
    )
    rules = [
        RelabelConfig(action="keep", source_labels=["env"], regex="prod"),
        RelabelConfig(source_labels=["__address__"], regex="(.*):.*", target_label="host"),
        RelabelConfig(target_label="__param_module", replacement="http_2xx"),
        RelabelConfig(target_label="__scrape_interval__", replacement="30s"),
    ]
    active, dropped, errors = build_targets(
        "node",
        groups,
        compile_rules(rules),
        scheme="http",
        metrics_path="/probe",
        interval_s=15,
        timeout_s=10,
    )
    assert errors == []
    assert [dict(d.discovered_labels)["__address__"] for d in dropped] == ["10.0.0.3:9100"]
    assert [t.url for t in active] == [
        "http://10.0.0.1:9100/probe?module=http_2xx",
        "http://10.0.0.2:9100/probe?module=http_2xx",
    ]
    t = active[0]
    assert dict(t.labels) == {"env": "prod", "host": "10.0.0.1", "instance": "10.0.0.1:9100", "job": "node"}
    assert (t.interval_s, t.timeout_s) == (30, 10)
    assert dict(t.discovered_labels)["__meta_filepath"] == "sd.yaml"
    assert 0 <= t.offset_fraction < 1 and t.offset_fraction != active[1].offset_fraction


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "t.json: not valid JSON"),
        ('{"targets": []}', "t.json: the top level must be a list"),
        ('[{"targets": "a:1"}]', "t.json: entry [0]: targets: must be a list"),
        ('[{"targets": ["a:1"], "labels": {"bad-name": "x"}}]', "t.json: entry [0]: labels: 'bad-name'"),
        ('[{"targets": ["a:1"]}, {"target": ["b:1"]}]', "t.json: entry [1]: unknown key(s) ['target']"),
    ],
)
def test_file_sd_errors_name_file_and_entry(text: str, message: str) -> None:
    with pytest.raises(DiscoveryError) as info:
        parse_file_sd("t.json", text)
    assert str(info.value).startswith(message)
