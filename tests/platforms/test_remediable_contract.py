"""The contract every :class:`platforms.base.Remediable` implementation passes (ids ``<impl>:<case>``): the
in-memory ``SimPlatform``, the Cloud Foundry adapter against the loopback fake CC API, and the local platform
(real supervisord and HAProxy). Read side and error translation only: the write verbs' effects are platform
specific and tested with each adapter (tests/platforms/test_local_remediable.py,
tests/platforms/cloudfoundry/test_adapter.py).

A new adapter adds one branch to the ``remediable`` fixture."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from prometheus_client import CollectorRegistry

from platforms.base import (
    AppInventory,
    DeploymentControl,
    Instance,
    InstanceControl,
    PlatformError,
    Remediable,
    Revision,
)
from platforms.cloudfoundry import CloudFoundryPlatform
from remediation.sim import SimPlatform
from tests.platforms.cloudfoundry.conftest import make_config
from tests.platforms.cloudfoundry.fake_cf import APP_GUID, FakeCF, serve
from tests.platforms.conftest import RunningPlatform

IMPLEMENTATIONS = ["sim", "cloudfoundry", "local"]


@dataclass
class Case:
    platform: Remediable
    app: str  # an app that exists and runs at least one instance


@pytest.fixture(params=IMPLEMENTATIONS)
def remediable(request: pytest.FixtureRequest) -> Iterator[Case]:
    if request.param == "sim":
        yield Case(SimPlatform({"web": 2}), "web")
    elif request.param == "cloudfoundry":
        for fake in serve(FakeCF()):
            cf = CloudFoundryPlatform(make_config(fake), registry=CollectorRegistry())
            try:
                yield Case(cf, APP_GUID)  # the app key on Cloud Foundry is the GUID
            finally:
                cf.close()
    else:
        local: RunningPlatform = request.getfixturevalue("local_platform")
        yield Case(local.platform, "catalog")


def test_implements_every_seam(remediable: Case) -> None:
    p = remediable.platform
    assert isinstance(p, Remediable)
    assert isinstance(p, AppInventory) and isinstance(p, InstanceControl) and isinstance(p, DeploymentControl)
    assert p.name


def test_inventory_reads_what_runs(remediable: Case) -> None:
    p, app = remediable.platform, remediable.app
    assert app in p.apps()
    instances = p.app_instances(app)
    assert instances and all(isinstance(i, Instance) and i.app == app for i in instances)
    assert len({i.index for i in instances}) == len(instances)
    revisions = p.revisions(app)
    assert all(isinstance(r, Revision) for r in revisions)
    assert sum(r.current for r in revisions) <= 1


def test_unknown_app_is_a_platform_error(remediable: Case) -> None:
    with pytest.raises(PlatformError):
        remediable.platform.app_instances("no-such-app")
    with pytest.raises(PlatformError):
        remediable.platform.restart_app("no-such-app")


def test_missing_instance_is_a_platform_error(remediable: Case) -> None:
    p, app = remediable.platform, remediable.app
    with pytest.raises(PlatformError):
        p.restart_instance(app, len(p.app_instances(app)) + 50)
