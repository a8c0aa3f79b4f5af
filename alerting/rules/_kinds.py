"""Rule evaluators: each compiles one rule to ``evaluate(query, ts_ms) -> [Activation]`` with its own state;
the activations feed the same :class:`~alerting.rules._alerting.AlertingRule` state machine.

Evaluators are fed a query *function* (``query(expr, ts_ms) -> QueryValue``), never a client, and are not
thread-safe (one group evaluates its rules in order).
"""

from __future__ import annotations

import operator
from collections import deque
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

import numpy as np

from alerting.rules import _kind_params as kp
from alerting.rules._alerting import Activation, AlertingRule
from alerting.rules._duration import format_duration, parse_duration_ms
from alerting.rules._fast import Columns
from alerting.rules._gofmt import go_value, humanize_duration
from alerting.rules._load import RuleSpec
from alerting.rules.errors import RuleEvalError
from metrics_store.model import METRIC_NAME, Labels, labels_from
from metrics_store.promql import Matrix, QueryValue, Scalar, Series, Vector

__all__ = ["Detector", "Evaluator", "QueryFunc", "compile_rule", "query_vector"]

QueryFunc = Callable[[str, int], "QueryValue | Columns"]
_OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}
PATTERN_COUNTER = "paramedic_log_pattern_messages_total"


@runtime_checkable
class Detector(Protocol):
    """A streaming anomaly detector (house style rule 11): higher score = more anomalous, in [0, 1].

    ``t`` is the sample's time (the evaluation timestamp of the instant query that produced ``x``, never the
    wall clock), so seasonal baselines line up with the data and replays are deterministic;
    :func:`alerting.anomaly.default_detector` has exactly this signature."""

    def learn_one(self, x: float, t: datetime) -> None: ...

    def score_one(self, x: float, t: datetime) -> float: ...


class Evaluator(Protocol):
    def evaluate(self, query: QueryFunc, ts_ms: int) -> list[Activation]: ...


def query_vector(query: QueryFunc, expr: str, ts_ms: int) -> list[tuple[Labels, float]]:
    """Prometheus' ``EngineQueryFunc``: a vector as is, a scalar as one sample without labels."""
    res = query(expr, ts_ms)
    if isinstance(res, Columns):
        return list(zip(res.labels, res.values.tolist(), strict=True))
    if isinstance(res, Vector):
        return [(s.labels, s.value) for s in res.samples]
    if isinstance(res, Scalar):
        return [((), res.value)]
    raise RuleEvalError("rule result is not a vector or scalar")


def _matrix(query: QueryFunc, expr: str, window: str, step: str, ts_ms: int) -> list[Series]:
    res = query(f"({expr})[{window}:{step}]", ts_ms)
    if not isinstance(res, Matrix):
        raise RuleEvalError(f"expected a range of {expr}")
    return list(res.series)


def _drop_name(labels: Labels) -> Labels:
    return tuple(p for p in labels if p[0] != METRIC_NAME)


class PromQLEval:
    def __init__(self, expr: str) -> None:
        self.expr = expr

    def evaluate(self, query: QueryFunc, ts_ms: int) -> list[Activation]:
        return [Activation(lbl, v) for lbl, v in query_vector(query, self.expr, ts_ms)]


class ThresholdEval:
    """Fires when ``value op fire``; stays active while ``value op resolve`` (hysteresis)."""

    def __init__(self, expr: str, p: kp.ThresholdParams) -> None:
        self.expr, self.p = expr, p
        self.resolve = p.fire if p.resolve is None else p.resolve
        self.on: set[Labels] = set()

    def evaluate(self, query: QueryFunc, ts_ms: int) -> list[Activation]:
        cmp = _OPS[self.p.op]
        out: list[Activation] = []
        now: set[Labels] = set()
        for lbl, v in query_vector(query, self.expr, ts_ms):
            if cmp(v, self.p.fire) or (lbl in self.on and cmp(v, self.resolve)):
                now.add(lbl)
                why = {
                    "value": go_value(v),
                    "threshold": f"{self.p.op} {go_value(self.p.fire)}",
                    "resolve_level": go_value(self.resolve),
                }
                out.append(Activation(lbl, v, why))
        self.on = now
        return out


