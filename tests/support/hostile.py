"""A real ``paramedic serve`` to attack: free loopback ports, tokens for every role (``alert-sender`` too),
web UI users named after their roles (passwords in ``PASSWORDS``), a static exporter with known values, log
listeners, and receivers whose config holds secrets (``SECRETS``).

After each hostile request a test calls :meth:`Target.assert_alive`: the server's event loop must not have
been held for :data:`STALL_S` (1 s) or more at any moment since the previous check (its own
``paramedic_event_loop_lag_seconds``, so a stall between two probes counts too and the load of the machine
running the test does not), ``/-/healthy`` must answer within :data:`HEALTHY_ANSWER_S` (a bound with margin
for a loaded 2-core CI machine: a worker pool or socket that stopped serving still fails it), and an
ordinary query must still return the exporter's exact value. Tests never sleep a fixed time.
"""

from __future__ import annotations

import contextlib
import re
import socket
import struct
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from paramedic.auth import TokenStore, UserStore
from tests.support.peers import static_exporter
from tests.support.servers import ManagedProcess, free_port, wait_http, wait_until

__all__ = [
    "HEALTHY_ANSWER_S",
    "PASSWORDS",
    "PROBE_METRIC",
    "PROBE_VALUE",
    "SECRETS",
    "STALL_S",
    "Target",
    "accept_flood",
    "loop_stalls",
    "metric",
    "metrics",
    "running_target",
]

PROBE_METRIC = "hostile_probe_value"
PROBE_VALUE = 42.5
EXPORTER_BODY = (
    f"# HELP {PROBE_METRIC} A constant the ordinary query reads.\n"
    f"# TYPE {PROBE_METRIC} gauge\n"
    f'{PROBE_METRIC}{{kind="probe"}} {PROBE_VALUE}\n'
).encode()

# The event loop held this long (or longer) is a stall: a bucket bound of paramedic_event_loop_lag_seconds.
STALL_S = 1.0
HEALTHY_ANSWER_S = 3.0  # /-/healthy answered within this wall time, even on a loaded CI machine

# Web UI users (each named after its role) and their passwords.
PASSWORDS = {role: f"{role}-hostile-password" for role in ("viewer", "operator", "admin")}

# Every secret in the config: none may appear in any response a viewer (or anonymous reader) can read.
SECRETS = {
    "webhook_bearer": "whk-bearer-7f3a9c1e5b",
    "webhook_userinfo": "hookpass-22d81e",
    "smtp_password": "smtp-pass-91c4e0aa",
    "global_smtp_password": "glob-smtp-pass-5e77b2",
}

CONFIG = """\
server:
  listen_port: {http_port}
  auth: {{tokens_file: tokens.json, anonymous_read: {anonymous}}}
metrics_store: {{type: embedded, path: data/metrics}}
collector:
  interval_s: 1
  timeout_s: 1
  jobs:
    - {{name: probe, type: static, targets: ['{exporter}']}}
logs:
  relp: {{port: {relp_port}}}
  syslog_tcp: {{port: {tcp_port}}}
  syslog_udp: null
  spool: {{path: data/logs/spool}}
  search: {{type: embedded, path: data/logs/search}}
rules:
  files: []
  evaluation_interval_s: 1
alerting:
  data_dir: data/alerting
  global:
    smtp_smarthost: 127.0.0.1:2525
    smtp_from: paramedic@example.com
    smtp_auth_username: mailer
    smtp_auth_password: {global_smtp_password}
  route: {{receiver: oncall, group_wait: 1s}}
  receivers:
    - name: oncall
      notifiers:
        - {{type: webhook, url: 'http://hook:{webhook_userinfo}@127.0.0.1:9/hook',
           bearer_token: {webhook_bearer}}}
        - {{type: email, to: [oncall@example.com], sender: paramedic@example.com, host: 127.0.0.1, port: 2525,
           security: plain, username: mailer, password: {smtp_password}}}
    - name: chat
      email_configs:
        - {{to: chat@example.com}}
"""


# argv: soft hard program args...: exec the program under RLIMIT_NOFILE (soft, hard); hard -1 keeps it.
_WITH_NOFILE = """\
import os, resource, sys
soft, hard = int(sys.argv[1]), int(sys.argv[2])
hard = hard if hard >= 0 else resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
os.execv(sys.argv[3], sys.argv[3:])
"""


