"""The persisted parts of the deployment and restart windows, without processes: the weights written to
``haproxy.cfg`` during a deployment at 100 % (``taken_over``) and a restart's drain marks (``restarting``)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from platforms.local import PlatformState, _deploy
from platforms.local.haproxy_config import render_haproxy_config
from platforms.local.state import AppSpec, StateDir


def _ports() -> Callable[[], int]:
    counter = iter(range(22000, 22100))
    return lambda: next(counter)


def _at_100() -> tuple[PlatformState, str]:
    state = PlatformState.new({"web": 2}, _ports())
    web = state.app("web")
    assert web is not None
    web, _ = _deploy.create_revision(web, "2.0.0", {})
    web, dep = _deploy.start(web, "v2", 100, _ports())
    return state.with_app(web), dep.id


def _weights(state: PlatformState, tmp_path: Path) -> dict[str, int]:
    text = render_haproxy_config(state, StateDir(tmp_path))
    return {m[1]: int(m[2]) for m in re.finditer(r"server (web-\d+) \S+ .* weight (\d+)", text)}


def test_the_config_keeps_the_old_servers_until_the_new_ones_took_over(tmp_path: Path) -> None:
    """haproxy.cfg had old 0, new 100 as soon as a deployment was set to 100 %: a restarted HAProxy sent
    everything to new servers it counts UP before a check (3,924 × 503 in the review's run)."""
    state, dep = _at_100()
    assert _weights(state, tmp_path) == {"web-0": 1, "web-1": 1, "web-2": 0, "web-3": 0}
    web = state.app("web")
    assert web is not None
    taken = state.with_app(_deploy.mark_taken_over(web, dep))
    assert _weights(taken, tmp_path) == {"web-0": 0, "web-1": 0, "web-2": 100, "web-3": 100}


def test_taken_over_survives_a_save_and_a_new_split_resets_it() -> None:
    state, dep = _at_100()
    web = state.app("web")
    assert web is not None
    web = _deploy.mark_taken_over(web, dep)
    loaded = AppSpec.from_json("web", web.to_json())
    assert loaded == web
    same, _ = _deploy.set_weight(loaded, dep, 100)  # a retry at the same split
    assert same.deployments[-1].taken_over
    moved, _ = _deploy.set_weight(loaded, dep, 50)
    back, _ = _deploy.set_weight(moved, dep, 100)
    assert not back.deployments[-1].taken_over


def test_a_restart_mark_is_persisted_and_expires() -> None:
    """A drain mark is seen by another process (state.json) and stops holding once it expired (a restart
    that crashed); a new mark drops expired ones."""
    spec = AppSpec("web", ())
    marked = spec.with_restarting(1, until=100.0, now=50.0)
    loaded = AppSpec.from_json("web", {"instances": [], **marked.to_json()})
    assert loaded.restarting_now(99.0) == {1}
    assert loaded.restarting_now(100.0) == set()
    assert loaded.restarting_now(40.0, longest=60.0) == {1}
    assert loaded.restarting_now(30.0, longest=60.0) == set()  # 70 s off: the clock went back, ignored
    again = loaded.with_restarting(2, until=300.0, now=200.0)
    assert again.restarting == ((2, 300.0),)
    assert again.without_restarting(2).restarting == ()


def test_the_config_keeps_a_rollbacks_replaced_servers_until_the_new_ones_serve(tmp_path: Path) -> None:
    """A rollback saved a state with only its new instances: a restarted HAProxy had only those, counted UP
    before a check, 503 until they answered (814 in the review's run). The replaced ones are now written at
    the weight the config had for them, the new ones at 0, until the reconcile clears ``retiring``."""
    state = PlatformState.new({"web": 2}, _ports())
    web = state.app("web")
    assert web is not None
    web, _ = _deploy.create_revision(web, "2.0.0", {})
    rolled, _ = _deploy.rollback(web, "v2", _ports())
    back = state.with_app(rolled)
    assert _weights(back, tmp_path) == {"web-0": 1, "web-1": 1, "web-2": 0, "web-3": 0}
    assert AppSpec.from_json("web", rolled.to_json()) == rolled
    cleared = back.with_app(replace(rolled, retiring=()))
    assert _weights(cleared, tmp_path) == {"web-2": 1, "web-3": 1}


def test_a_rollback_during_a_deployment_at_100_pct_keeps_what_the_config_had() -> None:
    """The canceled release's new instances never served (not taken over): they are not written back; the
    old ones keep weight 1."""
    state, _ = _at_100()
    web = state.app("web")
    assert web is not None
    rolled, _ = _deploy.rollback(web, "v1", _ports())
    assert [(i.index, w) for i, w in rolled.retiring] == [(0, 1), (1, 1)]


def test_a_bad_restart_mark_is_ignored_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    """A ``restarting`` that is not {index: until} made every load of the state fail; it is now dropped with
    a warning naming the app (a drain mark is advisory and expires anyway)."""
    for bad in (["1", 2.0], {"x": 1.0}, {"1": "soon"}, 5):
        loaded = AppSpec.from_json("web", {"instances": [], "restarting": bad})
        assert loaded.restarting == ()
    assert "apps.web.restarting ignored" in caplog.text


def test_a_bad_retiring_entry_is_ignored_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    """A ``retiring`` that is not a list of {index, port, revision, weight} made every load of the state fail
    (``StateError`` "corrupt" for every command); it is now dropped with a warning naming the app: the
    entries only keep a rollback's replaced servers in ``haproxy.cfg`` until the new ones serve."""
    good = {"index": 0, "port": 8080, "revision": "v1", "weight": 1}
    for bad in (5, "x", [{"index": 0}], [{**good, "weight": "heavy"}], [5]):
        loaded = AppSpec.from_json("web", {"instances": [], "retiring": bad})
        assert loaded.retiring == ()
    assert "apps.web.retiring ignored" in caplog.text
    kept = AppSpec.from_json("web", {"instances": [], "retiring": [good]})
    assert [(i.index, i.port, i.revision, w) for i, w in kept.retiring] == [(0, 8080, "v1", 1)]
