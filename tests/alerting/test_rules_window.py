"""The recent window as the server wires it: rules evaluated through it record exactly what the store gives
(staleness markers, counter resets, out-of-order and duplicate appends, ranges longer than the retention
falling back to the store), its memory stays bounded, and a real collector feeds it."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from alerting.config import RecentWindowConfig, RulesConfig
from alerting.rules._window import RecentWindow
from collector.config import CollectorConfig, StaticJob
from collector.manager import ScrapeManager
from metrics_store.memory import MemoryStore
from metrics_store.model import (
    METRIC_NAME,
    STALE_NAN,
    Labels,
    Matcher,
    MatchOp,
    SeriesData,
    is_stale_nan,
    labels_from,
)
from metrics_store.promql import Engine, Vector
from paramedic.alerting import AlertingService
from tests.collector.exporters import Exporter
from tests.collector.helpers import eventually

T0_S = 1_700_000_000
STEP_MS = 15_000
RETENTION_S = 360.0  # the smallest allowed: 5m lookback + 1m

EXPRS = [
    "g",
    "g > 0.5",
    "sum by (app) (g)",
    "max by (app) (g)",
    "avg_over_time(g[5m])",
    "max_over_time(g[1m])",
    "min_over_time(g[5m])",
    "count_over_time(g[5m])",
    "last_over_time(g[5m])",
    "rate(c_total[5m])",
    "increase(c_total[2m])",
    "sum by (app) (rate(c_total[5m]))",
    "rate(c_total[1m])",
    "resets(c_total[5m])",
    "rate(c_total[20m])",  # longer than the retention: the store
    "g offset 10m",  # before the window: the store
    "avg_over_time(g[30m])",
    "g * on (app, instance) group_left c_total",
    "count({__name__=~'g|c_total', app='a1'})",  # no name: the store
    "up == 0",
    "absent(nothing)",
]


class SpyStore(MemoryStore):
    """Records which metric names are read from the store."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[str] = []

    def select(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> list[SeriesData]:
        name = next((m.value for m in matchers if m.name == METRIC_NAME and m.op is MatchOp.EQ), "")
        self.reads.append(name)
        return super().select(matchers, start_ms, end_ms)


def _rules(tmp_path: Path) -> Path:
    lines = ["groups:", "  - name: eq", "    interval: 15s", "    rules:"]
    for i, expr in enumerate(EXPRS):
        lines += [f"      - record: rec_{i}", f'        expr: "{expr}"']
    path = tmp_path / "rules.yml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _service(tmp_path: Path, store: MemoryStore, clock: list[float], enabled: bool = True) -> AlertingService:
    cfg = RulesConfig(
        files=[str(_rules(tmp_path))],
        recent_window=RecentWindowConfig(enabled=enabled, retention_s=RETENTION_S),
    )
    return AlertingService(
        cfg,
        None,
        base_dir=tmp_path,
        store=store,
        patterns=None,
        server_url="http://127.0.0.1:9300",
        registry=CollectorRegistry(),
        clock=lambda: clock[0],
    )


def _feed(svc: AlertingService, minutes: int) -> None:
    """Gauges and counters of 3 apps x 4 instances every 15 s through the service's appender, with a
    counter reset, a series going stale (and back), out-of-order and duplicate appends, and ``up``."""
    app = svc.appender
    rng = np.random.default_rng(3)

    def ref(name: str, a: int, i: int) -> int:
        return app.series_ref(labels_from({"__name__": name, "app": f"a{a}", "instance": f"i{i}"}))

    g = [ref("g", a, i) for a in range(3) for i in range(4)]
    c = [ref("c_total", a, i) for a in range(3) for i in range(4)]
    up = [ref("up", a, 0) for a in range(3)]
    level = np.zeros(len(c))
    n = minutes * 60_000 // STEP_MS
    for k in range(n):
        ts = T0_S * 1000 + k * STEP_MS
        level += rng.integers(0, 5, len(c))
        if k == n - 6:
            level[1] = 0.0  # counter reset
        vals_g = rng.random(len(g))
        refs, tss, vals = [*g, *c], [ts] * (2 * len(g)), [*vals_g.tolist(), *level.tolist()]
        if n - 10 <= k < n - 3:  # series g[2] gone: one staleness marker, then nothing, then back
            j = refs.index(g[2])
            vals[j] = STALE_NAN if k == n - 10 else math.nan
            if k > n - 10:
                del refs[j], tss[j], vals[j]
        app.append(refs, tss, vals)
        app.append(up, [ts] * 3, [1.0, 0.0 if k > n - 4 else 1.0, 1.0])
        if k % 7 == 3:  # a late sample between the last two, and a rewrite of the last one
            app.append([g[5]], [ts - STEP_MS // 2], [0.25])
            app.append([g[6], c[7]], [ts, ts], [0.75, float(level[7] + 1)])
            level[7] += 1


def _recorded(store: MemoryStore, i: int) -> tuple[int, dict[Labels, float]]:
    got = store.select([Matcher(METRIC_NAME, MatchOp.EQ, f"rec_{i}")], 0, 2**62)
    last_ts = max((int(s.timestamps_ms[-1]) for s in got), default=-1)
    out = {  # without the staleness markers of series the previous cycle recorded and this one did not
        s.labels: float(s.values[-1])
        for s in got
        if len(s.timestamps_ms) and s.timestamps_ms[-1] == last_ts and not is_stale_nan(float(s.values[-1]))
    }
    return last_ts, {tuple(p for p in lb if p[0] != METRIC_NAME): v for lb, v in out.items()}


def _expected(store: MemoryStore, expr: str, ts: int) -> dict[Labels, float]:
    got = Engine(store, registry=CollectorRegistry()).instant_query(expr, ts)
    assert isinstance(got, Vector)
    return {tuple(p for p in s.labels if p[0] != METRIC_NAME): s.value for s in got.samples}


def _same(a: dict[Labels, float], b: dict[Labels, float]) -> bool:
    return a.keys() == b.keys() and all(
        (math.isnan(a[k]) and math.isnan(b[k])) or math.isclose(a[k], b[k], rel_tol=1e-9, abs_tol=1e-12)
        for k in a
    )


@pytest.mark.parametrize("minutes", [30, 4])  # 4: the window is younger than the lookback: the store
def test_rules_through_the_window_record_what_the_store_gives(tmp_path: Path, minutes: int) -> None:
    store, clock = SpyStore(), [float(T0_S)]
    svc = _service(tmp_path, store, clock)
    assert svc.window is not None and svc.rules is not None
    _feed(svc, minutes)
    for cycle in range(3):  # consecutive cycles: caches and compaction between appends
        clock[0] = T0_S + minutes * 60 - 30 + 15 * cycle
        store.reads.clear()
        svc.rules.eval_due()
        reads = list(store.reads)
        at = round(clock[0] * 1000) - round(clock[0] * 1000) % STEP_MS
        for i, expr in enumerate(EXPRS):
            ts, got = _recorded(store, i)
            got = got if ts == at else {}  # an empty result records nothing
            assert _same(got, _expected(store, expr, at)), f"{expr}: {got}"
            assert got or minutes == 4 or expr == "absent(nothing)", expr
        if minutes == 30:
            assert reads.count("g") <= 2  # only `g offset 10m` and `[30m]`: 10 more from the window
            assert "c_total" in store.reads  # rate(c_total[20m]) reaches past the retention
        _feed_one_more(svc, clock[0])


def _feed_one_more(svc: AlertingService, now_s: float) -> None:
    """One more scrape between cycles (one series out of order)."""
    app = svc.appender
    ts = round(now_s * 1000)
    refs = [
        app.series_ref(labels_from({"__name__": "g", "app": "a0", "instance": f"i{i}"})) for i in range(4)
    ]
    app.append(refs[::-1], [ts, ts, ts - 1000, ts], [0.1, 0.2, 0.3, 0.4])


def test_offset_and_long_ranges_are_read_from_the_store(tmp_path: Path) -> None:
    store, clock = SpyStore(), [float(T0_S)]
    svc = _service(tmp_path, store, clock)
    _feed(svc, 30)
    assert svc.window is not None
    end = (T0_S + 30 * 60) * 1000
    assert not svc.window.covers(end - 20 * 60_000)
    assert svc.window.covers(end - 5 * 60_000 - STEP_MS)


def test_window_disabled_keeps_the_store_path(tmp_path: Path) -> None:
    store, clock = SpyStore(), [float(T0_S + 1800)]
    svc = _service(tmp_path, store, clock, enabled=False)
    assert svc.window is None and svc.appender is store
    _feed(svc, 30)
    assert svc.rules is not None
    svc.rules.eval_due()
    assert "g" in store.reads


def test_eviction_bounds_memory_and_drops_absent_series() -> None:
    window = RecentWindow(6 * 60_000, started_ms=0)
    refs = [window.series_ref(labels_from({"__name__": f"m{i % 10}", "i": str(i)})) for i in range(1000)]
    per_series = 6 * 60_000 // STEP_MS + 1
    for k in range(240):  # an hour: the first half with every series, then half of them gone
        live = refs if k < 120 else refs[::2]
        window.append(live, [k * STEP_MS] * len(live), [float(k)] * len(live))
        held = window.samples()
        assert held <= len(refs) * (per_series + 65 + 6 * 60_000 // 4 // STEP_MS), (k, held)
    assert window.live_series() == 500
    assert window.samples() <= 500 * (per_series + 65)
    got = window.select([Matcher(METRIC_NAME, MatchOp.EQ, "m4")], 0, 2**62)
    assert len(got) == 100 and all(len(s.timestamps_ms) == per_series for s in got)
    window.append([refs[1]], [240 * STEP_MS], [7.0])  # a dropped series comes back
    assert window.live_series() == 501
    back = window.select([Matcher(METRIC_NAME, MatchOp.EQ, "m1")], 230 * STEP_MS, 2**62)
    assert [s.values.tolist() for s in back if s.labels == window._ref_labels[refs[1]]] == [[7.0]]


def test_duplicates_keep_the_last_write_and_stale_markers_survive() -> None:
    window, store = RecentWindow(started_ms=0), MemoryStore()
    for target in (window, store):
        r = target.series_ref(labels_from({"__name__": "x"}))
        target.append([r, r, r], [2000, 1000, 3000], [2.0, 1.0, STALE_NAN])
        target.append([r, r], [2000, 1000], [20.0, 10.0])
    m = [Matcher(METRIC_NAME, MatchOp.EQ, "x")]
    (w,), (s,) = window.select(m, 0, 5000), store.select(m, 0, 5000)
    assert w.timestamps_ms.tolist() == s.timestamps_ms.tolist() == [1000, 2000, 3000]
    assert w.values[:2].tolist() == s.values[:2].tolist() == [10.0, 20.0]
    assert w.values.view(np.uint64)[2] == s.values.view(np.uint64)[2]


async def test_served_rules_evaluate_through_the_window(tmp_path: Path) -> None:
    """A real collector scrapes a local target through the service's appender; the rule reads the window."""
    (tmp_path / "r.yml").write_text(
        "groups:\n  - name: g\n    rules:\n      - alert: Hot\n        expr: temp_celsius > 50\n"
    )
    store = SpyStore()
    started = [time.time() - 600]  # the window started 10 minutes ago: its lookback is inside it

    def clock() -> float:
        now, started[0] = started[0], time.time()
        return now

    sent: list[str] = []

    class Sink:
        def put(self, alerts: Sequence[object]) -> None:
            sent.extend(str(getattr(a, "labels", {}).get("alertname")) for a in alerts)

    svc = AlertingService(
        RulesConfig(files=["r.yml"]),
        None,
        base_dir=tmp_path,
        store=store,
        patterns=None,
        server_url="http://127.0.0.1:9300",
        registry=CollectorRegistry(),
        clock=clock,
    )
    assert svc.window is not None
    svc.sink.subscribe(Sink())
    with Exporter() as ex:
        ex.set_body("# TYPE temp_celsius gauge\ntemp_celsius 70\n")
        cfg = CollectorConfig(
            interval_s=0.5,
            timeout_s=0.4,
            jobs=[StaticJob.model_validate({"name": "node", "targets": [ex.address]})],
        )
        scraper = ScrapeManager(
            cfg, svc.appender, None, registry=CollectorRegistry(), on_commit=svc.on_commit
        )
        await svc.start()
        await scraper.start()
        try:
            await eventually(lambda: "Hot" in sent, 10, "Hot sent")
        finally:
            await scraper.stop()
            await svc.stop()
    assert svc.window.has_name("temp_celsius") and svc.window.has_name("up")
    # the start-up evaluation ran before the first scrape (the name unknown to the window): the store;
    # every evaluation on arrival after it read the window
    assert store.reads.count("temp_celsius") <= 1