def _fit(series: Series, degree: int) -> np.ndarray | None:
    ts = np.asarray(series.timestamps_ms, dtype=np.float64) / 1000.0
    vs = np.asarray(series.values, dtype=np.float64)
    ok = np.isfinite(vs)
    if int(ok.sum()) <= degree:
        return None
    t0 = ts[ok][-1]
    coeffs: np.ndarray = np.polyfit(ts[ok] - t0, vs[ok], degree)
    return coeffs


class RateOfChangeEval:
    """Slope (least squares, per second) of the selection over ``window`` compared with ``threshold``."""

    def __init__(self, expr: str, p: kp.RateOfChangeParams) -> None:
        self.expr, self.p = expr, p

    def evaluate(self, query: QueryFunc, ts_ms: int) -> list[Activation]:
        out = []
        for s in _matrix(query, self.expr, self.p.window, self.p.step, ts_ms):
            c = _fit(s, 1)
            if c is not None and _OPS[self.p.op](float(c[0]), self.p.threshold):
                why = {
                    "rate_per_s": go_value(float(c[0])),
                    "threshold": f"{self.p.op} {self.p.threshold}",
                    "window": self.p.window,
                }
                out.append(Activation(_drop_name(s.labels), float(c[0]), why))
        return out


class AccelerationEval:
    """Second derivative (quadratic least-squares fit over ``window``) compared with ``threshold``; active
    when at least ``m`` of the last ``n`` evaluations crossed it (one noisy point does not fire)."""

    def __init__(self, expr: str, p: kp.AccelerationParams) -> None:
        self.expr, self.p = expr, p
        self.hist: dict[Labels, deque[bool]] = {}

    def evaluate(self, query: QueryFunc, ts_ms: int) -> list[Activation]:
        out = []
        seen: set[Labels] = set()
        for s in _matrix(query, self.expr, self.p.window, self.p.step, ts_ms):
            lbl = _drop_name(s.labels)
            seen.add(lbl)
            c = _fit(s, 2)
            acc = 2.0 * float(c[0]) if c is not None else float("nan")
            h = self.hist.setdefault(lbl, deque(maxlen=self.p.n))
            h.append(c is not None and _OPS[self.p.op](acc, self.p.threshold))
            if sum(h) >= self.p.m:
                why = {
                    "acceleration_per_s2": go_value(acc),
                    "threshold": f"{self.p.op} {self.p.threshold}",
                    "window": self.p.window,
                    "debounce": f"{sum(h)} of last {len(h)} (need {self.p.m})",
                }
                out.append(Activation(lbl, acc, why))
        for gone in set(self.hist) - seen:
            del self.hist[gone]
        return out


class AbsenceEval:
    """Deadman: a series seen before and unseen for ``after`` (until ``forget``); or nothing at all matched
    for ``after`` since the first evaluation (one alert with only the rule labels, like ``absent()``)."""

    def __init__(self, expr: str, p: kp.AbsenceParams) -> None:
        self.expr = expr
        self.after, self.forget = parse_duration_ms(p.after), parse_duration_ms(p.forget)
        self.last_seen: dict[Labels, int] = {}
        self.first_ms: int | None = None
        self.ever_seen = False

    def evaluate(self, query: QueryFunc, ts_ms: int) -> list[Activation]:
        if self.first_ms is None:
            self.first_ms = ts_ms
        rows = query_vector(query, self.expr, ts_ms)
        for lbl, _ in rows:
            self.last_seen[lbl] = ts_ms
            self.ever_seen = True
        out = []
        for lbl, seen in list(self.last_seen.items()):
            gone = ts_ms - seen
            if gone >= self.forget:
                del self.last_seen[lbl]
            elif gone >= self.after:
                why = {
                    "absent_for": humanize_duration(gone / 1000),
                    "after": humanize_duration(self.after / 1000),
                }
                out.append(Activation(lbl, gone / 1000, why))
        if not self.ever_seen and ts_ms - self.first_ms >= self.after:
            gone = ts_ms - self.first_ms
            out.append(Activation((), gone / 1000, {"absent_for": humanize_duration(gone / 1000)}))
        return out


