"""label_replace, label_join (Go regexp semantics: fully anchored match, ``$name``/``${name}`` expansion),
sort and sort_desc — Prometheus 2.42.

``label_replace`` compiles its regex with RE2 (:mod:`metrics_store.regex`) as Prometheus 2.42 does:
``^(?:regex)$``, so ``.`` does not match a newline there (unlike selectors and relabeling), and expands the
replacement with :meth:`~metrics_store.regex.Groups.expand` (Go's ``ExpandString``).

Both refuse, as an execution error (422) naming the function, a label value longer than
:data:`MAX_LABEL_VALUE_CHARS` or a series whose label names and values add up to more than
:data:`MAX_SERIES_LABEL_CHARS` characters, checked before the value is built: nesting
``label_join(x, "a", "", "a", "a")`` doubles a value per level (28 levels of an 810-byte query took 4.1 GB)
and ``$1$1$1...`` multiplies it. Prometheus has no such limit; real label values are far shorter.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np

from metrics_store.model import Labels
from metrics_store.promql._context import EvalContext
from metrics_store.promql._steps import EvalValue, StepSeries, StringValue, VectorSteps, merge_same_labels
from metrics_store.promql.errors import QueryExecutionError
from metrics_store.regex import ExpansionTooLongError, RegexError, compile_anchored

__all__ = [
    "MAX_LABEL_VALUE_CHARS",
    "MAX_SERIES_LABEL_CHARS",
    "label_join",
    "label_replace",
    "sort",
    "sort_desc",
]

MAX_LABEL_VALUE_CHARS = 65_536
MAX_SERIES_LABEL_CHARS = 262_144

_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def _valid_name(ctx: EvalContext, name: str) -> bool:
    """A label name label_replace/label_join may write or read: 3.x takes any non-empty UTF-8 name."""
    if ctx.semantics.utf8_names:
        return bool(name)
    return _LABEL_NAME.fullmatch(name) is not None


def _string(value: EvalValue) -> str:
    if not isinstance(value, StringValue):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value.value


def _vector(value: EvalValue) -> VectorSteps:
    if not isinstance(value, VectorSteps):
        raise TypeError(f"expected an instant vector, got {type(value).__name__}")
    return value


def _check_size(func: str, labels: Labels, name: str, value_chars: int) -> None:
    """Refuse a value of ``value_chars`` characters for label ``name`` of ``labels`` over the limits."""
    if value_chars > MAX_LABEL_VALUE_CHARS:
        raise QueryExecutionError(
            f"{func}(): the value of label {name} would be longer than {MAX_LABEL_VALUE_CHARS} characters"
        )
    total = len(name) + value_chars + sum(len(k) + len(v) for k, v in labels if k != name)
    if total > MAX_SERIES_LABEL_CHARS:
        raise QueryExecutionError(
            f"{func}(): the labels of a series would be longer than {MAX_SERIES_LABEL_CHARS} characters"
        )


def _set(labels: Labels, name: str, value: str) -> Labels:
    rest = [p for p in labels if p[0] != name]
    if value:
        rest.append((name, value))
        rest.sort()
    return tuple(rest)


def _relabel(vec: VectorSteps, fn: Callable[[Labels], Labels]) -> VectorSteps:
    cache: dict[Labels, Labels] = {}
    out = []
    for s in vec.series:
        new = cache.get(s.labels)
        if new is None:
            new = cache[s.labels] = fn(s.labels)
        out.append(StepSeries(new, s.values, s.present))
    return VectorSteps(merge_same_labels(out))


def label_replace(ctx: EvalContext, args: list[EvalValue]) -> EvalValue:
    dst, repl, src, regex = (_string(a) for a in args[1:5])
    try:
        pattern = compile_anchored(regex, dot_nl=ctx.semantics.regex_dot_nl)  # 2.42: ^(?:...)$
    except RegexError as exc:
        raise QueryExecutionError(f"invalid regular expression in label_replace(): {regex}") from exc
    if not _valid_name(ctx, dst):
        raise QueryExecutionError(f"invalid destination label name in label_replace(): {dst}")

    def relabel(labels: Labels) -> Labels:
        src_value = dict(labels).get(src, "")
        match = pattern.match(src_value)
        if match is None:
            return labels
        try:
            value = match.expand(repl, max_chars=MAX_LABEL_VALUE_CHARS)
        except ExpansionTooLongError:
            value_chars = MAX_LABEL_VALUE_CHARS + 1
        else:
            value_chars = len(value)
        _check_size("label_replace", labels, dst, value_chars)
        return _set(labels, dst, value)

    return _relabel(_vector(args[0]), relabel)


def label_join(ctx: EvalContext, args: list[EvalValue]) -> EvalValue:
    dst, sep = _string(args[1]), _string(args[2])
    sources = [_string(a) for a in args[3:]]
    for src in sources:
        if not _valid_name(ctx, src):
            raise QueryExecutionError(f"invalid source label name in label_join(): {src}")
    if not _valid_name(ctx, dst):
        raise QueryExecutionError(f"invalid destination label name in label_join(): {dst}")

    def relabel(labels: Labels) -> Labels:
        values = dict(labels)
        parts = [values.get(src, "") for src in sources]
        _check_size("label_join", labels, dst, sum(map(len, parts)) + len(sep) * max(0, len(parts) - 1))
        return _set(labels, dst, sep.join(parts))

    return _relabel(_vector(args[0]), relabel)


def _sorted(ctx: EvalContext, value: EvalValue, descending: bool) -> VectorSteps:
    """Order series by their value at the first step (only an instant query's order is observable);
    NaN last in both directions, as Prometheus."""
    vec = _vector(value)
    if ctx.num_steps != 1:
        return vec

    def key(s: StepSeries) -> tuple[bool, float]:
        v = float(s.values[0])
        nan = bool(np.isnan(v))
        return nan, 0.0 if nan else (-v if descending else v)

    return VectorSteps(sorted(vec.series, key=key))


def sort(ctx: EvalContext, args: list[EvalValue]) -> EvalValue:
    return _sorted(ctx, args[0], descending=False)


def sort_desc(ctx: EvalContext, args: list[EvalValue]) -> EvalValue:
    return _sorted(ctx, args[0], descending=True)