@dataclass
class Target:
    """A running ``paramedic serve`` under attack; ``tokens`` maps role -> bearer token."""

    base_url: str
    tmp: Path
    proc: ManagedProcess
    ports: dict[str, int]
    tokens: dict[str, str] = field(default_factory=dict)
    stalls_seen: int = 0  # loop stalls counted by the server up to the previous check

    def headers(self, role: str | None) -> dict[str, str]:
        return {} if role is None else {"Authorization": f"Bearer {self.tokens[role]}"}

    def client(self, role: str | None = "viewer", timeout_s: float = 10.0) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, headers=self.headers(role), timeout=timeout_s)

    def probe_value(self) -> float | None:
        """The ordinary query's answer (``PROBE_METRIC``), or None while it has no data."""
        with self.client("viewer", timeout_s=5.0) as c:
            r = c.get("/api/v1/query", params={"query": PROBE_METRIC})
        r.raise_for_status()
        result = r.json()["data"]["result"]
        return float(result[0]["value"][1]) if result else None

    def assert_alive(self) -> None:
        """No event-loop stall of :data:`STALL_S` or more since the previous check, ``/-/healthy`` answers
        within :data:`HEALTHY_ANSWER_S` and the ordinary query still returns the exporter's value."""
        if self.proc.popen.poll() is not None:
            code = self.proc.popen.returncode
            raise AssertionError(f"paramedic serve died ({code}):\n{self.proc.log_tail()}")
        started = time.monotonic()
        r = httpx.get(f"{self.base_url}/-/healthy", timeout=HEALTHY_ANSWER_S)
        took = time.monotonic() - started
        assert r.status_code == 200, r.text
        assert took < HEALTHY_ANSWER_S, f"/-/healthy took {took:.2f} s"
        seen, self.stalls_seen = self.stalls_seen, loop_stalls(self)
        stalls = self.stalls_seen - seen
        assert stalls == 0, f"event loop held >= {STALL_S} s {stalls} time(s) since the last check"
        assert self.probe_value() == PROBE_VALUE


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``extra`` merged in: mappings key by key (recursively), anything else replaced."""
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
    return base


@contextlib.contextmanager
def running_target(
    tmp: Path,
    *,
    anonymous_read: bool = False,
    extra_config: Mapping[str, Any] | None = None,
    nofile: tuple[int, int | None] | None = None,
) -> Iterator[Target]:
    """Start ``paramedic serve`` with :data:`CONFIG` under ``tmp``; ready once the probe is queryable.

    ``extra_config`` is merged into the config (mappings key by key), e.g. ``{"logs": {"syslog_tcp":
    {"idle_timeout_s": 2}}}`` for a test that needs a short limit. ``nofile`` (soft, hard; hard None: keep
    the current one) starts the server under that open-files limit."""
    with static_exporter({"/metrics": EXPORTER_BODY}, own_process=True) as exporter:
        ports = {"http": free_port(), "relp": free_port(), "tcp": free_port()}
        text = CONFIG.format(
            http_port=ports["http"],
            relp_port=ports["relp"],
            tcp_port=ports["tcp"],
            anonymous=str(anonymous_read).lower(),
            exporter=exporter,
            **SECRETS,
        )
        if extra_config:
            text = yaml.safe_dump(_merge(yaml.safe_load(text), extra_config), sort_keys=False)
        (tmp / "paramedic.yaml").write_text(text)
        store = TokenStore(tmp / "tokens.json")
        roles = ("viewer", "operator", "admin", "alert-sender")
        tokens = {role: store.create(f"{role}-bot", role) for role in roles}
        users = UserStore(tmp / "users.json")
        for role, password in PASSWORDS.items():
            users.create(role, role, password)
        argv = [sys.executable, "-m", "paramedic.cli", "serve", "--config", str(tmp / "paramedic.yaml")]
        if nofile is not None:
            argv = [sys.executable, "-c", _WITH_NOFILE, str(nofile[0]), str(nofile[1] or -1), *argv]
        proc = ManagedProcess(
            "paramedic",
            argv,
            tmp / "paramedic.log",
            cwd=tmp,
        )
        target = Target(f"http://127.0.0.1:{ports['http']}", tmp, proc, ports, tokens)
        try:
            wait_http(f"{target.base_url}/-/ready", 60, proc)
            wait_until(lambda: target.probe_value() == PROBE_VALUE, 30, "the probe series to be queryable")
            target.stalls_seen = loop_stalls(target)  # the start (opening stores, the index) is not the test
            yield target
        finally:
            proc.stop()


def accept_flood(port: int, rounds: int, per_round: int, source: str) -> None:
    """``rounds`` x ``per_round`` non-blocking connects from ``source`` to 127.0.0.1:``port``, each round
    held until the next starts, then reset (SO_LINGER 0: no TIME_WAIT left behind)."""
    linger = struct.pack("ii", 1, 0)
    for _ in range(rounds):
        with contextlib.ExitStack() as stack:
            for _ in range(per_round):
                s = stack.enter_context(socket.socket())
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
                s.setblocking(False)
                s.bind((source, 0))
                s.connect_ex(("127.0.0.1", port))


def metric(target: Target, name: str, **labels: str) -> float:
    """One sample of the server's /metrics with exactly these labels (0 when absent)."""
    return metrics(target, name, labels)[0]


def metrics(target: Target, name: str, *label_sets: Mapping[str, str]) -> list[float]:
    """Samples of ``name`` with exactly each of these label sets (0 when absent), from one /metrics read."""
    text = httpx.get(f"{target.base_url}/metrics", timeout=5).text
    wants = [",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) for labels in label_sets]
    found = dict.fromkeys(wants, 0.0)
    for line in text.splitlines():
        m = re.fullmatch(r"([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)", line)
        if m and m.group(1) == name:
            have = ",".join(sorted((m.group(2) or "").split(",")))
            if have in found:
                found[have] = float(m.group(3))
    return [found[want] for want in wants]


def loop_stalls(target: Target) -> int:
    """How many times the server's event loop was held :data:`STALL_S` or longer since it started."""
    bounds = ({"le": "+Inf"}, {"le": str(STALL_S)})  # one read: both counts of the same moment
    total, within = metrics(target, "paramedic_event_loop_lag_seconds_bucket", *bounds)
    assert total > 0, "the server reports no event-loop lag (paramedic_event_loop_lag_seconds)"
    return round(total - within)