def _holt_trend(vs: np.ndarray, alpha: float, beta: float) -> tuple[float, float]:
    level, trend = float(vs[0]), float(vs[1] - vs[0])
    for x in vs[1:]:
        prev = level
        level = alpha * float(x) + (1 - alpha) * (level + trend)
        trend = beta * (level - prev) + (1 - beta) * trend
    return level, trend


class ForecastEval:
    """Time until the selection reaches ``exhaustion`` (linear fit or Holt's double exponential smoothing —
    the trend part of Holt-Winters — over ``window``); active when sooner than ``within``."""

    def __init__(self, expr: str, p: kp.ForecastParams) -> None:
        self.expr, self.p = expr, p
        self.within_s = parse_duration_ms(p.within) / 1000
        self.step_s = parse_duration_ms(p.step) / 1000

    def _level_slope(self, s: Series) -> tuple[float, float] | None:
        if self.p.method == "linear":
            c = _fit(s, 1)
            return None if c is None else (float(c[1]), float(c[0]))
        vs = np.asarray(s.values, dtype=np.float64)
        vs = vs[np.isfinite(vs)]
        if len(vs) < 3:
            return None
        level, trend = _holt_trend(vs, self.p.alpha, self.p.beta)
        return level, trend / self.step_s

    def evaluate(self, query: QueryFunc, ts_ms: int) -> list[Activation]:
        out = []
        for s in _matrix(query, self.expr, self.p.window, self.p.step, ts_ms):
            fit = self._level_slope(s)
            if fit is None:
                continue
            level, slope = fit
            gap = self.p.exhaustion - level
            if gap == 0:
                tte = 0.0
            elif slope != 0 and (slope > 0) == (gap > 0):
                tte = gap / slope
            elif (s.values[0] - self.p.exhaustion) * gap > 0:
                tte = 0.0  # crossed the exhaustion level within the window and stays past it
            else:
                tte = float("inf")
            if tte < self.within_s:
                why = {
                    "time_to_exhaustion": humanize_duration(tte),
                    "method": self.p.method,
                    "exhaustion_level": go_value(self.p.exhaustion),
                    "window": self.p.window,
                    "value": go_value(level),
                    "within": self.p.within,
                }
                out.append(Activation(_drop_name(s.labels), tte, why))
        return out


class AnomalyEval:
    """One detector per series (from the named factory), fed the selection's value once per evaluation:
    ``score_one`` then ``learn_one``; active when the score reaches ``threshold``.

    Memory is bounded: a selection of more than ``max_series`` series fails the evaluation (before any
    detector is made), a series unseen for ``forget`` loses its detector (it learns afresh if it returns), and
    beyond ``max_series`` detectors the longest-unseen ones go first, so churning label sets (restarted
    instances) cannot grow the rule without limit."""

    def __init__(self, expr: str, p: kp.AnomalyParams, factory: Callable[[], Detector]) -> None:
        self.expr, self.p, self.factory = expr, p, factory
        self.detectors: dict[Labels, Detector] = {}
        self._seen_ms: dict[Labels, int] = {}  # insertion order = least recently seen first
        self._forget_ms = parse_duration_ms(p.forget)

    def evaluate(self, query: QueryFunc, ts_ms: int) -> list[Activation]:
        selected = query_vector(query, self.expr, ts_ms)
        if len(selected) > self.p.max_series:
            raise RuleEvalError(
                f"anomaly: the selection has {len(selected)} series, above max_series {self.p.max_series}"
                " (each series keeps a detector): narrow the expression or raise max_series"
            )
        out = []
        t = datetime.fromtimestamp(ts_ms / 1000, tz=UTC)
        for lbl, v in selected:
            det = self.detectors.get(lbl)
            if det is None:
                det = self.detectors[lbl] = self.factory()
            self._seen_ms.pop(lbl, None)
            self._seen_ms[lbl] = ts_ms
            score = float(det.score_one(v, t))
            det.learn_one(v, t)
            if score >= self.p.threshold:
                why = {
                    "value": go_value(v),
                    "anomaly_score": f"{score:.3f}",
                    "threshold": f">= {self.p.threshold}",
                    "detector": self.p.detector,
                }
                out.append(Activation(lbl, score, why))
        self._forget(ts_ms)
        return out

    def _forget(self, ts_ms: int) -> None:
        """Drop the detectors of series unseen for ``forget``, then the longest-unseen past ``max_series``."""
        while self._seen_ms:  # oldest first: stop at the first one still kept (no copy of the whole dict)
            lbl, seen = next(iter(self._seen_ms.items()))
            if ts_ms - seen <= self._forget_ms and len(self._seen_ms) <= self.p.max_series:
                break
            del self._seen_ms[lbl], self.detectors[lbl]


