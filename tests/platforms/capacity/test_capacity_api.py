"""``/api/v1/capacity``, the Capacity page and ``paramedic capacity report`` on a real server and store.

The server is the real assembly (``Paramedic``) over its embedded store, filled with 14 days of Diego rep
history (tests/platforms/capacity/history.py). Expected figures are worked by hand from that history:

* now: allocated 6000 + 300 * 14 = 10200 MiB, cells 50/30/20 % -> free 3092, 5132, 6152 MiB -> chunks of the
  largest memory_quota (1024 MiB): 3 + 5 + 6 = 14; N+1 (three 8 GiB cells): 14 - 8 = 6 chunks;
* out of chunks when allocated reaches 24576 - 1024: (23552 - 6000) / 300 = 58.51 days from the first point,
  44.51 days from now; N+1 lost at 16384: (16384 - 6000) / 300 - 14 = 20.61 days from now;
* in 90 days: 6000 + 300 * 104 = 37200 MiB; ceil((37200 + 1024 - 16384) / 8192) = 3 more cells;
* disk chunks of the largest disk_quota (2048 MiB): 28672/2048 + 24576/2048 + 20480/2048 = 36;
  container slots 240 + 230 + 220 = 690.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from typer.testing import CliRunner

from dashboard import ReaderError, Sources, dashboard_router
from metrics_store.config import EmbeddedStoreConfig
from metrics_store.embedded import EmbeddedStore
from metrics_store.memory import MemoryStore
from paramedic.assembly import Paramedic
from paramedic.auth import TokenStore
from paramedic.cli import app as cli
from paramedic.config import parse_config
from paramedic.dashboard import PromqlMetricsReader
from platforms.capacity import capacity_outlook
from platforms.tenancy import Grant
from tests.platforms.capacity.history import write_cf, write_local

DAY = 86400.0
CONFIG = """
server: {auth: {tokens_file: tokens.json, anonymous_read: false}}
metrics_store: {type: embedded, path: metrics}
"""
TOKENS: dict[str, tuple[str, list[Grant]]] = {
    "foundation": ("viewer", []),
    "acme-prod": ("viewer", [Grant("acme", "prod", "viewer")]),
    "acme": ("operator", [Grant("acme", None, "operator")]),
}


@dataclass
class Server:
    client: TestClient
    tokens: dict[str, str]
    now: float

    def get(self, who: str, path: str) -> httpx.Response:
        return self.client.get(path, headers={"Authorization": f"Bearer {self.tokens[who]}"})


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("capacity")
    paramedic = Paramedic(parse_config(CONFIG), base_dir=tmp, registry=CollectorRegistry())
    store = TokenStore(tmp / "tokens.json")
    tokens = {name: store.create(name, role, grants=grants) for name, (role, grants) in TOKENS.items()}
    now = time.time()
    write_cf(paramedic.store, now)
    with TestClient(paramedic.app, base_url="http://127.0.0.1", follow_redirects=False) as client:
        yield Server(client, tokens, now)


def test_the_api_answers_the_hand_worked_figures(server: Server) -> None:
    r = server.get("foundation", "/api/v1/capacity")
    assert r.status_code == 200, r.text
    c = r.json()
    assert (c["source"], c["chunk_mib"], c["memory"]["free_chunks"]) == ("diego", 1024, 14)
    assert [cell["name"] for cell in c["cells"]] == ["diego-cell/0", "diego-cell/1", "diego-cell/2"]
    assert [cell["free_chunks"] for cell in c["cells"]] == [3, 5, 6]
    assert c["n_plus_one"]["survives"] and c["n_plus_one"]["headroom_chunks"] == 6
    assert (c["disk"]["free_chunks"], c["containers"]["free"]) == (36, 690)
    f = c["forecast"]
    assert f["growth_mib_per_day"] == pytest.approx(300, rel=0.02)  # the day-5 burst does not bend it
    assert (f["exhausted_at"] - c["at"]) / DAY == pytest.approx(44.51, abs=0.5)
    assert (f["n_plus_one_lost_at"] - c["at"]) / DAY == pytest.approx(20.61, abs=0.5)
    assert f["cells_needed"] == 3
    assert c["status"] == "ok" and "14 free 1 GiB chunks" in c["summary"]
    assert len(c["history"]) >= 14 * 24


def test_scoped_principals_get_a_refusal_not_cells(server: Server) -> None:
    for who in ("acme-prod", "acme"):
        r = server.get(who, "/api/v1/capacity")
        assert r.status_code == 403, (who, r.text)
        assert "foundation data" in r.json()["error"] and "diego-cell" not in r.text
        page = server.get(who, "/capacity")
        assert page.status_code == 403
        assert 'id="capacity-refused"' in page.text
        assert "diego-cell" not in page.text and "chunks" not in page.text.lower()
        assert 'href="/capacity"' not in page.text  # no nav link either
    assert server.client.get("/api/v1/capacity").status_code == 401


def _data_value(html: str, element_id: str) -> str:
    m = re.search(rf'id="{element_id}".*?data-value="([^"]*)"', html, re.S)
    assert m, element_id
    return m.group(1)


def test_the_page_shows_cells_headroom_and_forecast(server: Server) -> None:
    r = server.get("foundation", "/capacity")
    assert r.status_code == 200, r.text
    page = r.text
    assert 'href="/capacity" class="active"' in page
    assert _data_value(page, "kpi-chunks") == "14"
    assert _data_value(page, "kpi-n1") == "6"
    assert _data_value(page, "fig-cells-needed") == "3"
    assert re.findall(r'data-cell="([^"]+)"', page) == ["diego-cell/0", "diego-cell/1", "diego-cell/2"]
    points = re.search(r'<polyline points="([^"]+)"', page)
    assert points and len(points.group(1).split()) >= 14 * 24
    assert 'href="/capacity"' in server.get("foundation", "/apps").text  # the nav links it everywhere


def test_local_cells_are_measured_from_the_node_exporter() -> None:
    # 16 GiB host, used 4000 + 500/day: now 11000 used, 5384 free; chunk = largest RSS 300 MiB -> 17 chunks;
    # out of chunks at 16384 - 300: (16084 - 4000) / 500 - 14 = 10.17 days -> warning (within 14 days);
    # in 90 days 56000 MiB on one cell (no N+1): ceil((56000 + 300 - 16384) / 16384) = 3
    store, now = MemoryStore(), time.time()
    write_local(store, now)
    o = capacity_outlook(store, now)
    assert (o.source, o.chunk_mib, o.memory_chunks_free, o.n_plus_one) == ("local", 300, 17, None)
    assert o.exhausted_at_s is not None and (o.exhausted_at_s - now) / DAY == pytest.approx(10.17, abs=0.1)
    assert (o.cells_needed, o.status) == (3, "warning")
    assert o.to_json()["containers"]["free"] is None  # supervisord cells have no slot limit


def test_a_flat_history_projects_nothing_and_an_empty_store_says_so() -> None:
    store, now = MemoryStore(), time.time()
    write_cf(store, now, growth=0.0, outliers=False)
    o = capacity_outlook(store, now)
    assert o.growth is not None and abs(o.growth.slope_per_day) < 1
    assert (o.exhausted_at_s, o.n_plus_one_lost_at_s, o.cells_needed, o.status) == (None, None, 0, "ok")
    empty = capacity_outlook(MemoryStore(), now)
    assert (empty.source, empty.status, empty.cells) == ("none", "unknown", ())
    assert "no cell" in empty.summary


def _local_store(path: Path, now: float) -> None:
    store = EmbeddedStore(path, EmbeddedStoreConfig(path=str(path)), registry=CollectorRegistry())
    try:
        write_local(store, now)
    finally:
        store.close()


def test_the_report_command_prints_a_table_and_json(tmp_path: Path) -> None:
    _local_store(tmp_path / "metrics", time.time())
    (tmp_path / "paramedic.yaml").write_text("metrics_store: {type: embedded, path: metrics}\n")
    runner = CliRunner()
    text = runner.invoke(cli, ["capacity", "report", "--config", str(tmp_path / "paramedic.yaml")])
    assert text.exit_code == 0, text.output
    assert re.search(r"^free memory chunks\s+17$", text.output, re.M), text.output
    assert re.search(r"^127\.0\.0\.1:9100\s+16,384\s+11,000\s+17\b", text.output, re.M), text.output
    raw = runner.invoke(cli, ["capacity", "report", "--json", "-c", str(tmp_path / "paramedic.yaml")])
    assert raw.exit_code == 0, raw.output
    data: dict[str, Any] = json.loads(raw.output)
    assert (data["source"], data["chunk_mib"], data["memory"]["free_chunks"]) == ("local", 300, 17)
    missing = runner.invoke(cli, ["capacity", "report", "-c", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 1


def _page_client(capacity: Any) -> TestClient:
    app = FastAPI()
    app.include_router(
        dashboard_router(Sources(metrics=PromqlMetricsReader(MemoryStore())), capacity=capacity)
    )
    return TestClient(app, base_url="http://127.0.0.1")


def test_the_page_says_when_capacity_is_unavailable_or_not_configured() -> None:
    def failing() -> dict[str, Any]:
        raise ReaderError("capacity: the store is closed")

    broken = _page_client(failing).get("/capacity")
    assert broken.status_code == 503 and "the store is closed" in broken.text
    none = _page_client(None).get("/capacity")
    assert none.status_code == 200 and 'id="capacity-none"' in none.text
