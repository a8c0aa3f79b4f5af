"""The Prometheus 2.42 + Alertmanager 0.25 remediation pipeline for bench/remediation.py.

Prometheus scrapes the app instances every 1 s (static targets labelled app / app_instance) and evaluates
``up{job="app"} == 0`` (the local pack's AppInstanceDown expression); Alertmanager sends firing alerts to a
webhook receiver inside the bench, which calls ``LocalPlatform.restart_instance(app, index)`` for each.

Variants: ``default`` keeps Prometheus' evaluation_interval (1m) and Alertmanager's group_wait (30s),
group_interval (5m) and repeat_interval (4h) at their defaults; ``tuned`` sets evaluation_interval 1s and
group_wait 0s. Alertmanager is restarted with empty storage before every injection: each fault is a fresh
alert group (best case for Alertmanager: a repeat fault within group_interval would instead wait for the
group's next flush, up to 5 min by default).
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from bench._remediation_probe import Injection, Probe, run_injections
from platforms.local import LocalPlatform, LocalPlatformError
from tests.support.servers import ManagedProcess, free_port, require_binary, wait_http

ALERT = "AppInstanceDown"


@dataclass(frozen=True, slots=True)
class Variant:
    name: str
    evaluation_interval: str | None  # None: Prometheus' default (1m)
    evaluation_interval_s: float
    group_wait: str | None  # None: Alertmanager's default (30s)
    timeout_s: float

    def describe(self) -> str:
        ev = self.evaluation_interval or "1m (default)"
        gw = self.group_wait or "30s (default)"
        return (
            f"Prometheus 2.42 scrape_interval 1s, evaluation_interval {ev}; Alertmanager 0.25 "
            f"group_wait {gw}, group_interval 5m, repeat_interval 4h (defaults); cold Alertmanager per fault"
            + ("; every setting at its default except the 1 s scrapes" if self.group_wait is None else "")
        )


DEFAULT = Variant("prometheus-default", None, 60.0, None, timeout_s=240.0)
TUNED = Variant("prometheus-tuned", "1s", 1.0, "0s", timeout_s=60.0)


@dataclass(slots=True)
class RestartReceiver:
    """Webhook receiver: restarts the instance of every firing alert; records when (monotonic)."""

    platform: LocalPlatform
    restarts: list[tuple[float, str, int]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, body: dict[str, Any]) -> None:
        for alert in body.get("alerts", []):
            labels = alert.get("labels", {})
            if alert.get("status") != "firing" or labels.get("alertname") != ALERT:
                continue
            app, index = str(labels.get("app")), int(labels.get("app_instance", -1))
            with self._lock:  # one restart at a time, as a careful operator script would
                try:
                    self.platform.restart_instance(app, index)
                    self.restarts.append((time.monotonic(), app, index))
                except (LocalPlatformError, ValueError) as exc:
                    self.errors.append(f"{app}/{index}: {exc}")

    def serve(self) -> ThreadingHTTPServer:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    self.send_error(400)
                    return
                receiver.handle(body)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server


def prometheus_yml(variant: Variant, targets: dict[int, int], app: str, am_port: int) -> str:
    glob = "  scrape_interval: 1s\n  scrape_timeout: 1s\n"
    if variant.evaluation_interval is not None:
        glob += f"  evaluation_interval: {variant.evaluation_interval}\n"
    statics = "".join(
        f"      - targets: ['127.0.0.1:{port}']\n        labels: {{app: {app}, app_instance: '{index}'}}\n"
        for index, port in sorted(targets.items())
    )
    return (
        f"global:\n{glob}rule_files: [rules.yml]\n"
        f"alerting:\n  alertmanagers:\n    - static_configs: [{{targets: ['127.0.0.1:{am_port}']}}]\n"
        f"scrape_configs:\n  - job_name: app\n    static_configs:\n{statics}"
    )


def rules_yml(for_s: float) -> str:
    return (
        "groups:\n  - name: bench\n    rules:\n"
        f'      - alert: {ALERT}\n        expr: up{{job="app"}} == 0\n        for: {round(for_s * 1000)}ms\n'
        "        labels: {severity: critical}\n"
    )


def alertmanager_yml(variant: Variant, webhook_port: int) -> str:
    wait = f"  group_wait: {variant.group_wait}\n" if variant.group_wait is not None else ""
    return (
        f"route:\n  receiver: bench\n{wait}receivers:\n  - name: bench\n    webhook_configs:\n"
        f"      - url: http://127.0.0.1:{webhook_port}/alerts\n"
    )


def _no_alerts(base: str) -> bool:
    try:
        alerts = httpx.get(f"{base}/api/v1/alerts", timeout=2).json()["data"]["alerts"]
    except (httpx.HTTPError, ValueError, KeyError):
        return False
    return not any(a.get("labels", {}).get("alertname") == ALERT for a in alerts)


def run_prometheus(
    platform: LocalPlatform, app: str, tmp: Path, variant: Variant, n: int, for_s: float
) -> tuple[list[Injection], dict[str, Any]]:
    """Start Prometheus + Alertmanager (+ the webhook receiver), run ``n`` faults, stop them all."""
    work = tmp / variant.name
    work.mkdir(parents=True, exist_ok=True)
    probe = Probe(platform, app)
    receiver = RestartReceiver(platform)
    server = receiver.serve()
    prom_port, am_port = free_port(), free_port()
    (work / "prometheus.yml").write_text(prometheus_yml(variant, probe.ports, app, am_port))
    (work / "rules.yml").write_text(rules_yml(for_s))
    (work / "alertmanager.yml").write_text(alertmanager_yml(variant, server.server_address[1]))
    am_bin = require_binary("prometheus-alertmanager")
    procs: dict[str, ManagedProcess] = {}

    def start_alertmanager() -> None:
        old = procs.pop("alertmanager", None)
        if old is not None:
            old.stop()
        shutil.rmtree(work / "am-data", ignore_errors=True)
        procs["alertmanager"] = am = ManagedProcess(
            "alertmanager",
            [
                am_bin,
                f"--config.file={work / 'alertmanager.yml'}",
                f"--storage.path={work / 'am-data'}",
                f"--web.listen-address=127.0.0.1:{am_port}",
                "--cluster.listen-address=",
            ],
            work / "alertmanager.log",
        )
        wait_http(f"http://127.0.0.1:{am_port}/-/ready", 30, am)

    prom_base = f"http://127.0.0.1:{prom_port}"
    try:
        procs["prometheus"] = prom = ManagedProcess(
            "prometheus",
            [
                require_binary("prometheus"),
                f"--config.file={work / 'prometheus.yml'}",
                f"--storage.tsdb.path={work / 'prom-data'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
            ],
            work / "prometheus.log",
        )
        wait_http(f"{prom_base}/-/ready", 30, prom)
        start_alertmanager()
        injections = run_injections(
            probe,
            n,
            timeout_s=variant.timeout_s,
            quiet=lambda: _no_alerts(prom_base),
            before=start_alertmanager,
            label=variant.name,
            jitter_s=variant.evaluation_interval_s,
            quiet_timeout_s=180.0,
        )
        for inj in injections:  # the restart that ended each fault, relative to its injection
            after = [t for t, _, i in receiver.restarts if i == inj.index and t >= inj.injected_mono]
            inj.extra["restart_returned_s"] = round(after[0] - inj.injected_mono, 3) if after else None
        info = {
            "config": variant.describe(),
            "restarts": len(receiver.restarts),
            "receiver_errors": receiver.errors,
        }
        return injections, info
    finally:
        for proc in reversed(list(procs.values())):
            proc.stop()
        server.shutdown()
        server.server_close()
        probe.close()
