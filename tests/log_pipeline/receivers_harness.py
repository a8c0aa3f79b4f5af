"""Run ``LogReceivers`` on a private asyncio loop in a background thread (tests are synchronous)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry

from log_pipeline.config import LogsConfig
from log_pipeline.receivers import LogReceivers
from log_pipeline.spool import FileSpool

T = TypeVar("T")


class Harness:
    def __init__(self, config: LogsConfig, spool: FileSpool) -> None:
        self.spool = spool
        self.registry = CollectorRegistry()
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.receivers = LogReceivers(config, spool, registry=self.registry)
        self.run(self.receivers.start())

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def metric(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0

    def messages(self) -> list[bytes]:
        return [m.data for _, m in self.spool.read(0, 1_000_000)]

    def close(self) -> None:
        self.run(self.receivers.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()
        self.spool.close()


def port0_config(**kw: Any) -> LogsConfig:
    base: dict[str, Any] = {"relp": {"port": 0}, "syslog_tcp": {"port": 0}, "syslog_udp": {"port": 0}}
    base.update(kw)
    return LogsConfig.model_validate(base)


def spool_at(path: Path, **kw: Any) -> FileSpool:
    return FileSpool(path, **kw)
