"""An assembled Paramedic (auth, embedded store, log pipeline) with the tokens push tests use (module
scope)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from metrics_store.model import Matcher, MatchOp, SeriesData
from paramedic.assembly import Paramedic
from paramedic.auth import TokenStore
from paramedic.config import parse_config
from platforms.tenancy import Grant

CONFIG = """
server: {auth: {tokens_file: tokens.json, anonymous_read: false}}
metrics_store: {type: embedded, path: metrics}
logs:
  relp: {port: 0}
  syslog_tcp: {port: 0}
  syslog_udp: null
  spool: {path: spool}
  search: {type: embedded, path: search}
collector:
  push: {max_series_per_request: 50, label_value_length_limit: 256, max_decompressed_bytes: 1048576}
  # a foundation scrape job: its name is reserved for what the server scrapes (a space may not push job=cells)
  jobs: [{name: cells, type: static, targets: ["127.0.0.1:9"], interval_s: 3600}]
"""


@dataclass
class PushServer:
    client: TestClient
    paramedic: Paramedic
    tokens: dict[str, str]
    root: Path

    def post(self, who: str | None, path: str, body: bytes, **headers: str) -> httpx.Response:
        if who is not None:
            headers["Authorization"] = f"Bearer {self.tokens[who]}"
        return self.client.post(path, content=body, headers=headers)

    def series(self, name: str, **labels: str) -> list[SeriesData]:
        matchers = [Matcher("__name__", MatchOp.EQ, name)]
        matchers += [Matcher(k, MatchOp.EQ, v) for k, v in labels.items()]
        return self.paramedic.store.select(matchers, 0, int(time.time() * 1000) + 3_600_000)

    def metric(self, name: str, **labels: str) -> float:
        """The value of ``name{labels}`` in the server's own /metrics (0 when absent)."""
        text = self.client.get("/metrics").text
        want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        for line in text.splitlines():
            if line.startswith(f"{name}{{{want}}} ") or (not want and line.startswith(f"{name} ")):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    def logs(self, query: str) -> list[dict[str, Any]]:
        r = self.client.get(
            "/api/v1/logs/search",
            params={"q": query, "limit": 100},
            headers={"Authorization": f"Bearer {self.tokens['foundation']}"},
        )
        assert r.status_code == 200, r.text
        hits: list[dict[str, Any]] = r.json()["data"]["hits"]
        return hits


@pytest.fixture(scope="module")
def push_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PushServer]:
    root = tmp_path_factory.mktemp("push")
    paramedic = Paramedic(parse_config(CONFIG), base_dir=root, registry=CollectorRegistry())
    store = TokenStore(root / "tokens.json")
    tokens = {
        "writer": store.create("writer", "metrics-writer"),
        "acme-prod-op": store.create("acme-prod-op", "operator", grants=[Grant("acme", "prod", "operator")]),
        "acme-prod-viewer": store.create(
            "acme-prod-viewer", "viewer", grants=[Grant("acme", "prod", "viewer")]
        ),
        "foundation": store.create("foundation", "viewer"),
        "alerts": store.create("alerts", "alert-sender"),
    }
    with TestClient(paramedic.app, base_url="http://127.0.0.1") as client:
        yield PushServer(client, paramedic, tokens, root)
