"""HTTP API auth: the role matrix over the assembled server, Basic auth, anonymous reads off, the token CLI
and file, and the real amtool and Prometheus 2.42 authenticating with a token."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import stat
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from typer.testing import CliRunner

from paramedic.assembly import Paramedic
from paramedic.auth import TokenStore
from paramedic.cli import app as cli
from paramedic.config import parse_config
from platforms.tenancy import Grant
from tests.support.payloads import SILENCE
from tests.support.servers import free_port, require_binary, running, wait_until

CONFIG = """
server: {{auth: {{tokens_file: tokens.json, anonymous_read: {anonymous}}}}}
metrics_store: {{type: embedded, path: metrics}}
alerting:
  data_dir: alerting
  route: {{receiver: nobody, group_wait: 1s}}
  receivers: [{{name: nobody}}]
"""


def build(tmp: Path, *, anonymous: bool = True, port: int = 0) -> tuple[Paramedic, dict[str, str]]:
    cfg = parse_config(CONFIG.format(anonymous=str(anonymous).lower()))
    cfg = cfg.model_copy(update={"server": cfg.server.model_copy(update={"listen_port": port})})
    server = Paramedic(cfg, base_dir=tmp, registry=CollectorRegistry())
    store = TokenStore(tmp / "tokens.json")
    tokens = {
        role: store.create(f"{role}-bot", role) for role in ("viewer", "operator", "admin", "alert-sender")
    }
    return server, tokens


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def client_tokens(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str], Paramedic]]:
    server, tokens = build(tmp_path)
    with TestClient(server.app, base_url="http://127.0.0.1") as client:
        yield client, tokens, server


WRITES = [
    ("POST", "/api/v2/alerts", [{"labels": {"alertname": "X"}}], "alert-sender"),
    ("POST", "/api/v2/silences", SILENCE, "operator"),
]


@pytest.mark.parametrize(("method", "path", "body", "needed"), WRITES, ids=[w[1] for w in WRITES])
def test_state_changing_requests_need_a_role(
    client_tokens: tuple[TestClient, dict[str, str], Paramedic],
    method: str,
    path: str,
    body: object,
    needed: str,
) -> None:
    client, tokens, _ = client_tokens
    missing = client.request(method, path, json=body)
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert "authentication required" in missing.json()["error"]
    bad = client.request(method, path, json=body, headers=bearer("not-a-token"))
    assert bad.status_code == 401 and "invalid" in bad.json()["error"]
    viewer = client.request(method, path, json=body, headers=bearer(tokens["viewer"]))
    assert viewer.status_code == 403
    err = viewer.json()
    assert err["required_role"] == needed and err["role"] == "viewer"
    assert f"needs role {needed}" in err["error"] and "'viewer-bot' has role viewer" in err["error"]
    for role in ("operator", "admin"):  # operator and admin may post alerts too
        ok = client.request(method, path, json=body, headers=bearer(tokens[role]))
        assert ok.status_code == 200, ok.text


def test_delete_silence_needs_operator(client_tokens: tuple[TestClient, dict[str, str], Paramedic]) -> None:
    client, tokens, _ = client_tokens
    sid = client.post("/api/v2/silences", json=SILENCE, headers=bearer(tokens["operator"])).json()[
        "silenceID"
    ]
    assert client.delete(f"/api/v2/silence/{sid}").status_code == 401
    assert client.delete(f"/api/v2/silence/{sid}", headers=bearer(tokens["viewer"])).status_code == 403
    assert client.delete(f"/api/v2/silence/{sid}", headers=bearer(tokens["operator"])).status_code == 200


def test_reads_query_posts_and_open_paths(
    client_tokens: tuple[TestClient, dict[str, str], Paramedic],
) -> None:
    client, tokens, _ = client_tokens
    assert client.get("/api/v2/silences").status_code == 200  # this server sets anonymous_read: true
    assert client.post("/api/v1/query", data={"query": "1+1"}).json()["status"] == "success"
    for path in ("/api/v1/query_range", "/api/v1/series", "/api/v1/labels", "/api/v1/format_query"):
        assert client.post(path, data={"query": "up", "match[]": "up"}).status_code != 401, path
    assert client.get("/api/v1/rules", headers=bearer(tokens["viewer"])).status_code == 200
    # a presented but wrong token is refused even where anonymous reads are allowed
    assert client.get("/api/v2/silences", headers=bearer("nope")).status_code == 401
    for path in ("/metrics", "/-/healthy", "/-/ready"):
        assert client.get(path).status_code == 200, path
    metrics = client.get("/metrics").text
    assert 'paramedic_auth_decisions_total{result="anonymous"}' in metrics
    assert 'paramedic_auth_decisions_total{result="invalid"} 1.0' in metrics


def test_basic_auth_with_token_as_password(
    client_tokens: tuple[TestClient, dict[str, str], Paramedic],
) -> None:
    client, tokens, _ = client_tokens
    basic = base64.b64encode(f"grafana:{tokens['operator']}".encode()).decode()
    ok = client.post("/api/v2/silences", json=SILENCE, headers={"Authorization": f"Basic {basic}"})
    assert ok.status_code == 200
    wrong = base64.b64encode(b"grafana:wrong").decode()
    assert (
        client.post("/api/v2/silences", json=SILENCE, headers={"Authorization": f"Basic {wrong}"}).status_code
        == 401
    )
    assert client.get("/api/v2/silences", auth=("x", tokens["viewer"])).status_code == 200


def test_anonymous_read_false_needs_viewer(tmp_path: Path) -> None:
    server, tokens = build(tmp_path, anonymous=False)
    with TestClient(server.app, base_url="http://127.0.0.1") as client:
        denied = client.get("/api/v2/silences")
        assert denied.status_code == 401 and denied.headers["WWW-Authenticate"].startswith("Bearer")
        assert client.post("/api/v1/query", data={"query": "1"}).status_code == 401
        assert client.get("/api/v2/silences", headers=bearer(tokens["viewer"])).status_code == 200
        assert (
            client.post("/api/v1/query", data={"query": "1"}, headers=bearer(tokens["viewer"])).status_code
            == 200
        )
        assert client.get("/-/ready").status_code == 200 and client.get("/metrics").status_code == 200


def test_revoked_token_is_refused_by_a_running_server(
    client_tokens: tuple[TestClient, dict[str, str], Paramedic], tmp_path: Path
) -> None:
    client, tokens, _ = client_tokens
    assert client.post("/api/v2/silences", json=SILENCE, headers=bearer(tokens["admin"])).status_code == 200
    assert TokenStore(tmp_path / "tokens.json").revoke("admin-bot")
    assert client.post("/api/v2/silences", json=SILENCE, headers=bearer(tokens["admin"])).status_code == 401


def test_token_cli_create_list_revoke_and_file_mode(tmp_path: Path) -> None:
    (tmp_path / "paramedic.yaml").write_text("server: {auth: {tokens_file: secrets/api-tokens.json}}\n")
    runner = CliRunner()
    cfg = ["--config", str(tmp_path / "paramedic.yaml")]
    made = runner.invoke(cli, ["token", "create", "--name", "ci", "--role", "operator", *cfg])
    assert made.exit_code == 0, made.output
    token = made.stdout.strip().splitlines()[-1]
    assert len(token) >= 43
    path = tmp_path / "secrets" / "api-tokens.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert token not in path.read_text()  # only the sha256 is stored
    principal = TokenStore(path).authenticate(token)
    assert principal is not None and (principal.name, principal.role) == ("ci", "operator")
    dup = runner.invoke(cli, ["token", "create", "--name", "ci", "--role", "viewer", *cfg])
    assert dup.exit_code == 1 and "exists" in dup.output
    sender = runner.invoke(cli, ["token", "create", "--name", "prom", "--role", "alert-sender", *cfg])
    assert sender.exit_code == 0, sender.output
    principal = TokenStore(path).authenticate(sender.stdout.strip().splitlines()[-1])
    assert principal is not None and principal.role == "alert-sender"
    bad = runner.invoke(cli, ["token", "create", "--name", "x", "--role", "root", *cfg])
    assert bad.exit_code == 1 and "unknown role" in bad.output
    listing = runner.invoke(cli, ["token", "list", *cfg])
    assert listing.exit_code == 0 and "ci\toperator\t" in listing.stdout and token not in listing.stdout
    assert runner.invoke(cli, ["token", "revoke", "ci", *cfg]).exit_code == 0
    assert TokenStore(path).authenticate(token) is None
    gone = runner.invoke(cli, ["token", "revoke", "ci", *cfg])
    assert gone.exit_code == 1 and "no token named" in gone.output
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@contextlib.contextmanager
def serving(server: Paramedic, port: int) -> Iterator[str]:
    uv = uvicorn.Server(uvicorn.Config(server.app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=lambda: asyncio.run(uv.serve()), daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: uv.started, 20, "uvicorn to start")
        yield url
    finally:
        uv.should_exit = True
        thread.join(20)


def amtool(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [require_binary("amtool"), f"--alertmanager.url={url}", *args]
    return subprocess.run(argv, capture_output=True, check=False, text=True, timeout=20)


@pytest.mark.integration
def test_amtool_with_token_works_and_without_fails(tmp_path: Path) -> None:
    port = free_port()
    server, tokens = build(tmp_path, port=port)
    http_config = tmp_path / "amtool-http.yml"
    http_config.write_text(f"authorization:\n  credentials: {tokens['operator']}\n")
    with serving(server, port) as url:
        refused = amtool(url, "silence", "add", "alertname=X", "--comment=c", "--duration=1h")
        assert refused.returncode != 0
        assert "401" in refused.stderr or "nauthorized" in refused.stderr, refused.stderr
        auth = f"--http.config.file={http_config}"
        added = amtool(url, auth, "silence", "add", "alertname=X", "--comment=c", "--duration=1h")
        assert added.returncode == 0, added.stderr
        sid = added.stdout.strip()
        listed = amtool(url, "silence", "query", "-q")  # reading stays anonymous by default
        assert listed.returncode == 0 and sid in listed.stdout
        assert amtool(url, auth, "silence", "expire", sid).returncode == 0


@pytest.mark.integration
def test_prometheus_sends_alerts_with_an_alert_sender_token(tmp_path: Path) -> None:
    port = free_port()
    server, tokens = build(tmp_path, port=port)
    (tmp_path / "rules.yml").write_text(
        "groups:\n- name: g\n  interval: 1s\n  rules:\n  - alert: AuthFiring\n    expr: vector(1)\n"
    )
    (tmp_path / "prometheus.yml").write_text(
        "global: {evaluation_interval: 1s}\nrule_files: [rules.yml]\nalerting:\n  alertmanagers:\n"
        f"  - api_version: v2\n    authorization: {{credentials: {tokens['alert-sender']}}}\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n"
    )
    prom_port = free_port()
    argv = [
        require_binary("prometheus"),
        f"--config.file={tmp_path / 'prometheus.yml'}",
        f"--storage.tsdb.path={tmp_path / 'prom-data'}",
        f"--web.listen-address=127.0.0.1:{prom_port}",
        "--rules.alert.resend-delay=1s",
    ]
    with (
        serving(server, port) as url,
        running("prometheus", argv, tmp_path / "prometheus.log", f"http://127.0.0.1:{prom_port}/-/ready"),
    ):

        def arrived() -> bool:
            got = httpx.get(f"{url}/api/v2/alerts", params={"filter": "alertname=AuthFiring"}, timeout=5)
            return bool(got.json())

        wait_until(arrived, 30, "Prometheus to POST AuthFiring with its token")
        metrics = httpx.get(f"{url}/metrics", timeout=5).text
        assert 'paramedic_auth_decisions_total{result="missing"} 0.0' in metrics


def test_reads_need_a_viewer_by_default(tmp_path: Path) -> None:
    cfg = parse_config(
        "server: {auth: {tokens_file: tokens.json}}\nmetrics_store: {type: embedded, path: m}\n"
    )
    assert cfg.server.auth.anonymous_read is False
    server = Paramedic(cfg, base_dir=tmp_path, registry=CollectorRegistry())
    token = TokenStore(tmp_path / "tokens.json").create("grafana", "viewer")
    with TestClient(server.app, base_url="http://127.0.0.1") as client:
        assert client.get("/api/v1/query", params={"query": "1"}).status_code == 401
        ok = client.get("/api/v1/query", params={"query": "1"}, headers={"Authorization": f"Bearer {token}"})
        assert ok.status_code == 200
        assert client.get("/-/healthy").status_code == 200


def test_metrics_behind_a_foundation_viewer_when_configured(tmp_path: Path) -> None:
    """``server.auth.metrics: viewer``: /metrics names rule groups (an SLO's names its org/space), so it can
    be closed to all but foundation-wide principals; health and ready stay open for probes."""
    text = CONFIG.format(anonymous="true").replace(
        "anonymous_read: true", "anonymous_read: true, metrics: viewer"
    )
    server = Paramedic(parse_config(text), base_dir=tmp_path, registry=CollectorRegistry())
    store = TokenStore(tmp_path / "tokens.json")
    viewer = store.create("scraper", "viewer")
    tenant = store.create("team-a", "viewer", grants=[Grant("acme", "prod", "viewer")])
    with TestClient(server.app, base_url="http://127.0.0.1") as client:
        assert client.get("/metrics").status_code == 401  # anonymous reads do not reach it
        assert client.get("/metrics", headers=bearer("nope")).status_code == 401
        assert client.get("/metrics", headers=bearer(tenant)).status_code == 404
        sender = store.create("prometheus", "alert-sender")
        assert client.get("/metrics", headers=bearer(sender)).status_code == 403  # a narrow role: no
        answer = client.get("/metrics", headers=bearer(viewer))
        assert answer.status_code == 200 and "paramedic_auth_decisions_total" in answer.text
        assert client.get("/-/healthy").status_code == 200 and client.get("/-/ready").status_code == 200
