"""BlueGreenAction against a fake platform and a fake ActionContext (sleep returns at once, query_range
returns series prepared per traffic weight)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest
from prometheus_client import CollectorRegistry

from metrics_store.memory import MemoryStore
from metrics_store.model import labels_from
from metrics_store.promql.engine import Engine
from platforms.base import Deployment, Instance, PlatformError, Remediable, Revision
from remediation.actions.bluegreen import (
    DEFAULT_ERROR_RATIO_EXPR,
    BlueGreenAction,
    BlueGreenParams,
    GateSamples,
)
from remediation.base import Action, ActionResult, RemediationError
from remediation.model import ActionRequest, Target

T = TypeVar("T")
APP = "checkout"
OLD, NEW = "v1", "v2"

# {metric: {revision: values}} for a traffic weight (percent to the new revision).
Scenario = Callable[[int], GateSamples]


class FakePlatform:
    name = "fake"

    def __init__(self, fail: dict[str, Exception] | None = None) -> None:
        self.fail = fail or {}
        self.dep = Deployment("d1", APP, NEW, OLD, "DEPLOYING", 0)

    def _check(self, call: str) -> None:
        if call in self.fail:
            raise self.fail[call]

    def apps(self) -> list[str]:
        return [APP]

    def app_instances(self, app: str) -> list[Instance]:
        return [Instance(app, i, "RUNNING", OLD) for i in range(3)] + [Instance(app, 3, "RUNNING", NEW)]

    def restart_app(self, app: str) -> object:
        raise NotImplementedError

    def restart_instance(self, app: str, index: int) -> object:
        raise NotImplementedError

    def scale(self, app: str, instances: int) -> object:
        raise NotImplementedError

    def revisions(self, app: str) -> list[Revision]:
        return [Revision(OLD, 1, current=True), Revision(NEW, 2)]

    def start_deployment(self, app: str, revision: str, weight_pct: int) -> Deployment:
        self._check("start_deployment")
        self.dep = Deployment("d1", app, revision, OLD, "DEPLOYING", weight_pct)
        return self.dep

    def set_deployment_weight(self, deployment: str, weight_pct: int) -> Deployment:
        self._check("set_deployment_weight")
        self.dep = replace(self.dep, weight_pct=weight_pct)
        return self.dep

    def promote_deployment(self, deployment: str) -> Deployment:
        self._check("promote_deployment")
        self.dep = replace(self.dep, state="DEPLOYED", weight_pct=100)
        return self.dep

    def cancel_deployment(self, deployment: str) -> Deployment:
        self._check("cancel_deployment")
        self.dep = replace(self.dep, state="CANCELED", weight_pct=0)
        return self.dep

    def deployment(self, deployment: str) -> Deployment:
        return self.dep

    def rollback(self, app: str, revision: str) -> Deployment:
        self._check("rollback")
        return Deployment("d2", app, revision, NEW, "DEPLOYED", 100)


@dataclass
class FakeContext:
    fake: FakePlatform
    scenario: Scenario
    with_revision_label: bool = True
    query_error: Exception | None = None
    request: ActionRequest = field(
        default_factory=lambda: ActionRequest(
            "r1", "deploy", "abc", "blue_green", Target(APP), {"revision": NEW}, "live", datetime.now(UTC)
        )
    )
    calls: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)
    slept: list[float] = field(default_factory=list)
    platform: Remediable = field(init=False)

    def __post_init__(self) -> None:
        self.platform = self.fake

    async def call(self, name: str, fn: Callable[..., T], *args: Any) -> T:
        self.calls.append((name, args))
        return fn(*args)

    async def query(self, expr: str) -> list[tuple[dict[str, str], float]]:
        raise AssertionError("blue-green uses range queries")

    async def query_range(
        self, expr: str, start: datetime, end: datetime, step_s: float
    ) -> list[tuple[dict[str, str], list[tuple[float, float]]]]:
        assert start <= end
        self.queries.append(expr)
        if self.query_error:
            raise self.query_error
        metric = "error_ratio" if expr.startswith("err") else "latency"
        assert f'app="{APP}"' in expr
        out: list[tuple[dict[str, str], list[tuple[float, float]]]] = []
        per_rev = self.scenario(self.fake.dep.weight_pct).get(metric, {})
        for rev, values in per_rev.items():
            # one series per instance: old revision on instances 0-2, new on 3 (see FakePlatform)
            indexes = [0, 1, 2] if rev == OLD else [3]
            for idx in indexes:
                labels = {"app": APP, "app_instance": str(idx)}
                if self.with_revision_label:
                    labels["revision"] = rev
                out.append((labels, [(1000.0 + k * 5, v) for k, v in enumerate(values)]))
        return out

    def event(self, kind: str, data: dict[str, Any]) -> None:
        self.events.append((kind, data))

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)

    @property
    def call_names(self) -> list[str]:
        return [name for name, _ in self.calls]

    @property
    def steps(self) -> list[dict[str, Any]]:
        return [data for kind, data in self.events if kind == "step"]


def wobble(base: float, n: int = 8, spread: float = 0.05) -> list[float]:
    """n deterministic values around base (+-spread relative)."""
    return [base * (1 + spread * ((k % 5) - 2) / 2) for k in range(n)]


def healthy(weight: int) -> GateSamples:
    old_ok = weight < 100  # at 100 % the old revision serves nothing: no samples
    return {
        "error_ratio": {OLD: wobble(0.002) if old_ok else [], NEW: wobble(0.002)},
        "latency": {OLD: wobble(0.05) if old_ok else [], NEW: wobble(0.051)},
    }


def erroring(weight: int) -> GateSamples:
    return healthy(weight) | {"error_ratio": {OLD: wobble(0.002), NEW: wobble(0.3)}}


def slow_under_load(weight: int) -> GateSamples:
    """Fine at 10 %, twice as slow from 50 %."""
    s = healthy(weight)
    if weight >= 50:
        s["latency"] = {OLD: wobble(0.05), NEW: wobble(0.1)}
    return s


def action(**kw: Any) -> BlueGreenAction:
    return BlueGreenAction(error_ratio_expr='err{app="$app"}', latency_expr='lat{app="$app"}', **kw)


def params(**kw: Any) -> BlueGreenParams:
    return BlueGreenParams(type="blue_green", step_duration=30.0, **kw)


async def run(ctx: FakeContext, act: BlueGreenAction | None = None, **kw: Any) -> ActionResult:
    return await (act or action()).run(ctx, Target(APP), params(**kw))


def test_is_an_action() -> None:
    act = BlueGreenAction()
    assert isinstance(act, Action)
    assert act.name == "blue_green"
    assert act.params_model is BlueGreenParams


def test_default_error_ratio_expr_keeps_instances_without_errors() -> None:
    assert 'code=~"5.."' in DEFAULT_ERROR_RATIO_EXPR
    assert " or " in DEFAULT_ERROR_RATIO_EXPR


async def test_good_release_is_promoted_through_all_steps() -> None:
    ctx = FakeContext(FakePlatform(), healthy)
    result = await run(ctx)
    assert result.ok, result.detail
    assert ctx.call_names == [
        "start_deployment",
        "set_deployment_weight",
        "set_deployment_weight",
        "promote_deployment",
    ]
    assert ctx.calls[0][1] == (APP, NEW, 10)
    assert [args[1] for name, args in ctx.calls if name == "set_deployment_weight"] == [50, 100]
    assert [s["weight"] for s in ctx.steps] == [10, 50, 100]
    assert all(s["passed"] for s in ctx.steps)
    assert ctx.slept == [30.0, 30.0, 30.0]
    first = ctx.steps[0]["verdicts"]
    assert set(first) == {"error_ratio", "latency"}
    assert {"p_value", "effect_size", "median_old", "median_new", "n_old", "n_new"} <= set(
        first["latency"]["stats"]
    )
    assert first["latency"]["stats"]["n_old"] == 24  # 3 old instances x 8 points
    # At 100 % the old revision has no samples of its own: the previous step's are the baseline.
    assert "previous step" in ctx.steps[2]["verdicts"]["latency"]["reason"]
    assert ctx.fake.dep.state == "DEPLOYED"
    assert result.data["previous_revision"] == OLD
    assert result.revert is not None
    await result.revert()
    assert ctx.calls[-1] == ("rollback", (APP, OLD))


async def test_bad_release_is_cancelled_at_the_first_step() -> None:
    ctx = FakeContext(FakePlatform(), erroring)
    result = await run(ctx)
    assert not result.ok
    assert ctx.call_names == ["start_deployment", "cancel_deployment"]
    assert ctx.fake.dep.state == "CANCELED"
    assert "failed the gate at 10%" in result.detail
    assert "error_ratio: regression" in result.detail
    assert "canceled" in result.detail
    assert result.revert is None
    assert result.data["failed_weight"] == 10
    (step,) = ctx.steps
    assert step["weight"] == 10
    assert not step["passed"]
    err = step["verdicts"]["error_ratio"]
    assert not err["passed"]
    assert err["stats"]["p_value"] < 0.05
    assert err["stats"]["effect_size"] == pytest.approx(1.0)
    assert step["verdicts"]["latency"]["passed"]


async def test_latency_regression_rolls_back_at_the_step_it_appears() -> None:
    ctx = FakeContext(FakePlatform(), slow_under_load)
    result = await run(ctx)
    assert not result.ok
    assert ctx.call_names == ["start_deployment", "set_deployment_weight", "cancel_deployment"]
    assert [s["passed"] for s in ctx.steps] == [True, False]
    lat = ctx.steps[1]["verdicts"]["latency"]
    assert not lat["passed"]
    assert lat["stats"]["increase_pct"] == pytest.approx(100.0)
    assert "latency: regression" in result.detail
    assert result.data["failed_weight"] == 50


async def test_platform_error_on_set_weight_cancels_and_reports() -> None:
    plat = FakePlatform(fail={"set_deployment_weight": PlatformError("router: 503")})
    ctx = FakeContext(plat, healthy)
    result = await run(ctx)
    assert not result.ok
    assert ctx.call_names == ["start_deployment", "set_deployment_weight", "cancel_deployment"]
    assert "set_deployment_weight at 50% failed: router: 503" in result.detail
    assert "deployment canceled" in result.detail
    assert plat.dep.state == "CANCELED"


async def test_cancel_failing_too_is_reported() -> None:
    plat = FakePlatform(
        fail={"set_deployment_weight": PlatformError("boom"), "cancel_deployment": PlatformError("gone")}
    )
    result = await run(FakeContext(plat, healthy))
    assert not result.ok
    assert "cancel_deployment failed too: gone" in result.detail


async def test_promote_failure_cancels() -> None:
    ctx = FakeContext(FakePlatform(fail={"promote_deployment": PlatformError("nope")}), healthy)
    result = await run(ctx)
    assert not result.ok
    assert ctx.call_names[-2:] == ["promote_deployment", "cancel_deployment"]
    assert "promote_deployment at 100% failed: nope" in result.detail


async def test_start_failure_reports_without_cancel() -> None:
    ctx = FakeContext(FakePlatform(fail={"start_deployment": PlatformError("no such revision")}), healthy)
    result = await run(ctx)
    assert not result.ok
    assert ctx.call_names == ["start_deployment"]
    assert "no such revision" in result.detail


async def test_metrics_store_error_cancels() -> None:
    ctx = FakeContext(FakePlatform(), healthy, query_error=RuntimeError("store down"))
    result = await run(ctx)
    assert not result.ok
    assert ctx.call_names == ["start_deployment", "cancel_deployment"]
    assert "store down" in result.detail


async def test_series_without_revision_label_are_mapped_through_the_platform() -> None:
    ctx = FakeContext(FakePlatform(), erroring, with_revision_label=False)
    result = await run(ctx)
    assert not result.ok
    assert "app_instances" in ctx.call_names
    assert ctx.steps[0]["verdicts"]["error_ratio"]["stats"]["n_new"] == 8


async def test_revision_from_params_wins_and_a_silent_new_revision_fails() -> None:
    ctx = FakeContext(FakePlatform(), healthy)
    result = await run(ctx, action(max_inconclusive_waits=1), revision="v9")
    assert ctx.calls[0][1] == (APP, "v9", 10)
    assert not result.ok  # the prepared series are for v2: v9 never reports
    assert "no samples of v9 at all" in result.detail
    assert ctx.call_names[-1] == "cancel_deployment"
    assert ctx.slept == [30.0, 30.0]


async def test_missing_revision_is_refused_without_platform_calls() -> None:
    ctx = FakeContext(FakePlatform(), healthy)
    ctx.request = replace(ctx.request, params={})
    result = await run(ctx)
    assert not result.ok
    assert "no revision" in result.detail
    assert ctx.calls == []


def few_new_samples(weight: int) -> GateSamples:
    """The new instance reports only 3 points per metric (fewer than min_samples)."""
    return {m: {OLD: v[OLD], NEW: v[NEW][:3]} for m, v in healthy(weight).items()}


async def test_inconclusive_waits_then_passes_with_the_reason() -> None:
    ctx = FakeContext(FakePlatform(), few_new_samples)
    result = await run(ctx, action(max_inconclusive_waits=2), steps=[100])
    assert result.ok
    assert ctx.slept == [30.0, 30.0, 30.0]  # the step, then two more waits for data
    assert ctx.steps[0]["verdicts"]["latency"]["reason"].startswith("inconclusive")


async def test_inconclusive_can_fail_instead() -> None:
    ctx = FakeContext(FakePlatform(), few_new_samples)
    result = await run(ctx, action(max_inconclusive_waits=0, on_inconclusive="fail"))
    assert not result.ok
    assert ctx.call_names == ["start_deployment", "cancel_deployment"]
    assert "inconclusive" in result.detail


# -- the default PromQL over the real query engine --------------------------------------------------------
# A simulated router splits traffic by weight between 3 old instances and 1 new one; every ``sleep`` scrapes
# their sample-app-shaped counters and histogram every 5 s into a MemoryStore; the action's default
# expressions run on the real PromQL engine and FakePlatform takes the deployment calls.

_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_JITTER = (0.6, 0.8, 1.0, 1.2, 1.4)


@dataclass
class Release:
    error_ratio: float = 0.002
    latency_s: float = 0.04


@dataclass
class TrafficContext:
    fake: FakePlatform
    old: Release
    new: Release
    old_rev: str
    new_rev: str
    request: ActionRequest
    rps: float = 40.0
    t_ms: int = 1_700_000_000_000
    store: MemoryStore = field(default_factory=MemoryStore)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    counters: dict[tuple[tuple[str, str], ...], float] = field(default_factory=dict)
    platform: Remediable = field(init=False)
    dep: Deployment | None = None

    def __post_init__(self) -> None:
        self.platform = self.fake
        self.engine = Engine(self.store, registry=CollectorRegistry())

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.t_ms / 1000, UTC)

    def weight(self) -> int:
        """Traffic percent of the new revision; -1 before the deployment started it."""
        if self.dep is None:
            return -1
        return {"DEPLOYING": self.dep.weight_pct, "DEPLOYED": 100}.get(self.dep.state, -1)

    def _inc(self, labels: dict[str, str], by: float) -> None:
        key = labels_from(labels)
        self.counters[key] = self.counters.get(key, 0.0) + by
        self.store.append([self.store.series_ref(key)], [self.t_ms], [self.counters[key]])

    def _serve(self, idx: int, rev: str, rel: Release, requests: float, tick: int) -> None:
        base = {"app": APP, "app_instance": str(idx), "revision": rev, "job": "app"}
        route = {"method": "GET", "route": "/api/items"}
        self._inc(
            base | route | {"__name__": "http_requests_total", "code": "500"}, requests * rel.error_ratio
        )
        ok = requests * (1 - rel.error_ratio)
        self._inc(base | route | {"__name__": "http_requests_total", "code": "200"}, ok)
        scrape = {"__name__": "http_requests_total", "method": "GET", "route": "/metrics", "code": "200"}
        self._inc(base | scrape, 1.0)  # scrapes are not traffic: excluded by the default expressions
        latency = rel.latency_s * _JITTER[(tick + idx) % len(_JITTER)]
        for le in (*_BUCKETS, float("inf")):
            name = {"__name__": "http_request_duration_seconds_bucket", "route": "/api/items"}
            self._inc(
                base | name | {"le": "+Inf" if le == float("inf") else str(le)}, requests * (latency <= le)
            )

    def _tick(self, tick: int) -> None:
        w = self.weight()
        new_share = max(w, 0) / 100
        for idx in range(3):
            self._serve(idx, self.old_rev, self.old, self.rps * 5 * (1 - new_share) / 3, tick)
        if w >= 0:
            self._serve(3, self.new_rev, self.new, self.rps * 5 * new_share, tick)

    async def sleep(self, seconds: float) -> None:
        for _ in range(round(seconds / 5)):
            self.t_ms += 5000
            self._tick(self.t_ms // 5000)

    async def call(self, name: str, fn: Callable[..., T], *args: Any) -> T:
        out = fn(*args)
        if isinstance(out, Deployment):
            self.dep = out
        return out

    async def query(self, expr: str) -> list[tuple[dict[str, str], float]]:
        raise AssertionError("blue-green uses range queries")

    async def query_range(
        self, expr: str, start: datetime, end: datetime, step_s: float
    ) -> list[tuple[dict[str, str], list[tuple[float, float]]]]:
        m = self.engine.range_query(
            expr, int(start.timestamp() * 1000), int(end.timestamp() * 1000), int(step_s * 1000)
        )
        return [
            (dict(s.labels), [(t / 1000, v) for t, v in zip(s.timestamps_ms, s.values, strict=True)])
            for s in m.series
        ]

    def event(self, kind: str, data: dict[str, Any]) -> None:
        self.events.append((kind, data))


def traffic(new: Release) -> TrafficContext:
    req = ActionRequest("r1", "deploy", "abc", "blue_green", Target(APP), {"revision": NEW}, "live", NOW)
    return TrafficContext(FakePlatform(), Release(), new, OLD, NEW, req)


NOW = datetime(2026, 1, 1, tzinfo=UTC)


async def run_traffic(ctx: TrafficContext) -> ActionResult:
    await ctx.sleep(60)  # history before the deployment
    act = BlueGreenAction(now=ctx.now)
    return await act.run(ctx, Target(APP), params())


async def test_promql_good_release_promoted() -> None:
    ctx = traffic(Release())
    result = await run_traffic(ctx)
    assert result.ok, result.detail
    steps = [d for k, d in ctx.events if k == "step"]
    assert [s["weight"] for s in steps] == [10, 50, 100]
    first = steps[0]["verdicts"]
    assert first["error_ratio"]["stats"]["n_new"] >= 5
    assert first["latency"]["stats"]["n_old"] >= 15
    assert first["error_ratio"]["stats"]["mean_old"] == pytest.approx(0.002, rel=0.01)
    assert ctx.fake.dep.state == "DEPLOYED"


async def test_promql_erroring_release_cancelled_at_10pct() -> None:
    ctx = traffic(Release(error_ratio=0.2))
    result = await run_traffic(ctx)
    assert not result.ok
    assert "error_ratio: regression" in result.detail
    assert ctx.fake.dep.state == "CANCELED"
    assert [d["weight"] for k, d in ctx.events] == [10]
    err = ctx.events[0][1]["verdicts"]["error_ratio"]["stats"]
    assert err["mean_new"] == pytest.approx(0.2, rel=0.01)


async def test_promql_slow_release_cancelled() -> None:
    ctx = traffic(Release(latency_s=0.4))
    result = await run_traffic(ctx)
    assert not result.ok
    assert "latency: regression" in result.detail
    assert ctx.fake.dep.state == "CANCELED"


# -- simulation and shutdown --------------------------------------------------------------------------------


@dataclass
class SimulatingContext(FakeContext):
    """Like the engine's simulating context: mutating platform calls are recorded and answered with None."""

    async def call(self, name: str, fn: Callable[..., T], *args: Any) -> T:
        self.calls.append((name, args))
        return None  # type: ignore[return-value]


async def test_simulation_records_the_plan_without_judging() -> None:
    ctx = SimulatingContext(FakePlatform(), healthy)
    result = await run(ctx)
    assert result.ok
    assert result.data["simulated"]
    assert "simulated" in result.detail
    assert ctx.call_names == [
        "start_deployment",
        "set_deployment_weight",
        "set_deployment_weight",
        "promote_deployment",
    ]
    assert ctx.slept == []
    assert ctx.queries == []
    assert [s["weight"] for s in ctx.steps] == [10, 50, 100]
    assert ctx.fake.dep.state == "DEPLOYING"  # nothing reached the platform


@dataclass
class StoppingContext(FakeContext):
    """The engine stops during the second step's observation (its sleep raises, as EngineContext's does)."""

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        if len(self.slept) == 2:
            raise RemediationError("engine stopping")


async def test_engine_stopping_mid_deployment_cancels() -> None:
    ctx = StoppingContext(FakePlatform(), healthy)
    result = await run(ctx)
    assert not result.ok
    assert "engine stopping" in result.detail
    assert ctx.call_names == ["start_deployment", "set_deployment_weight", "cancel_deployment"]
    assert ctx.fake.dep.state == "CANCELED"
