"""Live helpers for the Alertmanager API tests: a webhook sink and Paramedic's router under uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from alerting.am_api import am_router
from alerting.base import Notifier
from alerting.dispatch import Dispatcher, parse_config
from alerting.notify.config import WebhookConfig
from alerting.notify.webhook import WebhookNotifier
from tests.support.servers import free_port, wait_http


@dataclass
class Sink:
    port: int = 0
    bodies: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (path, json)


@contextlib.contextmanager
def webhook_sink() -> Iterator[Sink]:
    sink = Sink()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            sink.bodies.append((self.path, json.loads(body)))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    sink.port = server.server_address[1]
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        yield sink
    finally:
        server.shutdown()
        server.server_close()


def build_webhook(cfg: dict[str, Any]) -> Notifier:
    return WebhookNotifier(WebhookConfig.model_validate(cfg))


@contextlib.contextmanager
def paramedic_am(
    config_text: str,
    data_dir: Path,
    external_url: str = "http://127.0.0.1:19093",
    build: Callable[[dict[str, Any]], Notifier] = build_webhook,
) -> Iterator[str]:
    """Serve ``am_router`` on a free port with the dispatcher loop running; yields the base URL."""
    dispatcher = Dispatcher(
        parse_config(config_text),
        build,
        data_dir=data_dir,
        registry=CollectorRegistry(),
        external_url=external_url,
    )

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(dispatcher.run(max_sleep_s=0.05))
        yield
        dispatcher.stop()
        await task

    app = FastAPI(lifespan=lifespan)
    app.include_router(am_router(dispatcher))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/api/v2/status", 15)
        yield url
    finally:
        server.should_exit = True
        t.join(10)
