"""Paramedic rule kinds and the Go-template subset."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from pydantic import BaseModel

from alerting.rules import AlertState, RuleManager, RuleOptions, Template, TemplateError
from alerting.rules._kind_params import AnomalyParams
from alerting.rules._kinds import AnomalyEval, compile_rule
from alerting.rules._load import RuleSpec
from alerting.rules._template import QueryResult
from alerting.rules.errors import RuleEvalError
from metrics_store.memory import MemoryStore
from metrics_store.model import labels_from
from metrics_store.promql import Engine
from metrics_store.promql.values import Sample, Vector


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def _manager(tmp_path: Path, rules: str, detectors: dict[str, Callable[[], object]] | None = None):  # type: ignore[no-untyped-def]
    path = tmp_path / "r.yml"
    path.write_text(rules)
    store, clock = MemoryStore(), Clock()
    reg = CollectorRegistry()
    mgr = RuleManager([str(path)], Engine(store, registry=reg), store, None, clock, reg,
                      options=RuleOptions(detectors=detectors))  # type: ignore[arg-type]  # fmt: skip
    return mgr, store, clock


def _series(store: MemoryStore, labels: dict[str, str], points: dict[int, float]) -> None:
    ref = store.series_ref(labels_from(labels))
    store.append([ref] * len(points), [t * 1000 for t in points], list(points.values()))


def _states(mgr: RuleManager, clock: Clock, times: range, rule: int = 0) -> list[str]:
    out = []
    for t in times:
        clock.now = t
        mgr.eval_due()
        ar = mgr.groups[0].alerting_rules()[rule]
        out.append(",".join(sorted(a.state.value for a in ar.active.values())) or "-")
    return out


def _group(rules: str) -> str:
    return "groups:\n  - name: k\n    interval: 60s\n    rules:\n" + rules


def test_threshold_with_hysteresis(tmp_path: Path) -> None:
    mgr, store, clock = _manager(tmp_path, _group("""
      - alert: Hot
        kind: threshold
        expr: temp
        params: {op: ">", fire: 80, resolve: 60}
        annotations: {summary: '{{ $value }} (fire {{ $why.threshold }}, resolve {{ $why.resolve_level }})'}
"""))  # fmt: skip
    vals = [50, 85, 70, 65, 61, 59, 70, 81]
    _series(store, {"__name__": "temp"}, {i * 60: float(v) for i, v in enumerate(vals)})
    got = _states(mgr, clock, range(0, 8 * 60, 60))
    assert got == ["-", "firing", "firing", "firing", "firing", "inactive", "inactive", "firing"]
    (a,) = [a for a in mgr.groups[0].alerting_rules()[0].active.values()]
    assert a.annotations["summary"] == "81 (fire > 80, resolve 60)"
    assert a.annotations["resolve_level"] == "60"


def test_rate_of_change(tmp_path: Path) -> None:
    mgr, store, clock = _manager(tmp_path, _group("""
      - alert: Climbing
        kind: rate_of_change
        expr: queue_depth
        params: {window: 5m, step: 1m, op: ">", threshold: 0.5}
"""))  # fmt: skip
    _series(
        store,
        {"__name__": "queue_depth", "q": "a"},
        {i * 60: 10.0 for i in range(10)} | {i * 60: 10.0 + (i - 9) * 60 for i in range(10, 20)},
    )
    got = _states(mgr, clock, range(0, 20 * 60, 60))
    assert got[:10] == ["-"] * 10
    assert got[-1] == "firing"
    (a,) = mgr.groups[0].alerting_rules()[0].active.values()
    assert a.labels == {"alertname": "Climbing", "q": "a"}
    assert a.annotations["window"] == "5m"


def test_acceleration_m_of_n_ignores_one_noisy_point(tmp_path: Path) -> None:
    mgr, store, clock = _manager(tmp_path, _group("""
      - alert: Accelerating
        kind: acceleration
        expr: errors
        params: {window: 4m, step: 1m, op: ">", threshold: 0.001, m: 3, n: 4}
"""))  # fmt: skip
    flat = {i * 60: 0.0 for i in range(12)}
    flat[6 * 60] = 5.0  # one spike
    quad = {(12 + i) * 60: 0.5 * (i * 60.0) ** 2 * 0.01 for i in range(12)}
    _series(store, {"__name__": "errors"}, flat | quad)
    got = _states(mgr, clock, range(0, 24 * 60, 60))
    assert "firing" not in got[:12]  # the spike curves the fit for < 3 of 4 evaluations
    assert got[-1] == "firing"
    (a,) = mgr.groups[0].alerting_rules()[0].active.values()
    assert math.isclose(a.value, 0.01, rel_tol=1e-6)
    assert "of last 4" in a.annotations["debounce"]


def test_absence_deadman(tmp_path: Path) -> None:
    mgr, store, clock = _manager(tmp_path, _group("""
      - alert: Gone
        kind: absence
        expr: heartbeat
        params: {after: 3m, forget: 10m}
