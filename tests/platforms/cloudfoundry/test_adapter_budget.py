"""The request budget: 429 + Retry-After waited out (injected clock, no real sleeps), X-RateLimit-Remaining
lowers the pace, and remediation calls go before discovery when the budget is tight."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

import pytest
from prometheus_client import CollectorRegistry

from platforms.cloudfoundry import CFRateLimitedError, CloudFoundryPlatform
from platforms.cloudfoundry._budget import RequestBudget, discovery_priority
from platforms.cloudfoundry._metrics import CFMetrics
from tests.platforms.cloudfoundry.conftest import FakeClock, make_config
from tests.platforms.cloudfoundry.fake_cf import APP_GUID, WEB_GUID, FakeCF, Scripted, cf_error

WALL = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def _metric(registry: CollectorRegistry, name: str, labels: dict[str, str] | None = None) -> float:
    return registry.get_sample_value(name, labels or {}) or 0.0


def _platform(
    fake: FakeCF, clock: FakeClock, registry: CollectorRegistry, **cfg: object
) -> CloudFoundryPlatform:
    return CloudFoundryPlatform(
        make_config(fake, **cfg), registry=registry, clock=clock, sleep=clock.sleep, wall_clock=lambda: WALL
    )


def _too_many(retry_after: str) -> Scripted:
    status, body = cf_error(429, "CF-RateLimitExceeded", "Rate Limit Exceeded", 10013)
    return Scripted(status, body, headers={"Retry-After": retry_after})


def test_429_waits_retry_after_then_repeats(
    fake: FakeCF, clock: FakeClock, registry: CollectorRegistry
) -> None:
    cf = _platform(fake, clock, registry)
    fake.script("GET", "/v3/apps", _too_many("7"))
    assert APP_GUID in cf.apps()
    refused, repeated = fake.calls("GET", "/v3/apps")[:2]
    assert refused.query == repeated.query
    assert clock.sleeps == [7.0]
    assert _metric(registry, "paramedic_cf_rate_limited_total") == 1
    assert _metric(registry, "paramedic_cf_throttled_waits_total", {"priority": "remediation"}) == 1
    assert _metric(registry, "paramedic_cf_throttled_wait_seconds_total", {"priority": "remediation"}) == 7
    cf.close()


def test_429_http_date_and_non_idempotent_call(
    fake: FakeCF, clock: FakeClock, registry: CollectorRegistry
) -> None:
    cf = _platform(fake, clock, registry)
    cf.app_instances(APP_GUID)  # warm: token, GUID
    clock.sleeps.clear()
    at = format_datetime(datetime.fromtimestamp(WALL + 20, UTC), usegmt=True)
    fake.script("POST", f"/v3/processes/{WEB_GUID}/actions/scale", _too_many(at))
    cf.scale(APP_GUID, 3)
    assert clock.sleeps == [20.0]
    assert len(fake.calls("POST", f"/v3/processes/{WEB_GUID}/actions/scale")) == 2
    assert fake.processes[WEB_GUID]["instances"] == 3  # applied once: CC did not act on the 429
    assert [e["type"] for e in fake.audit].count("audit.app.process.scale") == 1
    cf.close()


def test_429_forever_is_a_rate_limited_error(
    fake: FakeCF, clock: FakeClock, registry: CollectorRegistry
) -> None:
    cf = _platform(fake, clock, registry, rate_limit_retries=2, max_retry_after_s=5)
    fake.script("GET", "/v3/apps", *[_too_many("3600")] * 3)
    with pytest.raises(CFRateLimitedError, match="GET /v3/apps: HTTP 429 CF-RateLimitExceeded") as info:
        cf.apps()
    assert info.value.status == 429
    assert clock.sleeps == [5.0, 5.0]  # capped at max_retry_after_s
    assert len(fake.calls("GET", "/v3/apps")) == 3
    cf.close()


def test_rate_limit_remaining_lowers_the_pace_and_zero_pauses(
    fake: FakeCF, clock: FakeClock, registry: CollectorRegistry
) -> None:
    cf = _platform(fake, clock, registry, max_requests_per_s=10)
    fake.rate_limit_remaining, fake.rate_limit_reset = 101, WALL + 50
    cf.app_guid("my_app")
    assert cf.budget.rate == pytest.approx(100 / 50)  # 100 left for 50 s
    assert _metric(registry, "paramedic_cf_request_rate_per_second") == pytest.approx(2.0)
    fake.rate_limit_remaining = 1
    cf.app_instances(APP_GUID)  # the processes call leaves 0: pause until the reset
    clock.sleeps.clear()
    cf.scale(APP_GUID, 2)
    assert clock.sleeps and clock.sleeps[0] == pytest.approx(50.0)
    cf.close()


def test_remediation_goes_first_when_the_budget_is_tight(
    fake: FakeCF, clock: FakeClock, registry: CollectorRegistry
) -> None:
    cf = _platform(fake, clock, registry, max_requests_per_s=1, request_burst=3, discovery_reserve=2)
    assert cf.discover()  # apps (2 pages) + processes + 2 stats: past the one token discovery may use
    discovery_waits = _metric(registry, "paramedic_cf_throttled_waits_total", {"priority": "discovery"})
    assert discovery_waits >= 1 and clock.sleeps
    slept = len(clock.sleeps)
    cf.scale(APP_GUID, 3)  # processes + scale: two calls from the reserve, at once
    assert len(clock.sleeps) == slept
    assert _metric(registry, "paramedic_cf_throttled_waits_total", {"priority": "remediation"}) == 0
    assert fake.processes[WEB_GUID]["instances"] == 3
    cf.close()


def test_budget_reserve_unit() -> None:
    clock = FakeClock()
    registry = CollectorRegistry()
    budget = RequestBudget(2.0, 4, reserve=2, metrics=CFMetrics(registry), clock=clock, sleep=clock.sleep)
    with discovery_priority():
        assert [budget.acquire() for _ in range(2)] == [0.0, 0.0]
        assert budget.acquire() == pytest.approx(0.5)  # waits for a token above the reserve
    assert [budget.acquire() for _ in range(2)] == [0.0, 0.0]  # remediation takes the reserve at once
    assert budget.acquire() == pytest.approx(0.5)  # then it waits too (empty bucket)
    budget.pause_until(clock.now + 9)
    assert budget.acquire() == pytest.approx(9.0)
