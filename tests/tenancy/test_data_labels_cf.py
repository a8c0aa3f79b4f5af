"""Tenancy in the data on Cloud Foundry (issue 14), over the simulated foundation (``CFStack``: CC, UAA,
Log Cache over VictoriaMetrics, syslog drains, in front of the real local platform): the Log Cache per-app
series Paramedic stores (container metrics and the gorouter per-app ``http`` series, derived at Log Cache)
and the drained log lines carry the app's ``org`` and ``space``, for the same app name in two spaces too;
platform series (gorouter, rep) carry none; the CF adapter resolves an app key to its tenant."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry

from log_pipeline.enrich import enrich, tenant_labeller
from log_pipeline.model import LogRecord, RawMessage
from log_pipeline.syslog import SyslogParser
from metrics_store.model import Labels
from platforms.base import TenantResolver
from platforms.cf_sim.foundation import CFApp, default_foundation
from platforms.cf_sim.runner import SimOptions
from platforms.cf_sim.stack import CFStack, StackOptions
from platforms.cloudfoundry.adapter import CloudFoundryPlatform
from platforms.cloudfoundry.log_cache import LogCacheSource
from platforms.config import CloudFoundryPlatformConfig
from tests.support.servers import require_binary, wait_until

pytestmark = pytest.mark.integration

FOUNDATION = default_foundation()
SAME_NAME = [a for a in FOUNDATION.apps if a.name == "api" and a.space == "prod"]  # acme/prod, globex/prod


class _Recorder:
    """An in-memory :class:`metrics_store.base.Appender`: every label set appended."""

    def __init__(self) -> None:
        self.refs: dict[Labels, int] = {}
        self.appended: set[int] = set()

    def series_ref(self, labels: Labels) -> int:
        return self.refs.setdefault(labels, len(self.refs))

    def append(self, refs: Sequence[int], timestamps_ms: Sequence[int], values: Sequence[float]) -> None:
        self.appended.update(refs)

    def series(self) -> list[dict[str, str]]:
        return [dict(labels) for labels, ref in self.refs.items() if ref in self.appended]


class _DrainReceiver:
    """A syslog TCP listener (octet-counted frames, RFC 6587) collecting the drained messages."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.messages: list[bytes] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = self.sock.accept()
                threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn: socket.socket) -> None:
        buf = b""
        with conn, contextlib.suppress(OSError):
            while chunk := conn.recv(65536):
                buf += chunk
                while b" " in buf:
                    size, _, rest = buf.partition(b" ")
                    if len(rest) < int(size):
                        break
                    with self._lock:
                        self.messages.append(rest[: int(size)])
                    buf = rest[int(size) :]

    def records(self) -> list[LogRecord]:
        parser = SyslogParser(registry=CollectorRegistry())
        with self._lock:
            raw = list(self.messages)
        return [
            enrich(parser.to_record(RawMessage(m, 0, "tcp", "127.0.0.1:1"), f"{i:016x}"))
            for i, m in enumerate(raw)
        ]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[CFStack, _DrainReceiver]]:
    for binary in ("haproxy", "victoria-metrics", "supervisord"):
        require_binary(binary)
    drain = _DrainReceiver()
    options = StackOptions(
        sim=SimOptions(instances=1), drain_urls=(f"syslog://127.0.0.1:{drain.port}",), metrics_interval_s=0.5
    )
    root: Path = tmp_path_factory.mktemp("cf-tenancy")
    with CFStack(root, options, registry=CollectorRegistry()) as cf:
        yield cf, drain
    drain.sock.close()


def _config(cf: CFStack) -> CloudFoundryPlatformConfig:
    creds = cf.credentials()
    clients: dict[str, str] = creds["clients"]  # type: ignore[assignment]
    return CloudFoundryPlatformConfig.model_validate(
        {
            "type": "cloudfoundry",
            "api_url": creds["cc_url"],
            "uaa_url": creds["uaa_url"],
            "client_id": "paramedic",
            "client_secret": clients["paramedic"],
            "log_cache": {"url": creds["log_cache_url"], "interval_s": 1.0, "backfill_s": 0},
        }
    )


