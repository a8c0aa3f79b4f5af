"""A vectorised fast path for the expression shapes most rules use, evaluated on the latest data of a
:class:`~alerting.rules._cache.CycleCache` (one numpy pass over all series of a selector)::

    sel                                     (instant selector, no offset/@)
    f(sel[range])                           f in rate increase {avg,min,max,sum,count,last}_over_time
    agg by (labels) (one of the above)      agg in sum min max avg count

Anything else, and any window holding NaN/Inf (Prometheus' arithmetic on those is order-sensitive), returns
None and the rule falls back to the PromQL engine, which is the reference: tests check the fast path against
it on random data (same series and labels; values within 1e-9 relative).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import promql_parser

from metrics_store.base import Querier
from metrics_store.model import METRIC_NAME, Labels, Matcher, SeriesData, stale_mask
from metrics_store.promql import Sample, Vector, parse, selector_matchers
from metrics_store.promql.semantics import PROMETHEUS_3, Semantics

__all__ = ["Columns", "FastPath"]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
_FUNCS = {"rate", "increase", "avg_over_time", "min_over_time", "max_over_time", "sum_over_time",
          "count_over_time", "last_over_time"}  # fmt: skip
_AGGS = {"sum", "min", "max", "avg", "count"}
Plan = tuple[str | None, tuple[str, ...], str | None, Any, int]  # agg, by, func, selector, range_ms


def _plan(expr: str, semantics: Semantics) -> Plan | None:
    try:
        node = parse(expr, semantics)
    except Exception:
        return None
    agg: str | None = None
    by: tuple[str, ...] = ()
    if isinstance(node, promql_parser.AggregateExpr):
        op = str(node.op).strip()
        mod = node.modifier
        if op not in _AGGS or node.param is not None:
            return None
        if mod is not None and "Without" in str(mod.type):
            return None
        agg, by = op, tuple(sorted(mod.labels)) if mod is not None else ()
        node = node.expr
    while isinstance(node, promql_parser.ParenExpr):
        node = node.expr
    func: str | None = None
    range_ms = 0
    if isinstance(node, promql_parser.Call):
        func = node.func.name
        if (
            func not in _FUNCS
            or len(node.args) != 1
            or not isinstance(node.args[0], promql_parser.MatrixSelector)
        ):
            return None
        range_ms = int(node.args[0].range.total_seconds() * 1000)
        node = node.args[0].vector_selector
    if not isinstance(node, promql_parser.VectorSelector) or node.offset is not None or node.at is not None:
        return None
    return agg, by, func, node, range_ms


def _segment_reduce(ufunc: Any, vals: F64, lo: I64, hi: I64) -> F64:
    padded = np.append(vals, 0.0)
    idx = np.empty(2 * len(lo), dtype=np.int64)
    idx[0::2], idx[1::2] = lo, hi
    out: F64 = ufunc.reduceat(padded, idx)[0::2]
    return out


@dataclass(frozen=True, slots=True)
class Columns:
    """A query result as parallel columns (labels, values): filtered with numpy before any object is made."""

    labels: list[Labels]
    values: F64
    local: I64 | None = None  # window-local series index of each row (when from a RecentWindow)
    source: object = None

    def to_vector(self, ts_ms: int) -> Vector:
        return Vector(
            tuple(Sample(lb, ts_ms, v) for lb, v in zip(self.labels, self.values.tolist(), strict=True))
        )


@dataclass(slots=True)
class _Packed:
    source: object
    local: I64 | None
    labels: list[Labels]
    nameless: list[Labels]
    sid: I64  # series index of every sample
    ts: I64
    vals: F64
    key: I64  # sid * _BIG + (ts - base): one sorted array for every series' samples
    base: int
    stale: npt.NDArray[np.bool_]


_BIG = np.int64(1) << np.int64(40)


def _pack(data: list[SeriesData]) -> _Packed:
    data.sort(key=lambda s: s.labels)
    labels = [s.labels for s in data]
    nameless = [tuple(p for p in lb if p[0] != METRIC_NAME) for lb in labels]
    if not data:
        e = np.empty(0, dtype=np.int64)
        return _Packed(None, None, labels, nameless, e, e, np.empty(0), e, 0, np.empty(0, dtype=bool))
    counts = np.fromiter((len(s.timestamps_ms) for s in data), dtype=np.int64, count=len(data))
    sid = np.repeat(np.arange(len(data), dtype=np.int64), counts)
    ts = np.concatenate([s.timestamps_ms for s in data])
    vals = np.concatenate([s.values for s in data])
    base = int(ts.min())
    return _Packed(
        None, None, labels, nameless, sid, ts, vals, sid * _BIG + (ts - base), base, stale_mask(vals)
    )


class FastPath:
    def __init__(
        self, querier: Querier, *, lookback_ms: int = 300_000, semantics: Semantics = PROMETHEUS_3
    ) -> None:
        self._querier = querier
        self._semantics = semantics
        # 3.x: windows are left-open, (start, end]; 2.42: [start, end] (see metrics_store.promql.semantics)
        self._start_side: Any = "right" if semantics.left_open else "left"
        self._lookback_ms = lookback_ms
        self._plans: dict[str, Plan | None] = {}
        self._packed: dict[tuple[tuple[Matcher, ...], int], _Packed] = {}

        self._nameless_memo: dict[Labels, Labels] = {}
        self._groups_memo: GroupMemo = {}

    def reset(self) -> None:
        self._packed.clear()

    def _nameless(self, lb: Labels) -> Labels:
        out = self._nameless_memo.get(lb)
        if out is None:
            out = self._nameless_memo[lb] = tuple(q for q in lb if q[0] != METRIC_NAME)
        return out

    def _data(self, matchers: list[Matcher], ts_ms: int, span_ms: int) -> _Packed:
        key = (tuple(sorted(matchers, key=lambda m: (m.name, m.op.value, m.value))), ts_ms)
        p = self._packed.get(key)
        if p is None or p.base > ts_ms - span_ms:
            span = max(span_ms, self._lookback_ms)
            packer = getattr(self._querier, "select_packed", None)
            col = packer(matchers, ts_ms - span, ts_ms) if packer is not None else None
            if col is not None:
                p = _Packed(col.source, col.local, col.labels, col.nameless,
                            col.sid, col.ts, col.vals, col.sid, ts_ms - span,
                            stale_mask(col.vals))  # fmt: skip
            else:
                p = _pack(self._querier.select(matchers, ts_ms - span, ts_ms))
            p.base = min(p.base, ts_ms - span) if len(p.ts) else ts_ms - span
            p.key = p.sid * _BIG + (p.ts - p.base)
            self._packed[key] = p
        return p

    def __call__(self, expr: str, ts_ms: int) -> Columns | None:
        if expr not in self._plans:
            self._plans[expr] = _plan(expr, self._semantics)
        plan = self._plans[expr]
        if plan is None:
            return None
        agg, by, func, vs, range_ms = plan
        matchers = selector_matchers(vs, dot_nl=self._semantics.regex_dot_nl)
        p = self._data(matchers, ts_ms, range_ms if func else self._lookback_ms)
        got = self._instant(p, ts_ms) if func is None else self._range(p, func, ts_ms, range_ms)
        if got is None:
            return None
        if agg is not None:
            return self._aggregate(agg, by, got, self._groups_memo)
        return got

    def _window(self, p: _Packed, start_ms: int, end_ms: int) -> tuple[I64, I64]:
        n = np.arange(len(p.labels), dtype=np.int64) * _BIG
        lo = np.searchsorted(p.key, n + (start_ms - p.base), self._start_side)
        hi = np.searchsorted(p.key, n + (end_ms - p.base), "right")
        return lo, hi

    def _instant(self, p: _Packed, ts_ms: int) -> Columns | None:
        lo, hi = self._window(p, ts_ms - self._lookback_ms, ts_ms)
        last = hi - 1
        ok = np.flatnonzero(hi > lo)
        ok = ok[~p.stale[last[ok]]]
        vals = p.vals[last[ok]]
        if not np.isfinite(vals).all():
            return None
        labels = p.labels if len(ok) == len(p.labels) else [p.labels[i] for i in ok.tolist()]
        return Columns(labels, vals, None if p.local is None else p.local[ok], p.source)

    def _range(self, p: _Packed, func: str, ts_ms: int, range_ms: int) -> Columns | None:
        if p.stale.any():
            return None  # staleness markers inside windows: the engine handles them
        lo, hi = self._window(p, ts_ms - range_ms, ts_ms)
        counts = hi - lo
        present = np.flatnonzero(counts > 0)
        lo, hi, counts = lo[present], hi[present], counts[present]
        vals = p.vals
        # last_over_time keeps the metric name (as the engine and Prometheus do); the others drop it
        src = p.labels if func == "last_over_time" else p.nameless
        labels = src if len(present) == len(src) else [src[i] for i in present.tolist()]
        local = None if p.local is None else p.local[present]

        def cols(values: F64, keep: I64 | None = None) -> Columns:
            if keep is None:
                return Columns(labels, values, local, p.source)
            return Columns(
                labels if len(keep) == len(labels) else [labels[i] for i in keep.tolist()],
                values[keep],
                None if local is None else local[keep],
                p.source,
            )

        if len(present) and not np.isfinite(_segment_reduce(np.add, vals, lo, hi)).all():
            return None
        if func == "count_over_time":
            return cols(counts.astype(np.float64))
        if func == "last_over_time":
            return cols(vals[hi - 1])
        if func == "sum_over_time":
            return cols(_segment_reduce(np.add, vals, lo, hi))
        if func == "avg_over_time":
            return cols(_segment_reduce(np.add, vals, lo, hi) / counts)
        if func == "min_over_time":
            return cols(_segment_reduce(np.minimum, vals, lo, hi))
        if func == "max_over_time":
            return cols(_segment_reduce(np.maximum, vals, lo, hi))
        values, keep = _rate(
            p,
            lo,
            hi,
            counts,
            ts_ms=ts_ms,
            range_ms=range_ms,
            is_rate=func == "rate",
            zero_after_threshold=self._semantics.zero_after_threshold,
        )
        return cols(values, keep)

    @staticmethod
    def _aggregate(agg: str, by: tuple[str, ...], cols: Columns, memo: GroupMemo) -> Columns:
        if cols.local is not None and cols.source is not None:
            gid, key_list = _groups_by(cols, by, memo)
        else:
            keys: dict[Labels, int] = {}
            gid = np.empty(len(cols.labels), dtype=np.int64)
            for i, lb in enumerate(cols.labels):
                gid[i] = keys.setdefault(tuple(q for q in lb if q[0] in by), len(keys))
            key_list = list(keys)
        n = len(key_list)
        values = cols.values
        if agg == "count":
            out = np.bincount(gid, minlength=n).astype(np.float64)
        elif agg in ("sum", "avg"):
            out = np.zeros(n)
            np.add.at(out, gid, values)
            if agg == "avg":
                out = out / np.bincount(gid, minlength=n)
        else:
            ufunc: Any = np.maximum if agg == "max" else np.minimum
            out = np.full(n, -np.inf if agg == "max" else np.inf)
            ufunc.at(out, gid, values)
        return Columns(key_list, out)


GroupMemo = dict[tuple[int, tuple[str, ...]], tuple[object, int, I64, list[Labels]]]


def _groups_by(cols: Columns, by: tuple[str, ...], memo: GroupMemo) -> tuple[I64, list[Labels]]:
    """Group ids for ``by`` computed once per metric name (and again only when series were added)."""
    entry: Any = cols.source
    ck = (id(entry), by)
    hit = memo.get(ck)
    n = len(entry.labels)
    if hit is None or hit[0] is not entry or hit[1] != n:
        keys: dict[Labels, int] = {}
        full = np.fromiter(
            (keys.setdefault(tuple(q for q in lb if q[0] in by), len(keys)) for lb in entry.labels),
            np.int64,
            n,
        )
        hit = memo[ck] = (entry, n, full, list(keys))
    assert cols.local is not None
    g = hit[2][cols.local]
    uniq, dense = np.unique(g, return_inverse=True)
    return dense.astype(np.int64), [hit[3][i] for i in uniq.tolist()]


def _rate(
    p: _Packed,
    lo: I64,
    hi: I64,
    counts: I64,
    *,
    ts_ms: int,
    range_ms: int,
    is_rate: bool,
    zero_after_threshold: bool,
) -> tuple[F64, I64]:
    """Prometheus ``extrapolatedRate`` for every window at once (3.x's order of the start's threshold and
    zero clamp with ``zero_after_threshold``, else 2.42's; see ``metrics_store.promql.semantics``)."""
    ts, vals = p.ts, p.vals
    ok = counts >= 2
    first, last = lo, hi - 1
    first_v, last_v = vals[first], vals[last]
    drop = np.zeros(len(vals), dtype=np.float64)
    d = np.flatnonzero(vals[1:] < vals[:-1]) + 1
    drop[d] = vals[d - 1]
    drop[lo] = 0.0  # the first sample of a window is never a reset within it
    result = last_v - first_v + _segment_reduce(np.add, drop, lo, hi)
    range_start = ts_ms - range_ms
    with np.errstate(all="ignore"):
        to_start = (ts[first] - range_start).astype(np.float64) / 1000
        to_end = (ts_ms - ts[last]).astype(np.float64) / 1000
        sampled = (ts[last] - ts[first]).astype(np.float64) / 1000
        avg = sampled / (counts - 1)
        thr = avg * 1.1
        if zero_after_threshold:
            to_start = np.where(to_start < thr, to_start, avg / 2)
        zero = sampled * (first_v / result)
        use_zero = (result > 0) & (first_v >= 0) & (zero < to_start)
        to_start = np.where(use_zero, zero, to_start)
        if not zero_after_threshold:
            to_start = np.where(to_start < thr, to_start, avg / 2)
        interval = sampled + to_start + np.where(to_end < thr, to_end, avg / 2)
        result = result * (interval / sampled)
        if is_rate:
            result = result / (float(range_ms // 1000) + float((range_ms % 1000) * 1_000_000) / 1e9)
    return result, np.flatnonzero(ok)
