"""Issue 11 item 5 against a real ``paramedic serve``: no receiver secret (``SECRETS``: webhook bearer token,
the password in the webhook URL, SMTP passwords; and the webhook URL's path) in any GET response a viewer or
an anonymous reader gets, nor in the server's log after notifications to those receivers failed. Config dumps
show ``<secret>``."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.support.hostile import PROBE_METRIC, SECRETS, Target
from tests.support.servers import require_binary, wait_until

pytestmark = pytest.mark.integration

# Routes the OpenAPI schema leaves out (include_in_schema=False) or that are pages.
EXTRA_PATHS = ["/metrics", "/-/healthy", "/-/ready", "/", "/apps", "/alerts", "/logs", "/explore", "/login"]
SAMPLES = {  # values for required query parameters, by name; anything else gets "1"
    "query": PROBE_METRIC,
    "match[]": PROBE_METRIC,
    "q": "error",
}
STREAM_READ_S = 5.0
MAX_BODY = 4 << 20
_PATH_PARAM = re.compile(r"\{[^}]+\}")


def _get_paths(schema: dict[str, Any]) -> list[tuple[str, dict[str, str]]]:
    """Every GET path of the schema with its path parameters filled in, once without query parameters and
    once with its required ones."""
    out: list[tuple[str, dict[str, str]]] = []
    for path, ops in schema["paths"].items():
        get = ops.get("get")
        if get is None:
            continue
        concrete = _PATH_PARAM.sub("x", path)
        required = {
            p["name"]: SAMPLES.get(p["name"], "1")
            for p in get.get("parameters", [])
            if p.get("in") == "query" and p.get("required")
        }
        out.append((concrete, {}))
        if required:
            out.append((concrete, required))
    out += [(p, {}) for p in EXTRA_PATHS]
    return out


# The webhook's path (a chat webhook's credential) and its URL with the password in place.
HOOK_PATH = "127.0.0.1:9/hook"


def _leaks(text: str) -> list[str]:
    leaked = [name for name, value in SECRETS.items() if value in text]
    return [*leaked, "webhook_path"] if HOOK_PATH in text else leaked


def _schema(target: Target) -> dict[str, Any]:
    with target.client("admin") as c:
        r = c.get("/openapi.json")
    r.raise_for_status()
    schema: dict[str, Any] = r.json()
    return schema


def _sweep(target: Target, role: str | None) -> int:
    """GET every route as ``role``; returns how many answered; fails naming the route that leaked."""
    paths = _get_paths(_schema(target))
    assert len(paths) > 30, paths  # the whole API, not a stub
    answered = 0
    with target.client(role, timeout_s=STREAM_READ_S) as c:
        for path, params in paths:
            status, text = _read(c, path, params)
            leaked = _leaks(text)
            assert not leaked, f"GET {path} {params} as {role or 'anonymous'}: {leaked} in {text[:500]}"
            answered += status < 400
    target.assert_alive()
    return answered


def _read(client: httpx.Client, path: str, params: dict[str, str]) -> tuple[int, str]:
    """Status and headers + body of a GET; a stream (live tail) is read until it is quiet for
    ``STREAM_READ_S`` or ``MAX_BODY`` bytes arrived."""
    chunks: list[bytes] = []
    with client.stream("GET", path, params=params) as r:
        head = "".join(f"{k}: {v}\n" for k, v in r.headers.items())
        try:
            for chunk in r.iter_bytes():
                chunks.append(chunk)
                if sum(map(len, chunks)) > MAX_BODY:
                    break
        except httpx.ReadTimeout:
            pass  # a stream that went quiet: what it sent so far is checked
        return r.status_code, head + b"".join(chunks).decode("utf-8", "replace")


def _notify_and_wait_for_failures(target: Target) -> None:
    """Fire an alert routed to the secret-bearing receivers; wait until both integrations logged failing
    (nothing listens on the webhook's or the SMTP port), so secrets had every chance to reach the log."""
    alert = [{"labels": {"alertname": "SecretsProbe", "severity": "page"}, "annotations": {"summary": "x"}}]
    with target.client("admin") as c:
        c.post("/api/v2/alerts", json=alert).raise_for_status()
    log = target.tmp / "paramedic.log"

    def both_failed() -> bool:
        text = log.read_text(errors="replace")
        return text.count("notification to oncall") >= 2

    wait_until(both_failed, 30, "both oncall integrations to fail and log it", interval_s=0.2)


def test_viewer_reads_no_secret(target: Target) -> None:
    assert _sweep(target, "viewer") > 20
    assert _sweep(target, None) >= 1  # the health checks; everything else is 401 and must not leak either


def test_anonymous_reader_reads_no_secret(anonymous_target: Target) -> None:
    assert _sweep(anonymous_target, None) > 20


def test_config_dumps_show_secret_placeholders(target: Target) -> None:
    with target.client("viewer") as c:
        prom = c.get("/api/v1/status/config").json()["data"]["yaml"]
        am = c.get("/api/v2/status").json()["config"]["original"]
    for text in (prom, am):
        assert not _leaks(text)
        assert "<secret>" in text
    oncall = yaml.safe_load(am)["receivers"][0]
    webhook, mail = oncall["notifiers"]
    assert webhook["bearer_token"] == "<secret>"
    assert webhook["url"] == "<secret>"  # the path of a Slack/Teams/Chat webhook is its credential
    assert mail["password"] == "<secret>"
    assert yaml.safe_load(prom)["alerting"]["global"]["smtp_auth_password"] == "<secret>"


def test_amtool_config_show_prints_placeholders(target: Target, tmp_path: Path) -> None:
    """The real amtool still parses ``/api/v2/status`` and prints the redacted config."""
    http_config = tmp_path / "amtool-http.yml"
    http_config.write_text(f"authorization:\n  credentials: {target.tokens['viewer']}\n")
    argv = [require_binary("amtool"), f"--alertmanager.url={target.base_url}"]
    argv += [f"--http.config.file={http_config}", "config", "show"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False)
    assert out.returncode == 0, out.stderr
    assert "bearer_token: <secret>" in out.stdout and "smtp_auth_password: <secret>" in out.stdout
    assert "url: <secret>" in out.stdout
    assert not _leaks(out.stdout + out.stderr)


def test_log_holds_no_secret_after_failed_notifications(target: Target) -> None:
    _notify_and_wait_for_failures(target)
    with target.client("viewer") as c:  # the notification log and the alert are readable, and clean
        for path in ("/api/v2/paramedic/notifications", "/api/v2/alerts", "/api/v2/alerts/groups"):
            r = c.get(path)
            assert r.status_code == 200 and not _leaks(r.text), (path, r.text[:500])
    target.assert_alive()
    assert not _leaks((target.tmp / "paramedic.log").read_text(errors="replace"))


@pytest.mark.parametrize("fixture", ["target", "anonymous_target"])
def test_log_holds_no_secret_after_the_sweeps(fixture: str, request: pytest.FixtureRequest) -> None:
    t: Target = request.getfixturevalue(fixture)
    _sweep(t, "viewer" if fixture == "target" else None)
    assert not _leaks((t.tmp / "paramedic.log").read_text(errors="replace"))


def test_sweep_would_see_a_leak() -> None:
    """The check itself: a body holding a secret is caught (guards against a vacuous sweep)."""
    assert _leaks(f"bearer: {SECRETS['webhook_bearer']}") == ["webhook_bearer"]
    assert _leaks("POST http://127.0.0.1:9/hook failed") == ["webhook_path"]
    op = {"get": {"parameters": [{"in": "query", "name": "query", "required": True}]}}
    assert _get_paths({"paths": {"/a/{b}": op}})[:2] == [("/a/x", {}), ("/a/x", {"query": PROBE_METRIC})]