"""))  # fmt: skip
    _series(store, {"__name__": "heartbeat", "job": "x"}, {i * 60: 1.0 for i in range(3)})
    got = _states(mgr, clock, range(0, 20 * 60, 60))
    # last sample at 2m is visible for the 5m lookback, left-open in Prometheus 3 (at 6m, not 7m); absent
    # 3m later = 9m; forgotten at 16m (2.42's closed lookback: each a minute later)
    assert got[8] == "-" and got[9] == "firing" and got[15] == "firing" and got[16] == "inactive"


def test_absence_when_nothing_ever_matched(tmp_path: Path) -> None:
    mgr, _, clock = _manager(tmp_path, _group("""
      - alert: NeverSeen
        kind: absence
        expr: heartbeat
        params: {after: 2m}
"""))  # fmt: skip
    assert _states(mgr, clock, range(0, 4 * 60, 60)) == ["-", "-", "firing", "firing"]


@pytest.mark.parametrize("method", ["linear", "holt_winters"])
def test_forecast_time_to_exhaustion(tmp_path: Path, method: str) -> None:
    mgr, store, clock = _manager(tmp_path, _group(f"""
      - alert: FillsUp
        kind: forecast
        expr: free_bytes
        params: {{window: 10m, step: 1m, method: {method}, exhaustion: 0, within: 1h}}
"""))  # fmt: skip
    # 10000 free, -100/min until 20m; then -1/min: exhaustion in 100 min -> not within 1h... then fast again
    pts = {i * 60: 10000.0 - 100 * i for i in range(21)}
    pts |= {(20 + i) * 60: 8000.0 - 1 * i for i in range(1, 40)}
    _series(store, {"__name__": "free_bytes", "host": "h"}, pts)
    got = _states(mgr, clock, range(0, 60 * 60, 60))
    assert got[15] == "-"  # 8500 left at -100/min: 85 min > 1h
    assert got[20] == "-"
    assert got[-1] == "-"
    clock.now = 0
    mgr2, store2, clock2 = _manager(tmp_path, _group(f"""
      - alert: FillsUp
        kind: forecast
        expr: free_bytes
        params: {{window: 10m, step: 1m, method: {method}, exhaustion: 0, within: 1h}}
"""))  # fmt: skip
    _series(store2, {"__name__": "free_bytes", "host": "h"}, {i * 60: 5000.0 - 100 * i for i in range(30)})
    got2 = _states(mgr2, clock2, range(0, 30 * 60, 60))
    assert got2[-1] == "firing"  # 2100 left at -100/min: 21 min
    (a,) = mgr2.groups[0].alerting_rules()[0].active.values()
    assert 19 * 60 < a.value < 23 * 60
    assert a.annotations["method"] == method


class ZDetector:
    """A tiny z-score detector with the learn_one/score_one Protocol (warm-up returns 0)."""

    def __init__(self) -> None:
        self.xs: list[float] = []
        self.times: list[datetime] = []

    def learn_one(self, x: float, t: datetime) -> None:
        self.xs.append(x)
        self.times.append(t)

    def score_one(self, x: float, t: datetime) -> float:
        if len(self.xs) < 5:
            return 0.0
        mean = sum(self.xs) / len(self.xs)
        sd = (sum((v - mean) ** 2 for v in self.xs) / len(self.xs)) ** 0.5 or 1.0
        return min(1.0, abs(x - mean) / sd / 10)


def test_anomaly_calls_a_per_series_detector(tmp_path: Path) -> None:
    made: list[ZDetector] = []

    def make() -> ZDetector:
        made.append(ZDetector())
        return made[-1]

    mgr, store, clock = _manager(tmp_path, _group("""
      - alert: Weird
        kind: anomaly
        expr: latency
        params: {detector: z, threshold: 0.9}
"""), detectors={"z": make})  # fmt: skip
    _series(
        store,
        {"__name__": "latency", "app": "a"},
        {i * 60: 1.0 + 0.01 * (i % 3) for i in range(10)} | {600: 50.0},
    )
    _series(store, {"__name__": "latency", "app": "b"}, {i * 60: 2.0 + 0.01 * (i % 3) for i in range(11)})
    got = _states(mgr, clock, range(0, 11 * 60, 60))
    assert got[:10] == ["-"] * 10 and got[10] == "firing"
    (a,) = mgr.groups[0].alerting_rules()[0].active.values()
    assert a.labels["app"] == "a" and a.annotations["detector"] == "z"
    # each detector is fed the sample's (evaluation) time, not the wall clock
    assert len(made) == 2
    assert made[0].times == [datetime.fromtimestamp(i * 60, UTC) for i in range(11)]


PATTERN_RULES = """
      - alert: NewPattern
        kind: log_pattern
        params: {mode: new, window: 10m, baseline: 1h}
      - alert: PatternRising
        kind: log_pattern
        params: {mode: rising, window: 5m, baseline: 30m, factor: 3, min_rate: 0.01}
