"""Element-wise instant-vector functions of Prometheus 2.42: math (abs, ceil, exp, ln, sqrt, trig...), clamp,
round, sgn, and the date functions. All drop the metric name."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from metrics_store.promql._context import EvalContext
from metrics_store.promql._steps import (
    F64,
    EvalValue,
    ScalarSteps,
    StepSeries,
    VectorSteps,
    drop_name,
    merge_same_labels,
)

__all__ = ["DATE_FUNCTIONS", "MATH_FUNCTIONS", "clamp", "clamp_max", "clamp_min", "pi", "round_", "sgn"]

FunctionImpl = Callable[[EvalContext, list[EvalValue]], EvalValue]
Transform = Callable[[F64], F64]


def _vector(value: EvalValue) -> VectorSteps:
    if not isinstance(value, VectorSteps):
        raise TypeError(f"expected an instant vector, got {type(value).__name__}")
    return value


def _scalar(value: EvalValue) -> F64:
    if not isinstance(value, ScalarSteps):
        raise TypeError(f"expected a scalar, got {type(value).__name__}")
    return value.values


def _map(value: EvalValue, fn: Transform, present: Callable[[int], np.ndarray] | None = None) -> VectorSteps:
    out = []
    with np.errstate(all="ignore"):
        for s in _vector(value).series:
            out.append(StepSeries(drop_name(s.labels), fn(s.values), s.present))
    return VectorSteps(merge_same_labels(out))


def _unary(fn: Transform) -> FunctionImpl:
    def impl(ctx: EvalContext, args: list[EvalValue]) -> EvalValue:
        return _map(args[0], fn)

    return impl


def _sgn(v: F64) -> F64:
    out: F64 = np.where(v < 0, -1.0, np.where(v > 0, 1.0, v))
    return out


_MATH: dict[str, Transform] = {
    "abs": np.abs,
    "ceil": np.ceil,
    "floor": np.floor,
    "exp": np.exp,
    "ln": np.log,
    "log2": np.log2,
    "log10": np.log10,
    "sqrt": np.sqrt,
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "asin": np.arcsin,
    "acos": np.arccos,
    "atan": np.arctan,
    "sinh": np.sinh,
    "cosh": np.cosh,
    "tanh": np.tanh,
    "asinh": np.arcsinh,
    "acosh": np.arccosh,
    "atanh": np.arctanh,
    "deg": lambda v: v * 180 / np.pi,
    "rad": lambda v: v * np.pi / 180,
    "sgn": _sgn,
}
MATH_FUNCTIONS: dict[str, FunctionImpl] = {name: _unary(fn) for name, fn in _MATH.items()}


def sgn(ctx: EvalContext, args: list[EvalValue]) -> EvalValue:
    return _map(args[0], _sgn)


def pi(ctx: EvalContext, args: list[EvalValue]) -> EvalValue:
    return ScalarSteps(np.full(ctx.num_steps, np.pi))


def _bounded(vec: VectorSteps, ok: np.ndarray, fn: Transform) -> VectorSteps:
    out = []
    with np.errstate(all="ignore"):
        for s in vec.series:
            present = s.present & ok
            if present.any():
                out.append(StepSeries(drop_name(s.labels), fn(s.values), present))
    return VectorSteps(merge_same_labels(out))


def _go_max(a: F64, b: F64) -> F64:
    out: F64 = np.where(np.isnan(a) | np.isnan(b), np.nan, np.maximum(a, b))
    return out


def _go_min(a: F64, b: F64) -> F64:
    out: F64 = np.where(np.isnan(a) | np.isnan(b), np.nan, np.minimum(a, b))
    return out


def clamp(ctx: EvalContext, args: list[EvalValue]) -> EvalValue:
    lo, hi = _scalar(args[1]), _scalar(args[2])
    return _bounded(_vector(args[0]), ~(hi < lo), lambda v: _go_max(lo, _go_min(hi, v)))


def clamp_min(ctx: EvalContext, args: list[EvalValue]) -> EvalValue:
    lo = _scalar(args[1])
    return _map(args[0], lambda v: _go_max(lo, v))


def clamp_max(ctx: EvalContext, args: list[EvalValue]) -> EvalValue:
    hi = _scalar(args[1])
    return _map(args[0], lambda v: _go_min(hi, v))


def round_(ctx: EvalContext, args: list[EvalValue]) -> EvalValue:
    to_nearest = _scalar(args[1]) if len(args) > 1 else np.ones(ctx.num_steps)
    with np.errstate(all="ignore"):
        inverse = 1.0 / to_nearest  # Prometheus inverts first (fewer floating point surprises)
    return _map(args[0], lambda v: np.floor(v * inverse + 0.5) / inverse)


# --- date functions: Go's time.Unix(int64(v), 0).UTC() -------------------------------------------------

_MIN_I64 = np.int64(-(2**63))
_GO_INT64_LIMIT = 2.0**63


def _seconds(v: F64) -> np.ndarray:
    """Go's ``int64(v)`` on amd64: truncation; NaN, ±Inf and out-of-range give the minimum int64."""
    bad = np.isnan(v) | (v >= _GO_INT64_LIMIT) | (v < -_GO_INT64_LIMIT)
    with np.errstate(all="ignore"):
        out = np.asarray(np.where(bad, 0, np.trunc(v)), dtype=np.int64)
    out[bad] = _MIN_I64
    return out


