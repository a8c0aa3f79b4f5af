"""The server process's own share of a log search, in-process (issue 18's search row, stop 34): the ASGI app
that ``paramedic serve`` builds (every middleware, FastAPI's routing, the handler) called directly, with the
search executor replaced by one that returns a fixed gzip'd body, so only the event loop's Python work per
request is timed — no socket, no h11, no worker.

Per path, thread CPU (``time.thread_time``) per request over ``--calls`` requests, ``--rounds`` rounds,
warm (back to back): ``/api/v1/logs/search`` as ``bench/logs.py`` sends it (two terms, limit 100, gzip
accepted) and ``/-/healthy`` (the fixed cost of any request: the same middlewares and routing, an empty
handler). ``--checkout`` builds the app from another tree (e.g. main exported with ``git archive``) with the
same script, so old and new can be alternated run by run.

.venv/bin/python bench/search_server.py
.venv/bin/python bench/search_server.py --checkout /tmp/old_main
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PATHS = [
    ("/api/v1/logs/search", b"q=timeout+AND+upstream&limit=100"),
    ("/-/healthy", b""),
]
HEADERS = [
    (b"host", b"127.0.0.1:8080"),
    (b"accept", b"*/*"),
    (b"accept-encoding", b"gzip, deflate"),
    (b"connection", b"keep-alive"),
    (b"user-agent", b"python-httpx/0.28.1"),
]
CONFIG = (
    "server: {listen_port: 9, auth: {anonymous_read: true}}\n"
    "metrics_store: {type: embedded, path: data/metrics}\n"
    "logs:\n  relp: {port: 0}\n  syslog_tcp: null\n  syslog_udp: null\n"
    "  search: {type: embedded, path: data/logs/search, index_process: true}\n"
)


def _scope(path: str, query: bytes) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8080),
        "client": ("127.0.0.1", 50000),
        "scheme": "http",
        "method": "GET",
        "root_path": "",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "headers": list(HEADERS),
        "state": {},
    }


async def _run(app: Any, calls: int, rounds: int) -> dict[str, list[float]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    for path, query in PATHS:  # warm up, and check the answer
        for _ in range(200):
            await app(_scope(path, query), receive, send)
        if sent[0]["status"] != 200:
            raise SystemExit(f"{path}: status {sent[0]['status']}")
        sent.clear()
    out: dict[str, list[float]] = {path: [] for path, _ in PATHS}
    for _ in range(rounds):
        for path, query in PATHS:
            gc.collect()
            t = time.thread_time()
            for _ in range(calls):
                await app(_scope(path, query), receive, send)
            out[path].append((time.thread_time() - t) / calls * 1e6)
            sent.clear()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkout", type=Path, help="build the app from this tree instead of this checkout")
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    tree = (a.checkout or Path(__file__).resolve().parents[1]).resolve()
    sys.path.insert(0, str(tree))
    from prometheus_client import CollectorRegistry

    import log_pipeline.api as logs_api
    from log_pipeline.search.render import Body
    from paramedic.assembly import Paramedic
    from paramedic.auth import close as close_auth
    from paramedic.config import load_config

    body = Body(b"\x1f\x8b" + os.urandom(3100), "gzip")  # the size of the bench's page, gzip'd

    class FixedBody:
        async def search_body(self, *_args: Any, **_kwargs: Any) -> Body:
            return body

    with tempfile.TemporaryDirectory(prefix="search-server-") as d:
        cfg = Path(d) / "paramedic.yaml"
        cfg.write_text(CONFIG)
        server = Paramedic(load_config(cfg), base_dir=Path(d), config_path=cfg, registry=CollectorRegistry())
        try:
            handlers = [o for o in gc.get_objects() if isinstance(o, logs_api.LogsHandlers)]
            if len(handlers) != 1:
                raise SystemExit(f"expected one LogsHandlers, found {len(handlers)}")
            handlers[0].executor = FixedBody()  # type: ignore[assignment]
            out = asyncio.run(_run(server.app, a.calls, a.rounds))
        finally:
            close_auth(server.app)  # the password hash children
            server.store.close()
    print(f"{tree}: event loop's thread CPU per request, {a.calls} requests x {a.rounds} rounds, warm")
    for path, us in out.items():
        rounds = ", ".join(f"{x:.1f}" for x in us)
        print(f"  {path:22s} {rounds} us (median {statistics.median(us):.1f})")


if __name__ == "__main__":
    main()
