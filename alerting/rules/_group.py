"""A rule group: rules evaluated in order at one timestamp, results written through an Appender.

Evaluation is shared where rules allow: a rule ``E <cmp> N`` (a comparison with a number) is evaluated by
running ``E`` once per timestamp for every rule with the same ``E`` (warning/critical pairs, packs that
differ only in thresholds) and filtering in Python; identical expressions run once per timestamp
(:class:`SharedQuery`, shared by all groups of a manager).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import promql_parser

from alerting.model import Alert
from alerting.rules._alerting import NO_WHY, Activation, AlertingRule
from alerting.rules._fast import Columns
from alerting.rules._kinds import Detector, Evaluator, PromQLEval, QueryFunc, compile_rule, query_vector
from alerting.rules._load import GroupSpec, RuleSpec
from alerting.rules._metrics import RuleMetrics
from alerting.rules.errors import RuleEvalError
from metrics_store.base import Appender
from metrics_store.model import METRIC_NAME, STALE_NAN, Labels, labels_from
from metrics_store.promql import QueryError, QueryValue, Sample, Vector, parse

__all__ = ["RuleGroup", "SharedQuery"]

log = logging.getLogger(__name__)
_CMP = {">": float.__gt__, ">=": float.__ge__, "<": float.__lt__, "<=": float.__le__, "==": float.__eq__,
        "!=": float.__ne__}  # fmt: skip
_NP_CMP = {">": np.greater, ">=": np.greater_equal, "<": np.less, "<=": np.less_equal, "==": np.equal,
           "!=": np.not_equal}  # fmt: skip


def split_comparison(expr: str) -> tuple[str, str, float] | None:
    """``E op N`` (no ``bool``, N a number literal) -> (E, op, N); else None."""
    try:
        node = parse(expr)
    except Exception:
        return None
    if not isinstance(node, promql_parser.BinaryExpr) or not isinstance(
        node.rhs, promql_parser.NumberLiteral
    ):
        return None
    op = str(node.op).strip()
    if op not in _CMP or (node.modifier is not None and getattr(node.modifier, "return_bool", False)):
        return None
    if isinstance(node.lhs, promql_parser.NumberLiteral):
        return None
    m = re.fullmatch(r"(?s)(.*\S)\s*(>=|<=|==|!=|>|<)\s*([-+0-9.eEinfaINFA]+)\s*", expr)
    if m is None or m.group(2) != op:
        return None
    return m.group(1), op, float(node.rhs.val)


class SharedQuery:
    """Memoizes ``query(expr, ts)`` for one timestamp (call :meth:`reset` before each cycle)."""

    def __init__(self, query: QueryFunc) -> None:
        self._query = query
        self._memo: dict[tuple[str, int], QueryValue | Columns] = {}

    def reset(self) -> None:
        self._memo.clear()

    def __call__(self, expr: str, ts_ms: int) -> QueryValue | Columns:
        key = (expr, ts_ms)
        hit = self._memo.get(key)
        if hit is None:
            hit = self._memo[key] = self._query(expr, ts_ms)
        return hit


class _SplitEval:
    def __init__(self, lhs: str, op: str, n: float) -> None:
        self.lhs, self.cmp, self.n = lhs, _CMP[op], n
        self.np_cmp = _NP_CMP[op]

    def evaluate(self, query: QueryFunc, ts_ms: int) -> list[Activation]:
        res = query(self.lhs, ts_ms)
        if isinstance(res, Columns):  # filter with numpy first: most series do not cross the threshold
            with np.errstate(invalid="ignore"):
                hits = np.flatnonzero(self.np_cmp(res.values, self.n))
            labels = res.labels
            return [
                Activation(labels[i], v, NO_WHY)
                for i, v in zip(hits.tolist(), res.values[hits].tolist(), strict=True)
            ]
        return [
            Activation(lbl, v)
            for lbl, v in query_vector(lambda e, t: res, self.lhs, ts_ms)
            if self.cmp(v, self.n)
        ]


@dataclass
class _Rule:
    spec: RuleSpec
    evaluator: Evaluator
    alerting: AlertingRule | None


class RuleGroup:
    def __init__(
        self,
        spec: GroupSpec,
        *,
        interval_ms: int,
        appender: Appender | None,
        metrics: RuleMetrics,
        external_labels: Mapping[str, str] | None = None,
        external_url: str = "",
        detectors: Mapping[str, Callable[[], Detector]] | None = None,
    ) -> None:
        self.spec = spec
        self.name = spec.name
        self.key = f"{spec.file};{spec.name}"
        self.interval_ms = spec.interval_ms or interval_ms
        self._appender = appender
        self._metrics = metrics
        self._refs: dict[Labels, int] = {}
        self._prev_series: set[Labels] = set()
        self.last_eval_ms = -1  # none yet
        self.rules: list[_Rule] = []
        by_name: dict[str, AlertingRule] = {}
        for r in spec.rules:
            ar = (
                None
                if r.record
                else AlertingRule(r, external_labels=external_labels, external_url=external_url)
            )
            if ar is not None:
                by_name.setdefault(r.name, ar)
            ev: Evaluator
            if r.kind == "promql" and (sc := split_comparison(r.expr)) is not None:
                ev = _SplitEval(*sc)
            else:
                ev = compile_rule(r, lookup=by_name.get, detectors=detectors or {})
            self.rules.append(_Rule(r, ev, ar))

    def alerting_rules(self) -> list[AlertingRule]:
        return [r.alerting for r in self.rules if r.alerting is not None]

    def eval(self, ts_ms: int, query: QueryFunc) -> None:
        """Evaluate every rule at ``ts_ms``; failures are logged and counted, never raised."""
        samples: list[tuple[Labels, float]] = []
        seen: set[Labels] = set()
        evaluations = self._metrics.evaluations.labels(self.name)
        for rule in self.rules:
            evaluations.inc()
            try:
                acts = rule.evaluator.evaluate(query, ts_ms)
                if rule.alerting is None:
                    out = _record(rule.spec, acts, self.spec.limit)
                else:
                    out = rule.alerting.eval(ts_ms, acts, self.spec.limit)
                    rule.alerting.last_error = None
            except (QueryError, RuleEvalError) as exc:
                self._metrics.failures.labels(self.name).inc()
                if rule.alerting is not None:
                    rule.alerting.last_error = exc
                log.warning("rule %s/%s: %s", self.name, rule.spec.name, exc)
                continue
            for lbl, v in out:
                if lbl not in seen:
                    seen.add(lbl)
                    samples.append((lbl, v))
            if rule.spec.record:
                self._write(samples, ts_ms)  # later rules of the group see this result
                samples = []
        for lbl in self._prev_series - seen:
            samples.append((lbl, STALE_NAN))
        self._write(samples, ts_ms)
        self._prev_series = seen
        self.last_eval_ms = ts_ms
        counts = {"pending": 0, "firing": 0, "inactive": 0}
        for ar in self.alerting_rules():
            for k, n in ar.counts().items():
                counts[k] += n
        for state, n in counts.items():
            self._metrics.alerts.labels(self.name, state).set(n)

    def _write(self, samples: list[tuple[Labels, float]], ts_ms: int) -> None:
        if self._appender is None or not samples:
            return
        refs = []
        for lbl, _ in samples:
            ref = self._refs.get(lbl)
            if ref is None:
                ref = self._refs[lbl] = self._appender.series_ref(lbl)
            refs.append(ref)
        self._appender.append(refs, [ts_ms] * len(samples), [v for _, v in samples])

    def alerts_to_send(self, ts_ms: int, resend_delay_ms: int) -> list[Alert]:
        out: list[Alert] = []
        for ar in self.alerting_rules():
            out.extend(ar.alerts_to_send(ts_ms, resend_delay_ms, self.interval_ms))
        return out


def _record(spec: RuleSpec, acts: list[Activation], limit: int) -> list[tuple[Labels, float]]:
    out: dict[Labels, float] = {}
    for a in acts:
        d = dict(a.labels)
        d[METRIC_NAME] = spec.name
        d.update(spec.labels)
        key = labels_from(d)
        if key in out:
            raise RuleEvalError("vector contains metrics with the same labelset after applying rule labels")
        out[key] = a.value
    if limit > 0 and len(out) > limit:
        raise RuleEvalError(f"exceeded limit {limit} with {len(out)} series")
    return [(k, v) for k, v in out.items() if not (math.isnan(v) and False)]


_ = (PromQLEval, Sample, Vector)
