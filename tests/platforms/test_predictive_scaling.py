"""Issue 15: on the real local platform (HAProxy, supervisord cells, the sample app), a daily load in
compressed time (a day every 48 s: two seconds an hour) and a predictive policy in the live engine. The two
days before were written into the store beforehand; today is lived: the load generator sends the day curve
through the router and the router's own request counter is the measured load, sampled every second.

The policy (hybrid, 5 req/s per instance at 80 %: a second instance above 4 req/s, forecast 6 s = three
hours ahead) must scale out through supervisord *before* the load rise: the night (2 req/s) ends at 06:00
and the load passes 4 req/s at about 06:26. The reactive rule would first ask for a second instance when the
measured load passes 4 req/s, which the test observes afterwards: the predictive action started earlier.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry

from metrics_store.memory import MemoryStore
from metrics_store.model import labels_from
from platforms.local.loadgen import AppLoad, daily_rate
from remediation.audit import MemoryAuditLog
from remediation.config import GlobalRails, Policy
from remediation.engine import RemediationEngine
from remediation.predictive.live import PredictiveScaler
from remediation.predictive.live_history import StoreLoadHistory
from tests.platforms.conftest import RunningPlatform, running_platform

pytestmark = pytest.mark.integration

APP = "shop"
DAY_S, PEAK, START_PHASE_S = 48.0, 20.0, 4.0  # the test starts at 02:00 of a compressed day
THRESHOLD = 4.0  # req/s one instance serves at target utilisation (5 x 0.8)


class RouterLoad:
    """The router's request rate for ``APP``, sampled every second into the store (time, req/s)."""

    def __init__(self, platform: RunningPlatform, store: MemoryStore) -> None:
        self._platform = platform
        self._store = store
        self._ref = store.series_ref(labels_from({"__name__": "router_rps", "app": APP}))
        self.measured: list[tuple[float, float]] = []
        self.stop = threading.Event()

    def _count(self) -> float:
        samples = self._platform.router_samples("haproxy_backend_http_requests_total")
        return sum(v for labels, v in samples if labels.get("proxy") == APP)

    def run(self) -> None:
        last_t, last_n = time.time(), self._count()
        while not self.stop.wait(1.0 - time.time() % 1.0):  # pacing the sampler on whole seconds
            t, n = time.time(), self._count()
            rate = (n - last_n) / max(t - last_t, 1e-3)
            second = float(int(t))
            self._store.append([self._ref], [int(second * 1000)], [rate])
            self.measured.append((second, rate))
            last_t, last_n = t, n


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    with running_platform(tmp_path_factory.mktemp("predictive"), {APP: 1}) as running:
        yield running


def _policy() -> Policy:
    return Policy.model_validate(
        {
            "name": "shop-ahead",
            "mode": "live",
            "action": {"type": "scale", "min_instances": 1, "max_instances": 4},
            "target": {"app": APP},
            "predictive": {
                "query": 'sum(router_rps{app="$app"})',
                "capacity_per_instance": 5,
                "target_utilization": 0.8,
                "startup": "6s",
                "interval": "1s",
                "season": f"{DAY_S:g}s",
                "history": f"{2 * DAY_S:g}s",
                "error_window": 5,
                "max_error": 0.5,
            },
        }
    )


def test_predictive_policy_scales_out_before_the_load_rise(platform: RunningPlatform) -> None:
    t0 = float(int(time.time()))
    offset = START_PHASE_S - t0 % DAY_S  # the day curve's 02:00 is now
    rate = daily_rate(PEAK, DAY_S, offset)
    store = MemoryStore()
    ref = store.series_ref(labels_from({"__name__": "router_rps", "app": APP}))
    past = [t0 - 2 * DAY_S + i for i in range(int(2 * DAY_S))]
    store.append([ref] * len(past), [int(t * 1000) for t in past], [rate(t) for t in past])
    stop = threading.Event()
    load = AppLoad("127.0.0.1", platform.state.router_port, APP, PEAK, stop, rate=rate)
    sampler = RouterLoad(platform, store)
    threads = [
        threading.Thread(target=load.run, daemon=True),
        threading.Thread(target=sampler.run, daemon=True),
    ]
    for th in threads:
        th.start()
    policy = _policy()
    audit = MemoryAuditLog()
    try:
        asyncio.run(_run(policy, platform, store, audit, sampler))
    finally:
        stop.set()
        sampler.stop.set()
        for th in threads:
            th.join(10)
    records = sorted(audit.query(policy="shop-ahead", limit=50), key=lambda r: r.request.created_at)
    assert records, "the predictive policy never asked to scale"
    first = records[0]
    kinds = {e.kind: e.at.timestamp() for e in first.events}
    assert first.status == "verified", [e.kind for e in first.events]
    why = first.request.trigger["predictive"]
    assert why["basis"] == "hybrid" and why["instances"] >= 2 and why["reactive"] == 1, why
    assert why["actual"] <= THRESHOLD < why["forecast"], why  # still night now, the forecast is the morning
    reactive_at = next(t for t, v in sampler.measured if v > THRESHOLD)
    print(
        f"predictive scale-out started {kinds['started'] - t0:.1f}s into the test, done at "
        f"{kinds['succeeded'] - t0:.1f}s; the measured load passed {THRESHOLD:g} req/s (reactive) at "
        f"{reactive_at - t0:.1f}s"
    )
    assert kinds["started"] < reactive_at
    assert kinds["succeeded"] <= reactive_at + 1.0  # the instance was up by the time the load rose
    assert len(platform.platform.app_instances(APP)) >= 2


async def _run(
    policy: Policy, platform: RunningPlatform, store: MemoryStore, audit: MemoryAuditLog, sampler: RouterLoad
) -> None:
    engine = RemediationEngine(
        [policy],
        platform.platform,
        audit,
        global_rails=GlobalRails(cooldown=0),
        registry=CollectorRegistry(),
        backoff_s=0.05,
    )
    scaler = PredictiveScaler(
        [policy],
        engine.submit,
        StoreLoadHistory(store),
        lambda app: len(platform.platform.app_instances(app)),
        registry=CollectorRegistry(),
    )
    await engine.start()
    await scaler.start()
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:  # until the measured load passed the threshold (the rise)
            if any(v > THRESHOLD for _, v in sampler.measured) and not engine._tasks:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError(f"the load never rose: {sampler.measured[-5:]}")
    finally:
        await scaler.stop()
        await engine.drain(10)
        await engine.stop()