_DateFn = Callable[[np.ndarray], F64]
_MIN_I64_RESULTS: dict[str, float] = {}  # filled below: Go's answers for time.Unix(math.MinInt64, 0).UTC()


def _days(secs: np.ndarray) -> np.ndarray:
    return np.asarray(np.floor_divide(secs, 86400))


def _civil(secs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(year, month 1-12, day 1-31) for int64 Unix seconds (proleptic Gregorian)."""
    days = _days(secs).astype("datetime64[D]")
    years = days.astype("datetime64[Y]")
    months = days.astype("datetime64[M]")
    year = years.astype(np.int64) + 1970
    month = (months - years.astype("datetime64[M]")).astype(np.int64) + 1
    day = (days - months.astype("datetime64[D]")).astype(np.int64) + 1
    return year, month, day


def _year(secs: np.ndarray) -> F64:
    return _civil(secs)[0].astype(np.float64)


def _month(secs: np.ndarray) -> F64:
    return _civil(secs)[1].astype(np.float64)


def _day_of_month(secs: np.ndarray) -> F64:
    return _civil(secs)[2].astype(np.float64)


def _day_of_week(secs: np.ndarray) -> F64:
    out: F64 = ((_days(secs) + 4) % 7).astype(np.float64)  # 1970-01-01 was a Thursday
    return out


def _day_of_year(secs: np.ndarray) -> F64:
    days = _days(secs).astype("datetime64[D]")
    out: F64 = (days - days.astype("datetime64[Y]").astype("datetime64[D]")).astype(np.float64) + 1
    return out


def _days_in_month(secs: np.ndarray) -> F64:
    months = _days(secs).astype("datetime64[D]").astype("datetime64[M]")
    out: F64 = ((months + 1).astype("datetime64[D]") - months.astype("datetime64[D]")).astype(np.float64)
    return out


def _hour(secs: np.ndarray) -> F64:
    out: F64 = (np.mod(secs, 86400) // 3600).astype(np.float64)
    return out


def _minute(secs: np.ndarray) -> F64:
    out: F64 = (np.mod(secs, 3600) // 60).astype(np.float64)
    return out


def _date_values(name: str, fn: _DateFn, v: F64) -> F64:
    secs = _seconds(v)
    extreme = secs == _MIN_I64
    safe = np.where(extreme, 0, secs)
    out: F64 = np.where(extreme, _MIN_I64_RESULTS[name], fn(safe))
    return out


def _date(name: str, fn: _DateFn) -> FunctionImpl:
    def impl(ctx: EvalContext, args: list[EvalValue]) -> EvalValue:
        if not args:
            secs = ctx.steps_ms // 1000
            present = np.ones(ctx.num_steps, dtype=np.bool_)
            return VectorSteps([StepSeries((), fn(secs), present)])
        return _map(args[0], lambda v: _date_values(name, fn, v))

    return impl


# Go's answers for time.Unix(math.MinInt64, 0).UTC() (what int64(NaN), int64(±Inf) give on amd64): Go's
# absolute-time arithmetic wraps around to 4 December 292277026596, 15:30, a Sunday (derived by replaying
# Go 1.19 time.absDate; the year is confirmed by the differential test against Prometheus 2.42).
_MIN_I64_RESULTS.update(
    {
        "year": 292277026596.0,
        "month": 12.0,
        "day_of_month": 4.0,
        "day_of_week": 0.0,
        "day_of_year": 339.0,
        "days_in_month": 31.0,
        "hour": 15.0,
        "minute": 30.0,
    }
)

DATE_FUNCTIONS: dict[str, FunctionImpl] = {
    "year": _date("year", _year),
    "month": _date("month", _month),
    "day_of_month": _date("day_of_month", _day_of_month),
    "day_of_week": _date("day_of_week", _day_of_week),
    "day_of_year": _date("day_of_year", _day_of_year),
    "days_in_month": _date("days_in_month", _days_in_month),
    "hour": _date("hour", _hour),
    "minute": _date("minute", _minute),
}