def log_pattern_expr(expr: str, p: kp.LogPatternParams) -> str:
    """Replicas of a cluster count the lines each received (``replica`` label): a pattern is new when no
    replica saw it in the baseline, and its rate is the sum over the replicas."""
    sel = expr or PATTERN_COUNTER
    w, b = p.window, p.baseline
    if p.mode == "new":
        return (
            f"max without (replica) (max_over_time({sel}[{w}]))"
            f" unless ignoring (replica) max_over_time({sel}[{b}] offset {w})"
        )
    # only patterns that existed before the baseline window: a young series dilutes its baseline rate
    old = format_duration(parse_duration_ms(w) + parse_duration_ms(b))
    return (
        f"((sum without (replica) (rate({sel}[{w}])) > {p.min_rate})"
        f" > {p.factor} * sum without (replica) (rate({sel}[{b}] offset {w})))"
        f" and ignoring (replica) last_over_time({sel}[{b}] offset {old})"
    )


class CompositeEval:
    """AND / OR / NOT of other alerting rules' *firing* alerts, joined on the ``on`` labels."""

    def __init__(self, p: kp.CompositeParams, lookup: Callable[[str], AlertingRule | None]) -> None:
        self.p, self.lookup = p, lookup

    def _keys(self, name: str) -> set[Labels]:
        rule = self.lookup(name)
        if rule is None:
            raise RuleEvalError(f"composite: no alerting rule named {name!r} in this group")
        return {labels_from({k: a.labels.get(k, "") for k in self.p.by}) for a in rule.firing()}

    def evaluate(self, query: QueryFunc, ts_ms: int) -> list[Activation]:
        keys: set[Labels] | None = None
        for name in self.p.all:
            keys = self._keys(name) if keys is None else keys & self._keys(name)
        if self.p.any:
            union: set[Labels] = set().union(*(self._keys(n) for n in self.p.any))
            keys = union if keys is None else keys & union
        for name in self.p.none:
            keys = (keys or set()) - self._keys(name)
        parts = self.p.all + ([f"any of ({', '.join(self.p.any)})"] if self.p.any else [])
        parts += [f"not {n}" for n in self.p.none]
        return [Activation(k, 1.0, {"condition": " and ".join(parts)}) for k in sorted(keys or set())]


def compile_rule(
    spec: RuleSpec,
    *,
    lookup: Callable[[str], AlertingRule | None],
    detectors: Mapping[str, Callable[[], Detector]],
) -> Evaluator:
    p = spec.params
    if isinstance(p, kp.ThresholdParams):
        return ThresholdEval(spec.expr, p)
    if isinstance(p, kp.RateOfChangeParams):
        return RateOfChangeEval(spec.expr, p)
    if isinstance(p, kp.AccelerationParams):
        return AccelerationEval(spec.expr, p)
    if isinstance(p, kp.AbsenceParams):
        return AbsenceEval(spec.expr, p)
    if isinstance(p, kp.ForecastParams):
        return ForecastEval(spec.expr, p)
    if isinstance(p, kp.AnomalyParams):
        factory = detectors.get(p.detector)
        if factory is None:
            raise RuleEvalError(f"rule {spec.name!r}: no anomaly detector named {p.detector!r}")
        return AnomalyEval(spec.expr, p, factory)
    if isinstance(p, kp.LogPatternParams):
        return PromQLEval(log_pattern_expr(spec.expr, p))
    if isinstance(p, kp.CompositeParams):
        return CompositeEval(p, lookup)
    if p is not None:  # a kind in KIND_PARAMS without a branch here: never run it as plain PromQL
        raise RuleEvalError(f"rule {spec.name!r}: no evaluator for kind {spec.kind!r}")
    return PromQLEval(spec.expr)
