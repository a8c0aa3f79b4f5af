"""Secured scrapes against real components: HAProxy 2.6 serves its own Prometheus metrics behind mTLS
(``verify required``), basic auth (a userlist), a bearer-token ACL, an OAuth2 JWT check (``jwt_verify`` with
the simulated UAA's public key) and as a forward proxy that demands Proxy-Authorization. Tokens
come from the CF simulator's real UAA app (client credentials).

One HAProxy, one UAA and one scrape manager with a job per case run once for the module (``run``); each test
then checks one property of what happened. Every wait polls with a deadline.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc.jwk import RSAKey
from prometheus_client import CollectorRegistry

from collector.config import CollectorConfig, StaticJob
from collector.manager import ScrapeManager
from collector.promconfig import load_prometheus_config
from collector.status import TargetStatus
from metrics_store.memory import MemoryStore
from platforms.cf_sim.accounts import Accounts, Client
from platforms.cf_sim.runner import ServedApp
from platforms.cf_sim.sim_metrics import sim_metrics
from platforms.cf_sim.tokens import TokenIssuer
from platforms.cf_sim.uaa import UAA, uaa_app
from tests.collector.helpers import select
from tests.support.certs import CA
from tests.support.servers import free_port, require_binary, running

pytestmark = pytest.mark.integration

TOKEN_TTL_S = 4.0  # UAA's token lifetime: short, so the run sees a token expire and be replaced


def _uaa_signing_key(folder: Path) -> tuple[RSAKey, Path]:
    """An RSA key for the simulated UAA, and its public key in PEM (HAProxy 2.6's jwt_verify reads that)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = folder / "uaa-signing.pub.pem"
    path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return RSAKey.import_key(pem, {"use": "sig", "alg": "RS256"}), path


@dataclass
class Run:
    statuses: dict[str, TargetStatus]
    store: MemoryStore
    registry: CollectorRegistry
    uaa_registry: CollectorRegistry
    log_text: str
    secrets: list[str]
    ports: dict[str, int]
    basic_recovered: bool
    events: list[str] = field(default_factory=list)


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def _haproxy_config(d: Path, ports: dict[str, int], ca: Path, uaa_cert: Path, s: dict[str, str]) -> str:
    proxy_auth = base64.b64encode(f"proxyuser:{s['proxy']}".encode()).decode()
    return f"""defaults
  mode http
  timeout connect 2s
  timeout client 5s
  timeout server 5s
userlist scrapers
  user prom insecure-password {s["basic"]}
frontend mtls
  bind 127.0.0.1:{ports["mtls"]} ssl crt {d / "server.pem"} ca-file {ca} verify required
  http-request use-service prometheus-exporter
frontend basic
  bind 127.0.0.1:{ports["basic"]}
  http-request auth realm metrics unless {{ http_auth(scrapers) }}
  http-request use-service prometheus-exporter
frontend bearer
  bind 127.0.0.1:{ports["bearer"]}
  http-request deny deny_status 401 unless {{ req.hdr(authorization) -m str "Bearer {s["bearer"]}" }}
  http-request use-service prometheus-exporter
frontend oauth
  bind 127.0.0.1:{ports["oauth"]}
  http-request set-var(txn.bearer) http_auth_bearer
  http-request deny deny_status 401 unless {{ var(txn.bearer),jwt_verify("RS256","{uaa_cert}") -m int 1 }}
  http-request deny deny_status 403 unless {{ var(txn.bearer),jwt_payload_query('$.cid') -m str scraper }}
  http-request use-service prometheus-exporter
frontend proxy
  bind 127.0.0.1:{ports["proxy"]}
  http-request deny deny_status 407 unless {{ req.hdr(proxy-authorization) -m str "Basic {proxy_auth}" }}
  default_backend behind_proxy
backend behind_proxy
  server plain 127.0.0.1:{ports["plain"]}
frontend uaaproxy
  bind 127.0.0.1:{ports["uaaproxy"]}
  http-request deny deny_status 407 unless {{ req.hdr(proxy-authorization) -m str "Basic {proxy_auth}" }}
  http-request set-uri %[pathq]
  default_backend uaa
backend uaa
  server uaa 127.0.0.1:{ports["uaa"]}
frontend plain
  bind 127.0.0.1:{ports["plain"]}
  http-request deny deny_status 400 unless {{ req.hdr(host) -m str 127.0.0.1:{ports["unreachable"]} }}
  http-request use-service prometheus-exporter
"""


def _jobs(ports: dict[str, int], uaa_url: str, s: dict[str, str]) -> list[StaticJob]:
    mtls = {"ca_file": "ca.pem", "cert_file": "client.crt", "key_file": "client.key"}
    oauth = {"client_id": "scraper", "token_url": f"{uaa_url}/oauth/token", "scopes": ["metrics.read"]}
    rows: list[dict[str, object]] = [
        {
            "name": "mtls",
            "port": "mtls",
            "scheme": "https",
            "tls_config": {**mtls, "server_name": "metrics.internal"},
        },
        {
            "name": "mtls-no-client-cert",
            "port": "mtls",
            "scheme": "https",
            "tls_config": {"ca_file": "ca.pem", "server_name": "metrics.internal"},
        },
        {
            "name": "mtls-untrusted-server",
            "port": "mtls",
            "scheme": "https",
            "tls_config": {
                "cert_file": "client.crt",
                "key_file": "client.key",
                "server_name": "metrics.internal",
            },
        },
        {"name": "mtls-wrong-name", "port": "mtls", "scheme": "https", "tls_config": mtls},
        {
            "name": "mtls-foreign-client",
            "port": "mtls",
            "scheme": "https",
            "tls_config": {
                **mtls,
                "cert_file": "foreign.crt",
                "key_file": "foreign.key",
                "server_name": "metrics.internal",
            },
        },
        {"name": "basic", "port": "basic", "basic_auth": {"username": "prom", "password_file": "basic-pw"}},
        {"name": "basic-none", "port": "basic"},
        {"name": "bearer", "port": "bearer", "authorization": {"credentials": s["bearer"]}},
        {"name": "bearer-file", "port": "bearer", "authorization": {"credentials_file": "bearer-token"}},
        {"name": "bearer-wrong", "port": "bearer", "authorization": {"credentials": "not-the-token"}},
        {"name": "oauth2", "port": "oauth", "oauth2": {**oauth, "client_secret_file": "oauth-secret"}},
        {
            "name": "oauth2-via-proxy",  # the token request goes through its own proxy_url, as in Prometheus
            "port": "oauth",
            "oauth2": {
                **oauth,
                "client_secret_file": "oauth-secret",
                "token_url": f"http://127.0.0.1:{ports['unreachable']}/oauth/token",
                "proxy_url": f"http://proxyuser:{s['proxy']}@127.0.0.1:{ports['uaaproxy']}",
            },
        },
        {"name": "oauth2-forged", "port": "oauth", "authorization": {"credentials": s["forged_jwt"]}},
        {
            "name": "oauth2-bad-secret",
            "port": "oauth",
            "oauth2": {**oauth, "client_secret": s["wrong_oauth"]},
        },
        {
            "name": "proxy",
            "port": "unreachable",
            "proxy_url": f"http://proxyuser:{s['proxy']}@127.0.0.1:{ports['proxy']}",
        },
        {
            "name": "proxy-wrong",
            "port": "unreachable",
            "proxy_url": f"http://proxyuser:{s['wrong_proxy']}@127.0.0.1:{ports['proxy']}",
        },
    ]
    out = []
    for row in rows:
        port = ports[str(row.pop("port"))]
        out.append(StaticJob.model_validate({**row, "targets": [f"127.0.0.1:{port}"], "interval_s": 1.0}))
    return out


UP_JOBS = {"mtls", "prom-file-mtls", "basic", "bearer", "bearer-file", "oauth2", "oauth2-via-proxy", "proxy"}


def _settled(statuses: dict[str, TargetStatus]) -> bool:
    """Every job in the state its case expects, none of them by a timeout (CI machines are busy)."""
    return all(
        t.health == ("up" if job in UP_JOBS else "down") and not t.last_error.startswith("scrape timed out")
        for job, t in statuses.items()
    )


async def _scenario(d: Path, ports: dict[str, int], uaa_url: str, s: dict[str, str], run: Run) -> None:
    # The same mTLS scrape written as Prometheus would have it, read through collector.promconfig
    # (file paths relative to the Prometheus file's folder).
    (d / "prom").mkdir()
    (d / "prom" / "prometheus.yml").write_text(
        f"""global: {{scrape_interval: 1s}}
scrape_configs:
  - job_name: prom-file-mtls
    scheme: https
    tls_config: {{ca_file: ../ca.pem, cert_file: ../client.crt, key_file: ../client.key,
                 server_name: metrics.internal}}
    static_configs: [{{targets: ["127.0.0.1:{ports["mtls"]}"]}}]
"""
    )
    prom = load_prometheus_config(d / "prom" / "prometheus.yml")
    assert prom.problems == []
    cfg = CollectorConfig(jobs=[*_jobs(ports, uaa_url, s), *prom.config.jobs], timeout_s=2)
    mgr = ScrapeManager(cfg, run.store, None, registry=run.registry, base_dir=d)
    await mgr.start()
    try:
        deadline = time.monotonic() + 20

        def by_job() -> dict[str, TargetStatus]:
            return {t.job: t for t in mgr.targets()}

        while time.monotonic() < deadline:  # every target scraped at least once
            if all(t.health != "unknown" for t in by_job().values()) and len(by_job()) == len(cfg.jobs):
                break
            await asyncio.sleep(0.05)
        first = by_job()
        assert first["basic"].health == "down", first["basic"]  # the password file is wrong at first
        (d / "basic-pw").write_text(s["basic"] + "\n")  # corrected on disk: re-read without a reload
        tokens = run.uaa_registry
        while time.monotonic() < deadline:
            issued = tokens.get_sample_value(
                "paramedic_cfsim_tokens_issued_total", {"grant": "client_credentials"}
            )
            if by_job()["basic"].health == "up" and (issued or 0) >= 4:
                run.basic_recovered = True
                break
            await asyncio.sleep(0.05)
        while time.monotonic() < deadline and not _settled(by_job()):
            await asyncio.sleep(0.05)  # a scrape that timed out on this shared machine is retried
        run.statuses = by_job()
    finally:
        await mgr.stop()


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    haproxy = require_binary("haproxy")
    d = tmp_path_factory.mktemp("scrape-auth")
    ca = CA(d, "scrape-ca")
    (d / "ca.pem").write_bytes(ca.cert.read_bytes())
    ca.issue("server", dns=("metrics.internal",)).combined(d / "server.pem")
    client = ca.issue("client", client=True)
    foreign = CA(d / "foreign-ca", "foreign-ca").issue("foreign-client", client=True)
    (d / "foreign.crt").write_bytes(foreign.cert.read_bytes())
    (d / "foreign.key").write_bytes(foreign.key.read_bytes())
    assert client.cert == d / "client.crt"
    s = {
        k: secrets.token_urlsafe(12)
        for k in ("basic", "bearer", "proxy", "wrong_proxy", "oauth", "wrong_oauth")
    }
    forged = TokenIssuer("http://uaa.invalid/oauth/token")  # the right claims, signed by another key
    s["forged_jwt"] = forged.issue({"cid": "scraper", "client_id": "scraper"}, 600)
    (d / "basic-pw").write_text("not-the-password\n")
    (d / "bearer-token").write_text(s["bearer"] + "\n")
    (d / "oauth-secret").write_text(s["oauth"] + "\n")

    key, uaa_cert = _uaa_signing_key(d)
    uaa_registry = CollectorRegistry()
    sock = ServedApp.bind()
    uaa_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    accounts = Accounts(
        users=(), clients=(Client("scraper", s["oauth"], ("client_credentials",), ("metrics.read",)),)
    )
    uaa = UAA(accounts, TokenIssuer(f"{uaa_url}/oauth/token", key=key), token_ttl_s=TOKEN_TTL_S)
    served = ServedApp("uaa", uaa_app(uaa, sim_metrics(uaa_registry)), sock)
    served.start()

    names = ("mtls", "basic", "bearer", "oauth", "proxy", "uaaproxy", "plain", "unreachable")
    ports = {n: free_port() for n in names}
    ports["uaa"] = int(sock.getsockname()[1])
    (d / "haproxy.cfg").write_text(_haproxy_config(d, ports, d / "ca.pem", uaa_cert, s))
    logs = _Capture()
    logging.getLogger("collector").addHandler(logs)
    result = Run({}, MemoryStore(), CollectorRegistry(), uaa_registry, "", list(s.values()), ports, False)
    try:
        with running(
            "haproxy",
            [haproxy, "-db", "-f", str(d / "haproxy.cfg")],
            d / "haproxy.log",
            f"http://127.0.0.1:{ports['bearer']}/metrics",
        ):
            asyncio.run(_scenario(d, ports, uaa_url, s, result))
    finally:
        logging.getLogger("collector").removeHandler(logs)
        served.stop()
    result.log_text = "\n".join(logs.lines)
    yield result


def _up(run: Run, job: str) -> list[float]:
    series = select(run.store, "up", job=job)
    assert len(series) == 1, job
    return [float(v) for v in series[0].values]


@pytest.mark.parametrize("job", ["mtls", "prom-file-mtls"])
def test_mtls_scrape_with_the_client_certificate_lands_haproxy_samples(run: Run, job: str) -> None:
    assert run.statuses[job].health == "up", run.statuses[job].last_error
    assert _up(run, job)[-1] == 1
    assert select(run.store, "haproxy_process_uptime_seconds", job=job)  # HAProxy's own metrics
    scraped = select(run.store, "scrape_samples_scraped", job=job)[0].values
    assert scraped[-1] > 10


@pytest.mark.parametrize(
    ("job", "expected"),
    [
        ("mtls-no-client-cert", "client certificate"),
        ("mtls-untrusted-server", "set tls_config.ca_file"),
        ("mtls-wrong-name", "set tls_config.server_name"),
        ("mtls-foreign-client", "UNKNOWN_CA"),
    ],
)
def test_tls_failures_are_clear_errors(run: Run, job: str, expected: str) -> None:
    status = run.statuses[job]
    assert status.health == "down"
    assert status.last_error.startswith("TLS handshake failed:"), status.last_error
    assert expected.lower() in status.last_error.lower(), status.last_error
    assert set(_up(run, job)) == {0.0}
    assert (
        run.registry.get_sample_value("paramedic_scrape_errors_total", {"job": job, "reason": "tls"}) or 0
    ) >= 1


def test_basic_auth_password_file_is_re_read_when_it_changes(run: Run) -> None:
    assert run.basic_recovered
    values = _up(run, "basic")
    assert values[0] == 0 and values[-1] == 1
    assert run.statuses["basic-none"].health == "down"
    assert "401" in run.statuses["basic-none"].last_error


def test_bearer_credentials_inline_and_from_a_file(run: Run) -> None:
    assert run.statuses["bearer"].health == "up", run.statuses["bearer"].last_error
    assert run.statuses["bearer-file"].health == "up", run.statuses["bearer-file"].last_error
    assert run.statuses["bearer-wrong"].health == "down"
    assert "HTTP status 401" in run.statuses["bearer-wrong"].last_error


def test_oauth2_client_credentials_token_is_cached_until_it_expires(run: Run) -> None:
    assert run.statuses["oauth2"].health == "up", run.statuses["oauth2"].last_error
    issued = run.uaa_registry.get_sample_value(
        "paramedic_cfsim_tokens_issued_total", {"grant": "client_credentials"}
    )
    scrapes = sum(
        run.registry.get_sample_value("paramedic_scrape_scrapes_total", {"job": job, "result": "success"})
        or 0
        for job in ("oauth2", "oauth2-via-proxy")  # two configs, two token sources
    )
    assert issued is not None
    assert issued >= 4  # each job's first token expired and a new one was fetched
    assert scrapes >= issued + 2  # ...but not one per scrape (that would make issued >= scrapes)
    via_proxy = run.statuses["oauth2-via-proxy"]
    assert via_proxy.health == "up", via_proxy.last_error
    forged = run.statuses["oauth2-forged"]  # HAProxy checks the signature: a token UAA did not sign fails
    assert forged.health == "down" and "HTTP status 401" in forged.last_error, forged.last_error
    bad = run.statuses["oauth2-bad-secret"]
    assert bad.health == "down"
    assert "token_url" in bad.last_error and "HTTP 401 (invalid_client)" in bad.last_error, bad.last_error
    errors = run.registry.get_sample_value(
        "paramedic_scrape_errors_total", {"job": "oauth2-bad-secret", "reason": "oauth2"}
    )
    assert errors is not None and errors >= 1
    requests = "paramedic_scrape_oauth2_token_requests_total"
    succeeded = run.registry.get_sample_value(requests, {"result": "success"}) or 0
    assert issued - 1 <= succeeded <= issued  # one per UAA token (the last may be cut off by the stop)
    assert (run.registry.get_sample_value(requests, {"result": "failure"}) or 0) >= 1


def test_proxy_url_reaches_a_target_only_the_proxy_can_reach(run: Run) -> None:
    assert run.statuses["proxy"].health == "up", run.statuses["proxy"].last_error
    assert run.statuses["proxy"].scrape_url == f"http://127.0.0.1:{run.ports['unreachable']}/metrics"
    assert select(run.store, "haproxy_process_uptime_seconds", job="proxy")
    assert run.statuses["proxy-wrong"].health == "down"
    assert "407" in run.statuses["proxy-wrong"].last_error


def test_no_secret_in_target_status_or_logs(run: Run) -> None:
    shown = repr(list(run.statuses.values())) + run.log_text
    assert "TLS handshake failed" in run.log_text  # the failures were logged...
    for secret in run.secrets:
        assert secret not in shown  # ...without any secret
    assert "proxyuser" not in shown
