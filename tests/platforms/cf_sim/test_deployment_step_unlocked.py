"""A canary step to 100 % waits for the new instances (the local platform's ``replace_wait_s``) without
holding the deployment driver's lock: another app's deployment can be canceled meanwhile, and the step
itself cannot be continued twice. No processes: the local platform is an in-memory fake whose weight change
blocks until the test releases it."""

from __future__ import annotations

import itertools
import threading
from types import SimpleNamespace
from typing import Any, cast

import pytest

from platforms.base import Deployment, Revision
from platforms.cf_sim.cc_deployments import DeploymentDriver
from platforms.cf_sim.cc_model import Actor, CCError
from platforms.cf_sim.foundation import CFApp
from platforms.local import DeploymentError, PlatformState, _deploy

SHOP = CFApp("org", "space", "shop", "shop")
CART = CFApp("org", "space", "cart", "cart")


class _SlowWeights:
    """The local platform as the driver uses it; ``set_deployment_weight`` blocks until ``release``."""

    def __init__(self) -> None:
        ports = itertools.count(20_000)
        self._ports = lambda: next(ports)
        self.saved = PlatformState.new({"shop": 2, "cart": 2}, self._ports)
        self.in_weight = threading.Event()
        self.release = threading.Event()

    def _spec(self, app: str) -> Any:
        return self.saved.app(app)

    def state(self) -> PlatformState:
        return self.saved

    def create_revision(self, app: str, version: str, *, env: dict[str, str]) -> Revision:
        spec, rev = _deploy.create_revision(self._spec(app), version, env)
        self.saved = self.saved.with_app(spec)
        return Revision(rev.id, rev.version, rev.description, False)

    def start_deployment(self, app: str, revision: str, weight_pct: int) -> Deployment:
        spec, record = _deploy.start(self._spec(app), revision, weight_pct, self._ports)
        self.saved = self.saved.with_app(spec)
        return self.deployment(record.id)

    def set_deployment_weight(self, deployment: str, weight_pct: int) -> Deployment:
        self.in_weight.set()
        assert self.release.wait(10)
        app = self._app_of(deployment)
        spec, _ = _deploy.set_weight(self._spec(app), deployment, weight_pct)
        self.saved = self.saved.with_app(spec)
        return self.deployment(deployment)

    def cancel_deployment(self, deployment: str) -> Deployment:
        app = self._app_of(deployment)
        spec, _ = _deploy.cancel(self._spec(app), deployment)
        self.saved = self.saved.with_app(spec)
        return self.deployment(deployment)

    def _app_of(self, deployment: str) -> str:
        return next(a.name for a in self.saved.apps if _deploy.find(a, deployment) is not None)

    def deployment(self, deployment: str) -> Deployment:
        app = self._app_of(deployment)
        found = _deploy.find(self._spec(app), deployment)
        assert found is not None
        state = "PAUSED" if found.active else found.state
        return Deployment(found.id, app, found.revision, found.previous_revision, state, found.weight_pct)


def _driver(platform: _SlowWeights) -> DeploymentDriver:
    apps = {SHOP.guid: SHOP, CART.guid: CART}
    state = SimpleNamespace(
        platform=platform,
        app_state={SHOP.guid: "STARTED", CART.guid: "STARTED"},
        clock=lambda: 1_000.0,
        revision_seen={},
        desired={SHOP.guid: 2, CART.guid: 2},
        touch=lambda app: None,
        record=lambda *args: None,
        app=lambda guid: apps[guid],
    )
    return DeploymentDriver(cast(Any, state))


def test_a_step_to_100_pct_does_not_hold_the_driver_while_it_waits() -> None:
    """The step held the driver's lock for the whole wait (up to 15 s): a cancel of another app's deployment
    (and the controller's ``advance``) waited for it."""
    platform = _SlowWeights()
    driver = _driver(platform)
    actor = Actor("u", "admin")
    shop = driver.create(SHOP, "canary", [10, 100], None, actor)
    cart = driver.create(CART, "canary", [10], None, actor)
    driver.advance()  # both PAUSED at their first step
    stepping = threading.Thread(target=driver.proceed, args=(shop.guid, actor), daemon=True)
    stepping.start()
    try:
        assert platform.in_weight.wait(5)
        canceled: list[str] = []
        canceler = threading.Thread(
            target=lambda: canceled.append(driver.cancel(cart.guid, actor).reason), daemon=True
        )
        canceler.start()
        canceler.join(2)
        assert canceled == ["CANCELED"], "another app's cancel waited for the step"
        with pytest.raises(CCError, match="last step"):
            driver.proceed(shop.guid, actor)  # the same step twice
    finally:
        platform.release.set()
        stepping.join(5)
    assert platform.deployment(shop.local_id).weight_pct == 100
    assert shop.step == 2


class _FailingStep(_SlowWeights):
    """The weight change is saved, then fails as at 100 % with new instances that do not serve in time;
    ``promote_deployment`` records what was promoted."""

    def __init__(self) -> None:
        super().__init__()
        self.promoted: list[str] = []

    def set_deployment_weight(self, deployment: str, weight_pct: int) -> Deployment:
        app = self._app_of(deployment)
        spec, _ = _deploy.set_weight(self._spec(app), deployment, weight_pct)
        self.saved = self.saved.with_app(spec)
        raise DeploymentError("reconcile", "shop-2, shop-3 did not pass a health check within 15 s")

    def promote_deployment(self, deployment: str) -> Deployment:
        self.promoted.append(deployment)
        return self.deployment(deployment)


def test_a_failed_step_is_retried_by_the_next_continue_not_skipped() -> None:
    """A step to 100 % that failed (422: the new instances did not serve) had already advanced the step
    counter: the next continue promoted, removing the old servers while the new ones still did not serve."""
    platform = _FailingStep()
    driver = _driver(platform)
    actor = Actor("u", "admin")
    shop = driver.create(SHOP, "canary", [10, 100], None, actor)
    driver.advance()
    for _ in range(2):
        with pytest.raises(CCError, match="did not pass a health check"):
            driver.proceed(shop.guid, actor)
        assert shop.step == 1, "the failed step counted as done"
    assert platform.promoted == []
    assert (shop.value, shop.reason) == ("ACTIVE", "PAUSED")