"""


def test_log_pattern_new_and_rising(tmp_path: Path) -> None:
    mgr, store, clock = _manager(tmp_path, _group(PATTERN_RULES))  # fmt: skip
    name = "paramedic_log_pattern_messages_total"
    _series(store, {"__name__": name, "app": "a", "pattern_id": "p1"},
            {i * 60: float(i) for i in range(74)}
            | {i * 60: 74.0 + 10 * (i - 74) for i in range(74, 80)})  # fmt: skip
    _series(
        store,
        {"__name__": name, "app": "a", "pattern_id": "p2"},
        {i * 60: float(i - 70) for i in range(70, 80)},
    )
    for t in range(0, 80 * 60, 60):
        clock.now = t
        mgr.eval_due()
    new, rising = mgr.groups[0].alerting_rules()
    assert [a.labels["pattern_id"] for a in new.firing()] == ["p2"]
    assert [a.labels["pattern_id"] for a in rising.firing()] == ["p1"]


def test_composite_and_or_not(tmp_path: Path) -> None:
    mgr, store, clock = _manager(tmp_path, _group("""
      - alert: Errors
        expr: errors > 0
      - alert: Down
        expr: up == 0
      - alert: Maintenance
        expr: maintenance == 1
      - alert: Degraded
        kind: composite
        params: {all: [Errors], any: [Down], none: [Maintenance], by: [app]}