def _traffic(cf: CFStack, apps: list[CFApp], rounds: int = 20) -> None:
    assert cf.sim.platform is not None
    router = f"http://127.0.0.1:{cf.sim.platform.state().router_port}"
    with httpx.Client(timeout=5) as client:
        for _ in range(rounds):
            for app in apps:
                client.get(f"{router}/api/items", headers={"Host": f"{app.local_app}.local"})


def test_log_cache_per_app_series_carry_org_and_space(stack: tuple[CFStack, _DrainReceiver]) -> None:
    cf, _ = stack
    tenants = {a.guid: (a.org, a.space, a.name) for a in FOUNDATION.apps}
    recorder = _Recorder()
    source = LogCacheSource(_config(cf), recorder, registry=CollectorRegistry())
    per_app = ("cpu", "memory", "cf_app_http_requests_per_second", "cf_app_http_latency_p95_ns")

    def polled() -> set[str]:
        _traffic(cf, SAME_NAME, 5)
        source.poll_once()
        return {s["__name__"] for s in recorder.series() if s.get("app_guid") in tenants}

    try:
        wait_until(
            lambda: polled() >= set(per_app), 40, f"Log Cache per-app series {per_app}", interval_s=0.5
        )
    finally:
        asyncio.run(source.stop())  # closes its HTTP client (never started)
    seen_same_name = set()
    for s in recorder.series():
        guid = s.get("app_guid") or (s.get("source_id") if s.get("source_id") in tenants else None)
        if guid is None:  # platform series (gorouter, rep, bbs ...): the foundation's
            assert "org" not in s and "space" not in s, s
            continue
        assert (s["org"], s["space"], s["app"]) == tenants[guid], s
        if s["__name__"] == "cf_app_http_requests_per_second" and s["app"] == "api":
            seen_same_name.add((s["org"], s["space"]))
    # gorouter's per-app data of the two `api` apps stay apart, each with its own tenant
    assert seen_same_name >= {(a.org, a.space) for a in SAME_NAME}
    assert any("org" not in s for s in recorder.series())  # platform series were polled too


def test_drained_log_lines_carry_org_and_space(stack: tuple[CFStack, _DrainReceiver]) -> None:
    cf, drain = stack
    _traffic(cf, SAME_NAME, 3)

    def by_app() -> dict[str, set[tuple[str, str, str]]]:
        out: dict[str, set[tuple[str, str, str]]] = {}
        for r in drain.records():
            guid = r.fields.get("app_guid")
            if isinstance(guid, str):
                out.setdefault(guid, set()).add(
                    (r.labels.get("org", ""), r.labels.get("space", ""), r.labels.get("source", ""))
                )
        return out

    wait_until(lambda: all(a.guid in by_app() for a in SAME_NAME), 30, "drained lines of both api apps")
    found = by_app()
    for app in SAME_NAME:
        assert {(org, space) for org, space, _ in found[app.guid]} == {(app.org, app.space)}, found[app.guid]
    assert any(source == "RTR" for lines in found.values() for *_, source in lines)  # router access lines too


def test_cf_adapter_resolves_an_app_key_to_its_tenant(stack: tuple[CFStack, _DrainReceiver]) -> None:
    cf, drain = stack
    platform = CloudFoundryPlatform(_config(cf), registry=CollectorRegistry())
    try:
        assert isinstance(platform, TenantResolver)
        for app in SAME_NAME:
            assert platform.tenant_of(app.guid) == (app.org, app.space)
            assert platform.tenant_of(f"{app.org}/{app.space}/{app.name}") == (app.org, app.space)
        assert platform.tenant_of("api") is None  # ambiguous: several spaces have an `api`
        assert platform.tenant_of("no-such-app") is None
        # the log pipeline's tenant stage with it keeps what a drained line names (lines of its own traffic:
        # the drained-lines test's may not have been sent, when this test runs alone or first)
        _traffic(cf, SAME_NAME, 1)
        wait_until(lambda: any("org" in r.labels for r in drain.records()), 30, "a drained line with its org")
        label = tenant_labeller(platform.tenant_of)
        records = [r for r in drain.records() if "org" in r.labels]
        assert records and not any(label(r) for r in records)
    finally:
        platform.close()
