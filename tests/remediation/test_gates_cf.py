"""Threshold canary gates (remediation.gates) over the real embedded store: the ``cloudfoundry`` preset judges
per-instance series written the way Paramedic stores Log Cache's router data (CF_STORED_SERIES), computed
here from a synthetic request log; and the whole blue-green action cancels or promotes on them."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
from prometheus_client import CollectorRegistry

from metrics_store.config import EmbeddedStoreConfig
from metrics_store.embedded import EmbeddedStore
from metrics_store.model import labels_from
from metrics_store.promql.engine import Engine
from platforms.base import Deployment, Instance, Remediable, Revision
from platforms.cloudfoundry.kpis import load_catalogue
from remediation._context import CallSettings, EngineContext
from remediation._metrics import RemediationMetrics
from remediation.actions.bluegreen import BlueGreenAction, BlueGreenParams
from remediation.gates import CF_STORED_SERIES, CanaryGates, ThresholdGates, render
from remediation.judge import ThresholdJudge
from remediation.model import ActionRequest, Target

T = TypeVar("T")
T_END = 1_750_000_000.0  # the judging instant (unix s)
OLD, NEW = "rev-1", "rev-2"
POLL_S = 30  # Paramedic polls Log Cache every 30 s
# One request log per app: (time s, instance index, status code, duration ns).
Request = tuple[float, int, int, int]


def request_log(
    app_seed: int, *, new_5xx_every: int, new_rps: float, new_slow: bool = False
) -> list[Request]:
    """10 minutes of requests: old instances 0, 1 at 2 req/s each without errors; new instances 2, 3 at
    ``new_rps`` each, every ``new_5xx_every``-th request a 503 (0: never)."""
    out: list[Request] = []
    start = T_END - 600
    for inst, rps in ((0, 2.0), (1, 2.0), (2, new_rps), (3, new_rps)):
        if rps <= 0:
            continue
        n = int(600 * rps)
        for k in range(n):
            t = start + (k + 0.5) / rps
            new = inst >= 2
            status = 503 if new and new_5xx_every and k % new_5xx_every == 0 else 200
            base = 40_000_000 + ((k * 7 + app_seed) % 11) * 1_000_000  # 40-50 ms
            out.append((t, inst, status, base * (4 if new and new_slow else 1)))
    return out


def stored_points(
    guid: str, log: list[Request]
) -> dict[tuple[tuple[str, str], ...], list[tuple[int, float]]]:
    """What the Log Cache poller stores every POLL_S: CF_STORED_SERIES evaluated over the last minute of
    the request log, one series per (source_id, instance_id)."""
    out: dict[tuple[tuple[str, str], ...], list[tuple[int, float]]] = {}
    for t_poll in range(int(T_END - 540), int(T_END) + 1, POLL_S):
        for inst in sorted({r[1] for r in log}):
            window = [r for r in log if r[1] == inst and t_poll - 60 < r[0] <= t_poll]
            if not window:
                continue
            durations = sorted(r[3] for r in window)
            p95 = durations[max(0, math.ceil(0.95 * len(durations)) - 1)]
            errors = sum(1 for r in window if r[2] >= 500)
            values = {
                "cf_app_http_requests_per_second": len(window) / 60,
                "cf_app_http_latency_p95_ns": float(p95),
            }
            if errors:  # Log Cache's count_over_time of a selector without points gives no series
                values["cf_app_http_5xx_per_second"] = errors / 60
            for name, v in values.items():
                key = labels_from({"__name__": name, "source_id": guid, "instance_id": str(inst)})
                out.setdefault(key, []).append((t_poll * 1000, v))
    return out


APPS = {
    # guid: request log
    "guid-bad": request_log(1, new_5xx_every=3, new_rps=2.0),  # every third request a 503: 33 %
    "guid-good": request_log(2, new_5xx_every=0, new_rps=2.0),
    "guid-quiet": request_log(3, new_5xx_every=3, new_rps=0.05),  # 3 requests per minute each
    "guid-slow": request_log(4, new_5xx_every=0, new_rps=2.0, new_slow=True),
}


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    path: Path = tmp_path_factory.mktemp("store")
    store = EmbeddedStore(
        path, EmbeddedStoreConfig(), registry=CollectorRegistry(), clock=lambda: T_END, background=False
    )
    for guid, log in APPS.items():
        for labels, points in stored_points(guid, log).items():
            ref = store.series_ref(labels)
            store.append([ref] * len(points), [t for t, _ in points], [v for _, v in points])
    yield Engine(store, registry=CollectorRegistry())
    store.close()


class Platform:
    """Instances 0, 1 run the old revision, 2, 3 the new one (what the CF adapter reports per index)."""

    name = "fake-cf"

    def __init__(self, app: str) -> None:
        self.dep = Deployment("dep-1", app, NEW, OLD, "DEPLOYING", 10)
        self.calls: list[str] = []

    def apps(self) -> list[str]:
        return [self.dep.app]

    def app_instances(self, app: str) -> list[Instance]:
        revs = [OLD, OLD, NEW, NEW] if self.dep.state == "DEPLOYING" else [OLD, OLD]
        return [Instance(app, i, "RUNNING", r) for i, r in enumerate(revs)]

    def revisions(self, app: str) -> list[Revision]:
        return [Revision(OLD, 1, current=True), Revision(NEW, 2)]

    def restart_app(self, app: str) -> object:
        raise NotImplementedError

    def restart_instance(self, app: str, index: int) -> object:
        raise NotImplementedError

    def scale(self, app: str, instances: int) -> object:
        raise NotImplementedError

    def start_deployment(self, app: str, revision: str, weight_pct: int) -> Deployment:
        self.calls.append("start_deployment")
        return self.dep

    def set_deployment_weight(self, deployment: str, weight_pct: int) -> Deployment:
        self.calls.append("set_deployment_weight")
        self.dep = replace(self.dep, weight_pct=weight_pct)
        return self.dep

    def promote_deployment(self, deployment: str) -> Deployment:
        self.calls.append("promote_deployment")
        self.dep = replace(self.dep, state="DEPLOYED", weight_pct=100)
        return self.dep

    def cancel_deployment(self, deployment: str) -> Deployment:
        self.calls.append("cancel_deployment")
        self.dep = replace(self.dep, state="CANCELED", weight_pct=0)
        return self.dep

    def rollback(self, app: str, revision: str) -> Deployment:
        raise NotImplementedError


@dataclass
class Context:
    """An ActionContext whose range queries run on the real PromQL engine over the embedded store."""

    fake: Platform
    engine: Engine
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)
    platform: Remediable = field(init=False)
    request: ActionRequest = field(init=False)

    def __post_init__(self) -> None:
        self.platform = self.fake
        target = Target(self.fake.dep.app)
        self.request = ActionRequest(
            "r1", "canary", "v", "blue_green", target, {"revision": NEW}, "live", datetime.now(UTC)
        )

    async def call(self, name: str, fn: Callable[..., T], *args: Any) -> T:
        return fn(*args)

    async def query(self, expr: str) -> list[tuple[dict[str, str], float]]:
        raise AssertionError("gates use range queries at an instant")

    async def query_range(
        self, expr: str, start: datetime, end: datetime, step_s: float
    ) -> list[tuple[dict[str, str], list[tuple[float, float]]]]:
        self.queries.append(expr)
        m = self.engine.range_query(
            expr, int(start.timestamp() * 1000), int(end.timestamp() * 1000), int(step_s * 1000)
        )
        return [
            (dict(s.labels), [(t / 1000, v) for t, v in zip(s.timestamps_ms, s.values, strict=True)])
            for s in m.series
        ]

    def event(self, kind: str, data: dict[str, Any]) -> None:
        self.events.append((kind, data))

    async def sleep(self, seconds: float) -> None:
        return None


AT = datetime.fromtimestamp(T_END, UTC)


def _expected_ratio(guid: str, instances: set[int]) -> float:
    """Error share of ``instances`` over the gate window as computed from the request log directly."""
    reqs = [r for r in APPS[guid] if r[1] in instances and T_END - 60 - 60 < r[0] <= T_END]
    return sum(1 for r in reqs if r[2] >= 500) / len(reqs)


async def test_cf_preset_cancels_a_canary_with_30_percent_5xx(engine: Engine) -> None:
    ctx = Context(Platform("guid-bad"), engine)
    out = await ThresholdGates.resolve("cloudfoundry").evaluate(ctx, "guid-bad", ctx.fake.dep, AT, {})
    assert out.decision == "cancel"
    err = out.verdicts["error_ratio"]
    assert not err.passed
    assert err.stats["value_new"] == pytest.approx(_expected_ratio("guid-bad", {2, 3}), abs=0.03)
    assert err.stats["value_old"] == 0.0
    assert "regression: error_ratio" in err.reason and "> max 0.05" in err.reason
    assert out.verdicts["p95_latency_s"].passed  # latency did not change
    # only the app's own series, new and old instances by the indexes the platform reported
    assert all('source_id="guid-bad"' in q for q in ctx.queries)
    assert any('instance_id=~"2|3"' in q for q in ctx.queries)
    assert any('instance_id=~"0|1"' in q for q in ctx.queries)


async def test_cf_preset_continues_a_good_canary(engine: Engine) -> None:
    ctx = Context(Platform("guid-good"), engine)
    out = await ThresholdGates.resolve("cloudfoundry").evaluate(ctx, "guid-good", ctx.fake.dep, AT, {})
    assert out.decision == "continue", out.verdicts
    assert out.verdicts["error_ratio"].stats["value_new"] == 0.0
    p95 = out.verdicts["p95_latency_s"].stats["value_new"]
    assert 0.04 <= p95 <= 0.05  # 40-50 ms, in seconds
    assert out.verdicts["error_ratio"].stats["requests_new"] >= 20


async def test_cf_preset_waits_on_too_little_traffic(engine: Engine) -> None:
    ctx = Context(Platform("guid-quiet"), engine)
    out = await ThresholdGates.resolve("cloudfoundry").evaluate(ctx, "guid-quiet", ctx.fake.dep, AT, {})
    assert out.decision == "wait"
    v = out.verdicts["error_ratio"]
    assert v.passed and v.stats["inconclusive"] == 1.0
    assert 0 < v.stats["requests_new"] < 20  # 2 instances x 3 req/min over the 1 min window


async def test_latency_gate_fails_a_slow_canary(engine: Engine) -> None:
    ctx = Context(Platform("guid-slow"), engine)
    out = await ThresholdGates.resolve("cloudfoundry").evaluate(ctx, "guid-slow", ctx.fake.dep, AT, {})
    assert out.decision == "cancel"
    lat = out.verdicts["p95_latency_s"]
    assert not lat.passed and "x baseline" in lat.reason
    assert lat.stats["value_new"] > 1.5 * lat.stats["value_old"]


async def test_no_new_instance_cancels(engine: Engine) -> None:
    fake = Platform("guid-good")
    fake.dep = replace(fake.dep, revision="rev-9")
    out = await ThresholdGates.resolve("cloudfoundry").evaluate(
        Context(fake, engine), "guid-good", fake.dep, AT, {}
    )
    assert out.decision == "cancel" and "no instance of revision rev-9" in out.verdicts["error_ratio"].reason


def _action() -> BlueGreenAction:
    return BlueGreenAction(now=lambda: AT, max_inconclusive_waits=1)


async def test_blue_green_with_cf_gates_cancels_a_bad_canary(engine: Engine) -> None:
    fake = Platform("guid-bad")
    ctx = Context(fake, engine)
    p = BlueGreenParams(type="blue_green", gates="cloudfoundry", steps=[10, 50, 100])
    result = await _action().run(ctx, Target("guid-bad"), p)
    assert not result.ok and "error_ratio" in result.detail
    assert fake.calls == ["start_deployment", "cancel_deployment"]
    [(kind, step)] = ctx.events
    assert kind == "step" and step["passed"] is False
    assert step["verdicts"]["error_ratio"]["stats"]["value_new"] > 0.25


async def test_blue_green_with_cf_gates_promotes_a_good_canary(engine: Engine) -> None:
    fake = Platform("guid-good")
    p = BlueGreenParams(
        type="blue_green", gates=CanaryGates(preset="cloudfoundry", min_requests=10), steps=[10, 100]
    )
    result = await _action().run(Context(fake, engine), Target("guid-good"), p)
    assert result.ok, result.detail
    assert fake.calls == ["start_deployment", "set_deployment_weight", "promote_deployment"]


async def test_blue_green_waits_then_does_not_cancel_on_too_little_traffic(engine: Engine) -> None:
    fake = Platform("guid-quiet")
    ctx = Context(fake, engine)
    p = BlueGreenParams(type="blue_green", gates="cloudfoundry", steps=[10])
    result = await _action().run(ctx, Target("guid-quiet"), p)
    assert "cancel_deployment" not in fake.calls
    assert result.ok  # on_inconclusive="pass" after the waits, recorded in the verdict
    assert "inconclusive" in ctx.events[0][1]["verdicts"]["error_ratio"]["reason"]


def test_custom_gates_with_thresholds_override_the_preset() -> None:
    spec = CanaryGates.model_validate(
        {"preset": "cloudfoundry", "checks": [{"name": "error_ratio", "max": 0.2}]}
    )
    [check] = ThresholdGates.resolve(spec).checks
    assert check.max == 0.2 and check.max_vs_baseline == 2.0 and check.query
    assert ThresholdGates.problems_of(spec) == []


def test_template_values_are_quoted() -> None:
    expr = render(
        "m{a=$app, i=~$instances}[$window]", app='x", b="y', revision="r", instances=[1, 10], window_s=90
    )
    assert expr == 'm{a="x\\", b=\\"y", i=~"1|10"}[90s]'


def test_cf_stored_series_are_the_preset_inputs() -> None:
    for check in ThresholdGates.resolve("cloudfoundry").checks:
        assert any(name in (check.query or "") for name in CF_STORED_SERIES)


def test_threshold_judge_explains_with_values() -> None:
    v = ThresholdJudge(name="error_ratio", max_value=0.05, max_ratio=2, min_increase=0.01).judge(
        [0.01], [0.02]
    )
    assert v.passed and "0.02 <= max 0.05" in v.reason and "within 2 x baseline 0.01" in v.reason
    v = ThresholdJudge(name="error_ratio", max_value=0.05, max_ratio=2, min_increase=0.01).judge(
        [0.01], [0.04]
    )
    assert not v.passed and "0.04 > 2 x baseline 0.01" in v.reason


async def test_engine_context_counts_gate_verdicts(engine: Engine) -> None:
    registry = CollectorRegistry()
    fake = Platform("guid-bad")
    calls = CallSettings(0, 0.0, False, asyncio.Event(), None, Context(fake, engine).query_range)
    ctx = EngineContext(
        fake,
        Context(fake, engine).request,
        event=lambda k, d: None,
        metrics=RemediationMetrics(registry),
        calls=calls,
    )
    p = BlueGreenParams(type="blue_green", gates="cloudfoundry", steps=[10], step_duration=0.01)
    assert not (await _action().run(ctx, Target("guid-bad"), p)).ok

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    assert value("paramedic_remediation_canary_steps_total", verdict="cancel") == 1.0
    assert value("paramedic_remediation_gate_evaluations_total", gate="error_ratio", result="fail") == 1.0
    assert value("paramedic_remediation_gate_evaluations_total", gate="p95_latency_s", result="pass") == 1.0


async def test_canary_revision_comes_from_the_alert_label(engine: Engine) -> None:
    fake = Platform("guid-good")
    ctx = Context(fake, engine)
    ctx.request = replace(
        ctx.request, params={}, trigger={"alert": {"alertname": "CFAppCanaryRequested", "revision": NEW}}
    )
    p = BlueGreenParams(type="blue_green", gates="cloudfoundry", steps=[100])
    result = await _action().run(ctx, Target("guid-good"), p)
    assert result.ok and result.data["revision"] == NEW


def test_the_preset_reads_what_the_log_cache_poller_stores() -> None:
    """The gate preset's series are exactly the per-app queries of the KPI catalogue (the poller's input)."""
    polled = {q.name: q.expr for q in load_catalogue().app_queries if q.name}
    assert {name: polled.get(name) for name in CF_STORED_SERIES} == dict(CF_STORED_SERIES)
