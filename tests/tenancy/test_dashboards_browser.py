"""The Remediation page in a browser as a principal that sees the org ``acme`` but operates only
``acme/prod``: approve/reject buttons only on the pending actions of its operated space (the server refuses
the rest anyway; the page must not offer them). The actions API is a stub here: its scoping is the
remediation API's."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from dashboard import Sources, dashboard_router
from dashboard.scoping import NoMetrics
from paramedic.auth import TokenStore
from paramedic.auth import install as install_auth
from paramedic.config import AuthConfig
from platforms.tenancy import Grant
from tests.support.browser import chromium, watch
from tests.support.servers import free_port, wait_until

PENDING = [
    {"id": "in-prod", "org": "acme", "space": "prod"},
    {"id": "in-dev", "org": "acme", "space": "dev"},
    {"id": "no-tenant"},
]


def _action(a: dict[str, str]) -> dict[str, Any]:
    return {
        **a,
        "policy": "p",
        "policy_version": "v1",
        "action": "restart_app",
        "target": {"app": "api", "instance": None},
        "mode": "live",
        "status": "pending_approval",
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
    }


def _app(tmp: Path) -> FastAPI:
    app = FastAPI()
    install_auth(app, AuthConfig(tokens_file="tokens.json"), base_dir=tmp, registry=CollectorRegistry())
    app.include_router(dashboard_router(Sources(metrics=NoMetrics())))

    @app.get("/api/v1/policies")
    def policies() -> dict[str, Any]:
        return {"policies": []}

    @app.get("/api/v1/actions")
    def actions() -> dict[str, Any]:
        return {"actions": [_action(a) for a in PENDING]}

    return app


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    tmp = tmp_path_factory.mktemp("tdash-browser")
    store = TokenStore(tmp / "tokens.json")
    grants = [Grant("acme", None, "viewer"), Grant("acme", "prod", "operator")]
    tokens = {
        "scoped": store.create("scoped", "operator", grants=grants),
        "admin": store.create("a", "admin"),
    }
    port = free_port()
    config = uvicorn.Config(_app(tmp), host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, name="tdash-browser-server", daemon=True)
    thread.start()
    try:
        wait_until(lambda: srv.started, 20, "the dashboard test server")
        yield f"http://127.0.0.1:{port}", tokens
    finally:
        srv.should_exit = True
        thread.join(10)


def _buttons(context: Any, url: str) -> dict[str, int]:
    page = context.new_page()
    w = watch(page)
    page.goto(url + "/remediation")
    page.wait_for_selector("#remediation-page[data-loaded]", timeout=10_000)
    rows = page.eval_on_selector_all(
        "#pending tr.pending-action",
        "rows => rows.map(r => [r.dataset.id, r.querySelectorAll('button').length])",
    )
    assert w.problems(page) == []
    page.close()
    return dict(rows)


def test_approval_buttons_only_on_the_spaces_the_principal_operates(
    server: tuple[str, dict[str, str]],
) -> None:
    url, tokens = server
    with chromium() as browser:
        for who, expected in [
            ("scoped", {"in-prod": 2, "in-dev": 0, "no-tenant": 0}),
            ("admin", {"in-prod": 2, "in-dev": 2, "no-tenant": 2}),
        ]:
            browser.set_extra_http_headers({"Authorization": f"Bearer {tokens[who]}"})
            assert _buttons(browser, url) == expected, who
