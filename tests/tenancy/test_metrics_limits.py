"""Per-tenant query limits: one tenant scope's queries cannot take every evaluation thread or the whole
in-flight sample pool. Over the real query router (the principal is set by a two-line middleware standing in
for the auth middleware, which ``test_metrics_api`` exercises), and the budgets on their own."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Awaitable, Callable, Sequence

import anyio
import httpx
import pytest
from fastapi import FastAPI, Request, Response
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from metrics_store.api import query_router
from metrics_store.api_common import ApiError
from metrics_store.config import QueryLimits
from metrics_store.model import Labels, Matcher, SeriesData
from metrics_store.promql import QueryBusyError, SampleBudget, TenantLimitError
from metrics_store.tenant_limits import TenantLimits
from paramedic.auth import Principal
from platforms.tenancy import FOUNDATION, Grant, Scope

ACME_PROD = Scope.of([Grant("acme", "prod", "viewer")])
GLOBEX = Scope.of([Grant("globex", None, "viewer")])


class _GatedQuerier:
    """Every select and series call blocks until ``release`` is set; records the org matcher of each."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.orgs: list[str] = []

    def select(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> list[SeriesData]:
        with self.lock:
            self.orgs.append(next((m.value for m in matchers if m.name == "org"), ""))
        self.release.wait(30)
        return []

    def series(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> list[Labels]:
        self.select(matchers, start_ms, end_ms)
        return []


def _app(querier: _GatedQuerier, limits: QueryLimits, registry: CollectorRegistry) -> FastAPI:
    app = FastAPI()
    app.include_router(query_router(querier, limits=limits, registry=registry))
    grants = {"acme-prod": [Grant("acme", "prod", "viewer")], "globex": [Grant("globex", None, "viewer")]}

    @app.middleware("http")
    async def principal(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        who = request.headers.get("x-who", "")
        if who:
            request.state.principal = Principal.scoped(who, "viewer", grants.get(who, []))
        return await call_next(request)

    return app


def test_a_tenant_over_its_concurrency_share_is_refused_and_others_still_run() -> None:
    querier, registry = _GatedQuerier(), CollectorRegistry()
    limits = QueryLimits(max_concurrency=4, tenant_max_concurrency=2)
    app = _app(querier, limits, registry)

    async def main() -> tuple[list[tuple[str, int]], httpx.Response]:
        statuses: list[tuple[str, int]] = []
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:

            async def one(who: str) -> None:
                r = await client.get("/api/v1/query", params={"query": "up"}, headers={"x-who": who})
                statuses.append((who, r.status_code))

            async with anyio.create_task_group() as tg:
                for who in ("acme-prod", "acme-prod", "globex", ""):
                    tg.start_soon(one, who)
                with anyio.fail_after(10):
                    while len(querier.orgs) < 4:  # all four are evaluating (blocked in the store)
                        await anyio.sleep(0.01)
                third = await client.get(
                    "/api/v1/query", params={"query": "up"}, headers={"x-who": "acme-prod"}
                )
                querier.release.set()
        return statuses, third

    try:
        statuses, third = anyio.run(main)
    finally:
        querier.release.set()
    assert third.status_code == 429 and third.headers["Retry-After"] == "1"
    body = third.json()
    assert body["errorType"] == "unavailable"
    assert "tenant_max_concurrency (2)" in body["error"] and "acme/prod" in body["error"]
    assert sorted(statuses) == sorted([("acme-prod", 200), ("acme-prod", 200), ("globex", 200), ("", 200)])
    assert sorted(querier.orgs) == ["", "acme", "acme", "globex"]  # the scopes' matchers reached the store
    refused = registry.get_sample_value(
        "paramedic_metrics_api_tenant_refusals_total", {"reason": "concurrency"}
    )
    assert refused == 1.0
    assert registry.get_sample_value("paramedic_metrics_api_tenant_requests_inflight") == 0.0


def test_series_and_label_lookups_count_against_the_tenants_share_too() -> None:
    querier, registry = _GatedQuerier(), CollectorRegistry()
    app = _app(querier, QueryLimits(max_concurrency=4, tenant_max_concurrency=1), registry)

    async def main() -> tuple[list[tuple[str, int]], list[httpx.Response]]:
        statuses: list[tuple[str, int]] = []
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:

            async def one(who: str, path: str) -> None:
                r = await client.get(path, params={"match[]": "up"}, headers={"x-who": who})
                statuses.append((who, r.status_code))

            async with anyio.create_task_group() as tg:
                tg.start_soon(one, "acme-prod", "/api/v1/series")
                tg.start_soon(one, "globex", "/api/v1/label/app/values")
                with anyio.fail_after(10):
                    while len(querier.orgs) < 2:  # both are looking up (blocked in the store)
                        await anyio.sleep(0.01)
                refused = [
                    await client.get(path, params={"match[]": "up"}, headers={"x-who": "acme-prod"})
                    for path in ("/api/v1/labels", "/api/v1/label/space/values", "/api/v1/series")
                ]
                querier.release.set()
        return statuses, refused

    try:
        statuses, refused = anyio.run(main)
    finally:
        querier.release.set()
    assert [r.status_code for r in refused] == [429, 429, 429], [r.text for r in refused]
    assert all("tenant_max_concurrency (1)" in r.json()["error"] for r in refused)
    # the quiet tenant's lookup ran beside the noisy one's
    assert sorted(statuses) == [("acme-prod", 200), ("globex", 200)]
    assert sorted(querier.orgs) == ["acme", "globex"]


def test_admission_counts_per_scope_and_forgets_idle_scopes() -> None:
    tenants = TenantLimits(QueryLimits(max_concurrency=6), SampleBudget(100), registry=CollectorRegistry())
    assert tenants.max_concurrency == 3  # default: half the global concurrency
    with contextlib.ExitStack() as held:
        budgets = {held.enter_context(tenants.admit(ACME_PROD)) for _ in range(3)}
        assert len(budgets) == 1  # one budget per scope, shared by its requests
        with pytest.raises(ApiError) as refused:
            held.enter_context(tenants.admit(ACME_PROD))
        assert refused.value.status == 429
        held.enter_context(tenants.admit(GLOBEX))
        for _ in range(10):  # foundation-wide principals are not tenants
            assert held.enter_context(tenants.admit(FOUNDATION)) is None
        assert tenants.active() == {"acme/prod": 3, "globex": 1}
    assert tenants.active() == {}


def test_a_tenant_budget_refuses_at_once_and_is_held_in_the_shared_pool() -> None:
    pool = SampleBudget(100)
    refusals: list[int] = []

    def refuse() -> TenantLimitError:
        refusals.append(1)
        return TenantLimitError("tenant_max_inflight_samples", 10)

    tenant = SampleBudget(10, parent=pool, refuse=refuse)
    first = tenant.reservation(time.monotonic() + 10)
    first.take(8)
    assert (tenant.held, pool.held) == (8, 8)
    second = tenant.reservation(time.monotonic() + 10)
    began = time.monotonic()
    with pytest.raises(TenantLimitError, match="tenant_max_inflight_samples"):
        second.take(5)  # 13 > 10: refused without waiting for the first to end
    assert time.monotonic() - began < 5
    with pytest.raises(TenantLimitError):
        first.take(20)  # larger than the whole share
    assert (tenant.held, pool.held, len(refusals)) == (8, 8, 2)
    first.release()
    assert (tenant.held, pool.held) == (0, 0)


def test_a_tenant_take_that_waits_on_a_full_pool_gives_its_share_back() -> None:
    pool = SampleBudget(10)
    other = pool.reservation(time.monotonic() + 10)
    other.take(10)
    tenant = SampleBudget(10, parent=pool, refuse=lambda: TenantLimitError("tenant_max_inflight_samples", 10))
    with pytest.raises(QueryBusyError):
        tenant.reservation(time.monotonic() + 0.05).take(5)
    assert (tenant.held, pool.held) == (0, 10)
    other.release()


def test_tenant_limits_are_validated_against_the_global_ones() -> None:
    with pytest.raises(ValidationError, match=r"tenant_max_inflight_samples \(11\) must not exceed"):
        QueryLimits(max_inflight_samples=10, tenant_max_inflight_samples=11)
    with pytest.raises(ValidationError, match="greater than 0"):
        QueryLimits(tenant_max_concurrency=0)
    assert QueryLimits(max_concurrency=1).tenant_concurrency == 1
    assert QueryLimits(max_inflight_samples=9).tenant_inflight_samples == 4