"""))  # fmt: skip
    _series(store, {"__name__": "errors", "app": "a"}, {0: 1.0})
    _series(store, {"__name__": "errors", "app": "b"}, {0: 1.0})
    _series(store, {"__name__": "up", "app": "a", "instance": "1"}, {0: 0.0})
    _series(store, {"__name__": "up", "app": "b", "instance": "1"}, {0: 0.0})
    _series(store, {"__name__": "maintenance", "app": "b"}, {0: 1.0})
    clock.now = 0
    mgr.eval_due()
    deg = mgr.groups[0].alerting_rules()[3]
    assert [a.labels for a in deg.firing()] == [{"alertname": "Degraded", "app": "a"}]
    assert next(iter(deg.active.values())).state is AlertState.FIRING


GO = {"instance": "h:9100", "job": "node"}


@pytest.mark.parametrize(
    ("text", "value", "want"),
    [
        ("{{ $value }}", 1e6, "1e+06"),
        ("{{ $value }}", 123456.5, "123456.5"),
        ("{{ .Value | humanize }}", 0.000123, "123u"),
        ("{{ humanize1024 1073741824.0 }}", 0, "1Gi"),
        ("{{ humanizeDuration 90061 }}", 0, "1d 1h 1m 1s"),
        ("{{ humanizeDuration 0.25 }}", 0, "250ms"),
        ("{{ humanizePercentage 0.0512 }}", 0, "5.12%"),
        ("{{ .Labels.instance | stripPort }}", 0, "h"),
        (
            "{{ if and (gt $value 1.0) (lt $value 3.0) }}in"
            "{{ else if eq $value 5.0 }}five{{ else }}out{{ end }}",
            5,
            "five",
        ),
        ("{{ range $k, $v := $labels }}{{ end }}", 0, None),
        ('{{ template "x" }}', 0, None),
        ('{{ $labels.job | toUpper | printf "%s!" }}', 0, "NODE!"),
        ('{{ reReplaceAll "(.*):(.*)" "$2" $labels.instance }}', 0, "9100"),
        ('{{ match "^h" $labels.instance }}', 0, "true"),
        ('{{/* comment */}}x  {{- " y" }}', 0, "x y"),
        ('{{ index $labels "job" }}', 0, "node"),
    ],
)
def test_template_subset(text: str, value: float, want: str | None) -> None:
    if want is None:
        with pytest.raises(TemplateError):
            Template(text).expand(GO, value)
        return
    assert Template(text).expand(GO, float(value)) == want


def test_template_query_function() -> None:
    def query(q: str) -> list[QueryResult]:
        return [QueryResult({"instance": "x"}, 42.0)]

    t = Template(
        '{{ with query "up" }}{{ . | first | value }} on {{ . | first | label "instance" }}{{ end }}'
    )
    assert t.expand({}, 0.0, query=query) == "42 on x"


def test_a_kind_without_an_evaluator_is_an_error_not_plain_promql() -> None:
    class NewKindParams(BaseModel):
        window: str = "5m"

    spec = RuleSpec("NewKind", record=False, expr="up == 0", kind="new_kind", params=NewKindParams())
    with pytest.raises(RuleEvalError, match="no evaluator for kind 'new_kind'"):
        compile_rule(spec, lookup=lambda name: None, detectors={})


def test_log_pattern_across_replicas(tmp_path: Path) -> None:
    """In a cluster each replica counts its own lines (``replica`` label): a pattern that only moves from one
    replica to another is not new, and a rise is judged on the sum over the replicas."""
    mgr, store, clock = _manager(tmp_path, _group(PATTERN_RULES))  # fmt: skip
    name = "paramedic_log_pattern_messages_total"
    moved = {"__name__": name, "app": "a", "pattern_id": "moved"}
    _series(store, moved | {"replica": "r1"}, {i * 60: float(i) for i in range(0, 70)})
    _series(store, moved | {"replica": "r2"}, {i * 60: float(i - 70) for i in range(70, 80)})
    fresh = {"__name__": name, "app": "a", "pattern_id": "fresh"}
    _series(store, fresh | {"replica": "r2"}, {i * 60: float(i - 70) for i in range(70, 80)})
    # "split": steady 1/min in all on two replicas, then 10/min on r1 only -> rising on the sum
    split = {"__name__": name, "app": "a", "pattern_id": "split"}
    _series(store, split | {"replica": "r1"},
            {i * 60: float(i // 2) for i in range(74)}
            | {i * 60: 37.0 + 10 * (i - 74) for i in range(74, 80)})  # fmt: skip
    _series(store, split | {"replica": "r2"}, {i * 60: float(i // 2) for i in range(80)})
    for t in range(0, 80 * 60, 60):
        clock.now = t
        mgr.eval_due()
    new, rising = mgr.groups[0].alerting_rules()
    assert [a.labels["pattern_id"] for a in new.firing()] == ["fresh"]
    assert "replica" not in new.firing()[0].labels
    assert [a.labels["pattern_id"] for a in rising.firing()] == ["split"]


def _anomaly_eval(made: list[ZDetector], **params: object) -> AnomalyEval:
    def make() -> ZDetector:
        made.append(ZDetector())
        return made[-1]

    return AnomalyEval("x", AnomalyParams(detector="z", **params), make)  # type: ignore[arg-type]


def _vector_of(apps: list[str]) -> Callable[[str, int], Vector]:
    def query(_expr: str, ts_ms: int) -> Vector:
        return Vector(tuple(Sample(labels_from({"app": a}), ts_ms, 1.0) for a in apps))

    return query


def test_anomaly_refuses_a_selection_above_max_series_before_making_detectors() -> None:
    made: list[ZDetector] = []
    ev = _anomaly_eval(made, max_series=3)
    ev.evaluate(_vector_of(["a", "b", "c"]), 0)
    with pytest.raises(RuleEvalError, match="4 series, above max_series 3"):
        ev.evaluate(_vector_of(["a", "b", "c", "d"]), 60_000)
    assert len(made) == 3 and len(ev.detectors) == 3


def test_anomaly_forgets_a_series_unseen_for_forget_and_relearns_it() -> None:
    made: list[ZDetector] = []
    ev = _anomaly_eval(made, forget="5m")
    for i in range(3):
        ev.evaluate(_vector_of(["a", "b"]), i * 60_000)
    for i in range(3, 9):  # b is gone: kept for 5 minutes after it was last seen (at 2 min), then forgotten
        ev.evaluate(_vector_of(["a"]), i * 60_000)
        assert (labels_from({"app": "b"}) in ev.detectors) == (i * 60_000 - 120_000 <= 300_000)
    assert list(ev.detectors) == [labels_from({"app": "a"})]
    ev.evaluate(_vector_of(["a", "b"]), 9 * 60_000)  # back: a fresh detector, the old one's state is gone
    assert len(made) == 3 and ev.detectors[labels_from({"app": "b"})] is made[-1]


def test_anomaly_detectors_stay_within_max_series_when_label_sets_churn() -> None:
    made: list[ZDetector] = []
    ev = _anomaly_eval(made, max_series=4, forget="1d")
    for i in range(50):  # every minute two new instances replace two old ones
        ev.evaluate(_vector_of([f"i{i}", f"j{i}"]), i * 60_000)
        assert len(ev.detectors) <= 4
    assert set(ev.detectors) == {labels_from({"app": a}) for a in ("i48", "j48", "i49", "j49")}
    assert len(made) == 100


def test_anomaly_params_are_validated() -> None:
    with pytest.raises(ValueError, match="forget"):
        AnomalyParams(detector="z", forget="soon")
    with pytest.raises(ValueError, match="max_series"):
        AnomalyParams(detector="z", max_series=0)
