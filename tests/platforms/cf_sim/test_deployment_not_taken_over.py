"""A CF deployment whose local deployment was saved but whose new instances did not serve in time.

The local platform's ``start_deployment`` at 100 % raises :class:`DeploymentError` when the new instances do
not pass a health check within ``replace_wait_s`` (the old ones keep their weight), yet the deployment is
saved and active. The simulator must track it (ACTIVE/DEPLOYING, cancelable) rather than answer 422 and leave
an active local deployment that no CF deployment owns and that blocks every later one. No processes: the
local platform is a fake that keeps its state in memory and applies the real transitions.
"""

from __future__ import annotations

import itertools
from types import SimpleNamespace
from typing import Any, cast

import pytest

from platforms.base import Deployment, Revision
from platforms.cf_sim.cc_deployments import DeploymentDriver
from platforms.cf_sim.cc_model import Actor, CCError
from platforms.cf_sim.foundation import CFApp
from platforms.local import DeploymentError, PlatformState, _deploy

APP = CFApp("org", "space", "shop", "shop")


class _NeverServing:
    """The local platform as the driver uses it, where every new release fails to serve in time."""

    def __init__(self) -> None:
        ports = itertools.count(20_000)
        self._ports = lambda: next(ports)
        self.saved = PlatformState.new({"shop": 2}, self._ports)
        self.canceled: list[str] = []

    def _spec(self) -> Any:
        return self.saved.app("shop")

    def state(self) -> PlatformState:
        return self.saved

    def create_revision(self, app: str, version: str, *, env: dict[str, str]) -> Revision:
        spec, rev = _deploy.create_revision(self._spec(), version, env)
        self.saved = self.saved.with_app(spec)
        return Revision(rev.id, rev.version, rev.description, False)

    def start_deployment(self, app: str, revision: str, weight_pct: int) -> Deployment:
        spec, _ = _deploy.start(self._spec(), revision, weight_pct, self._ports)
        self.saved = self.saved.with_app(spec)  # saved before the reconcile, as the adapter does
        if weight_pct == 100:
            raise DeploymentError("reconcile", "shop-2, shop-3 did not pass a health check within 15 s")
        return self.deployment(spec.deployments[-1].id)

    def deployment(self, deployment: str) -> Deployment:
        found = _deploy.find(self._spec(), deployment)
        assert found is not None
        return Deployment(found.id, "shop", found.revision, found.previous_revision, "DEPLOYING", 100)

    def cancel_deployment(self, deployment: str) -> Deployment:
        spec, _ = _deploy.cancel(self._spec(), deployment)
        self.saved = self.saved.with_app(spec)
        self.canceled.append(deployment)
        return self.deployment(deployment)


def _driver(platform: _NeverServing) -> DeploymentDriver:
    state = SimpleNamespace(
        platform=platform,
        app_state={APP.guid: "STARTED"},
        clock=lambda: 1_000.0,
        revision_seen={},
        desired={APP.guid: 2},
        touch=lambda app: None,
        record=lambda *args: None,
        app=lambda guid: APP,
    )
    return DeploymentDriver(cast(Any, state))


def test_a_canary_at_100_pct_not_served_in_time_is_tracked_and_cancelable() -> None:
    platform = _NeverServing()
    driver = _driver(platform)
    actor = Actor("u", "admin")
    deployment = driver.create(APP, "canary", [100], None, actor)
    assert (deployment.value, deployment.reason) == ("ACTIVE", "DEPLOYING")
    driver.cancel(deployment.guid, actor)
    assert platform.canceled == [deployment.local_id]
    assert platform._spec().active_deployment() is None
    again = driver.create(APP, "canary", [10], None, actor)  # not blocked by an orphan
    assert again.value == "ACTIVE"


def test_a_failure_that_saved_nothing_is_still_a_422() -> None:
    platform = _NeverServing()
    driver = _driver(platform)

    def refused(app: str, revision: str, weight_pct: int) -> Deployment:
        raise DeploymentError("start_deployment", "shop has no instances to deploy beside")

    platform.start_deployment = refused  # type: ignore[method-assign]
    with pytest.raises(CCError):
        driver.create(APP, "canary", [100], None, Actor("u", "admin"))
