"""Apps are keyed by GUID: a name shared by two spaces is refused, GUID and org/space/name pick one app
and its same-named twin is untouched (fake_cf ``twins=True``: ``api`` in my-space and other-space)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry

from platforms.cloudfoundry import CFAmbiguousAppError, CFUnknownAppError, CloudFoundryPlatform
from tests.platforms.cloudfoundry.conftest import FakeClock, make_config
from tests.platforms.cloudfoundry.fake_cf import API_A, API_B, APP_SPACE, OTHER_SPACE, FakeCF, serve


@pytest.fixture
def twins() -> Iterator[FakeCF]:
    yield from serve(FakeCF(twins=True))


@pytest.fixture
def cf(twins: FakeCF, clock: FakeClock) -> Iterator[CloudFoundryPlatform]:
    platform = CloudFoundryPlatform(
        make_config(twins), registry=CollectorRegistry(), clock=clock, sleep=clock.sleep, poll_interval_s=1.0
    )
    yield platform
    platform.close()


def _writes(fake: FakeCF) -> list[str]:
    return [f"{r.method} {r.path}" for r in fake.cc_calls() if r.method != "GET"]


def test_ambiguous_name_is_refused_for_every_call(cf: CloudFoundryPlatform, twins: FakeCF) -> None:
    for act in (
        lambda: cf.scale("api", 5),
        lambda: cf.restart_app("api"),
        lambda: cf.restart_instance("api", 0),
        lambda: cf.app_instances("api"),
    ):
        with pytest.raises(CFAmbiguousAppError, match="2 apps are named 'api'") as info:
            act()
        assert info.value.candidates == [
            f"my-organization/my-space/api ({API_A})",
            f"my-organization/other-space/api ({API_B})",
        ]
    assert _writes(twins) == []  # nothing was changed anywhere
    assert [twins.web_of(g)["instances"] for g in (API_A, API_B)] == [1, 1]


@pytest.mark.parametrize("key", [API_B, "my-organization/other-space/api"])
def test_guid_and_path_pick_one_app_and_leave_the_twin(
    cf: CloudFoundryPlatform, twins: FakeCF, key: str
) -> None:
    assert cf.app_guid(key) == API_B
    cf.scale(key, 3)
    assert (twins.web_of(API_B)["instances"], twins.web_of(API_A)["instances"]) == (3, 1)
    cf.restart_app(key)
    [dep] = twins.deployments.values()
    assert dep["relationships"]["app"]["data"]["guid"] == API_B
    assert {i.app for i in cf.app_instances(key)} == {API_B}
    assert _writes(twins) == [
        f"POST /v3/processes/{twins.web_of(API_B)['guid']}/actions/scale",
        "POST /v3/deployments",
    ]


def test_unique_name_still_resolves(cf: CloudFoundryPlatform) -> None:
    assert [i.app for i in cf.app_instances("my_app")] == [cf.app_guid("my_app")] * 2


def test_unknown_keys(cf: CloudFoundryPlatform, twins: FakeCF) -> None:
    with pytest.raises(CFUnknownAppError, match="no app 'my-organization/nowhere/api'"):
        cf.scale("my-organization/nowhere/api", 2)
    with pytest.raises(CFUnknownAppError, match="no app with GUID 00000000-0000-4000-8000-000000000000"):
        cf.scale("00000000-0000-4000-8000-000000000000", 2)
    assert _writes(twins) == []


def test_app_labels_and_target_labels_name_org_and_space(cf: CloudFoundryPlatform) -> None:
    assert cf.app_labels(API_B) == {
        "app": "api",
        "app_guid": API_B,
        "space": "other-space",
        "space_guid": OTHER_SPACE,
        "org": "my-organization",
        "org_guid": cf.app_labels(API_A)["org_guid"],
    }
    assert cf.app_labels(API_A)["space_guid"] == APP_SPACE
    by_guid = {t.labels["app_guid"]: t.labels for t in cf.discover() if t.labels["app"] == "api"}
    assert set(by_guid) == {API_A, API_B}
    assert (by_guid[API_A]["space"], by_guid[API_B]["space"]) == ("my-space", "other-space")
    assert by_guid[API_B]["__meta_cf_space"] == "other-space"


def test_a_new_twin_makes_a_cached_name_ambiguous_after_the_ttl(
    cf: CloudFoundryPlatform, twins: FakeCF, clock: FakeClock
) -> None:
    first = cf.app_guid("my_app")
    twins.add_app("my_app", OTHER_SPACE)  # pushed into another space
    assert cf.app_guid("my_app") == first  # cached for app_cache_ttl_s
    clock.now += 61
    with pytest.raises(CFAmbiguousAppError, match="2 apps are named 'my_app'"):
        cf.app_guid("my_app")
    assert cf.app_guid(first) == first
    assert cf.app_guid("my-organization/my-space/my_app") == first
