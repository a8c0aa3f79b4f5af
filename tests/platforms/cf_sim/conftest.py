"""One simulated foundation (real local platform + CC + UAA on loopback) shared by every test module here.

Tests that change state use distinct apps: the interop test acme/prod web, deployments acme/dev api, the crash
test globex/prod api, manifests and scaling acme/prod api (restored).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from platforms.cf_sim.runner import SimOptions, SimulatedFoundation
from tests.support.servers import require_binary

REDIRECT = "http://127.0.0.1:9/callback"


@dataclass
class Sim:
    cf: SimulatedFoundation
    registry: CollectorRegistry
    tokens: dict[str, str]

    def get(self, path: str, user: str = "admin", **params: Any) -> httpx.Response:
        return httpx.get(f"{self.cf.cc_url}{path}", params=params, headers=self.auth(user), timeout=30)

    def post(self, path: str, user: str = "admin", body: Any = None) -> httpx.Response:
        return httpx.post(f"{self.cf.cc_url}{path}", json=body, headers=self.auth(user), timeout=60)

    def delete(self, path: str, user: str = "admin") -> httpx.Response:
        return httpx.delete(f"{self.cf.cc_url}{path}", headers=self.auth(user), timeout=30)

    def auth(self, user: str) -> dict[str, str]:
        if user not in self.tokens:
            self.tokens[user] = password_token(self.cf, user)
        return {"Authorization": f"bearer {self.tokens[user]}"}

    def app_guid(self, org: str, space: str, name: str) -> str:
        return next(a.guid for a in self.cf.foundation.apps if (a.org, a.space, a.name) == (org, space, name))


def password_token(cf: SimulatedFoundation, user: str) -> str:
    resp = httpx.post(
        f"{cf.uaa_url}/oauth/token",
        data={"grant_type": "password", "username": user, "password": cf.password(user)},
        auth=("cf", ""),
        timeout=10,
    )
    resp.raise_for_status()
    token: str = resp.json()["access_token"]
    return token


def poll(predicate: Callable[[], Any], timeout_s: float, what: str) -> Any:
    """Call ``predicate`` until it returns something truthy (returned), or fail after ``timeout_s``."""
    import time  # noqa: PLC0415

    deadline = time.monotonic() + timeout_s
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(0.1)


def _probe_app(cf: SimulatedFoundation) -> Starlette:
    """An extra server built from the running foundation: answers the local platform's app names."""

    async def apps(_: Request) -> JSONResponse:
        assert cf.platform is not None
        return JSONResponse(sorted(cf.platform.apps()))

    return Starlette(routes=[Route("/apps", apps)])


@pytest.fixture(scope="package")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    require_binary("haproxy")
    require_binary("prometheus-node-exporter")
    registry = CollectorRegistry()
    root: Path = tmp_path_factory.mktemp("cfsim")
    options = SimOptions(instances=2, tick_s=0.2, redirect_uris=(REDIRECT,))
    extra = {"status_probe": _probe_app}  # the hook the Log Cache side uses; a probe, not a Log Cache
    with SimulatedFoundation(root, options, registry=registry, extra_servers=extra) as cf:
        yield Sim(cf, registry, {})
