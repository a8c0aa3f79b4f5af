"""Fixtures: the loopback fake CC/UAA/Log Cache server and an adapter pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry

from platforms.cloudfoundry import CloudFoundryPlatform
from platforms.config import CloudFoundryPlatformConfig
from tests.platforms.cloudfoundry.fake_cf import CLIENT_ID, CLIENT_SECRET, FakeCF, serve


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake() -> Iterator[FakeCF]:
    yield from serve(FakeCF())


def make_config(fake: FakeCF, **overrides: object) -> CloudFoundryPlatformConfig:
    raw: dict[str, object] = {
        "type": "cloudfoundry",
        "api_url": fake.base_url,
        "uaa_url": fake.base_url,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "timeout_s": 2.0,
        "retries": 2,
        **overrides,
    }
    return CloudFoundryPlatformConfig.model_validate(raw)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def cf(fake: FakeCF, clock: FakeClock, registry: CollectorRegistry) -> Iterator[CloudFoundryPlatform]:
    platform = CloudFoundryPlatform(
        make_config(fake), registry=registry, clock=clock, sleep=clock.sleep, poll_interval_s=1.0
    )
    try:
        yield platform
    finally:
        platform.close()
