"""The assembled Paramedic served by uvicorn on a free loopback port (in a thread of the test process: a
child ``paramedic serve`` took 30 s to start on a loaded CI machine), with a push writer token, for the
tests against real senders."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from prometheus_client import CollectorRegistry

from paramedic.assembly import Paramedic
from paramedic.auth import TokenStore
from paramedic.config import parse_config
from tests.support.servers import free_port, wait_until

CONFIG = """server: {auth: {tokens_file: tokens.json, anonymous_read: false}}
metrics_store: {type: embedded, path: metrics}
logs:
  relp: {port: 0}
  syslog_tcp: {port: 0}
  syslog_udp: null
  spool: {path: spool}
  search: {type: embedded, path: search}
"""


@dataclass
class LiveParamedic:
    url: str
    writer: str  # a metrics-writer token
    reader: str  # a viewer token
    paramedic: Paramedic

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        r = httpx.get(
            self.url + path, params=params, headers={"Authorization": f"Bearer {self.reader}"}, timeout=10
        )
        r.raise_for_status()
        body: dict[str, Any] = r.json()
        return body

    def query(self, expr: str, at_s: float | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"query": expr, "time": at_s if at_s is not None else time.time()}
        result: list[dict[str, Any]] = self.get("/api/v1/query", **params)["data"]["result"]
        return result

    def logs(self, query: str) -> list[dict[str, Any]]:
        hits: list[dict[str, Any]] = self.get("/api/v1/logs/search", q=query, limit=100)["data"]["hits"]
        return hits


@contextlib.contextmanager
def live_paramedic(tmp: Path) -> Iterator[LiveParamedic]:
    port = free_port()
    tokens = TokenStore(tmp / "tokens.json")
    writer, reader = tokens.create("pusher", "metrics-writer"), tokens.create("reader", "viewer")
    paramedic = Paramedic(parse_config(CONFIG), base_dir=tmp, registry=CollectorRegistry())
    server = uvicorn.Server(
        uvicorn.Config(paramedic.app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started, 60, "Paramedic on uvicorn")
        yield LiveParamedic(f"http://127.0.0.1:{port}", writer, reader, paramedic)
    finally:
        server.should_exit = True
        thread.join(30)
