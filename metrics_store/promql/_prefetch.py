"""Shared reads for a query that selects one metric several times (``100 * sum(rate(x{code=~"5.."}[1m])) /
sum(rate(x[1m]))``, or the same selector twice): before evaluation, for each metric name selected more than
once over the same window, the selector whose matchers are contained in all the others' is read once; the
selectors then take their series from that read (:meth:`EvalContext.select`) instead of reading again.

Only selectors evaluated on the query's own steps are considered (not those inside subqueries), and only when
every selector of the name has the same window, so the data read is exactly what one of them reads anyway.
"""

from __future__ import annotations

from typing import Any

import promql_parser

from metrics_store.model import METRIC_NAME, Matcher
from metrics_store.promql._ast import duration_ms, parse, selector_matchers
from metrics_store.promql._context import EvalContext
from metrics_store.promql._selectors import reference_times
from metrics_store.promql.errors import QueryError

__all__ = ["metric_names", "prefetch"]

_Read = tuple[frozenset[Matcher], int, int]


def prefetch(ctx: EvalContext, node: Any) -> None:
    reads: list[_Read] = []
    try:
        _collect(ctx, node, reads)
    except QueryError:
        return  # the evaluation reports it
    by_name: dict[str, list[_Read]] = {}
    for read in reads:
        name = next((m.value for m in read[0] if m.name == METRIC_NAME), None)
        if name is not None:
            by_name.setdefault(name, []).append(read)
    for group in by_name.values():
        if len(group) < 2 or len({(lo, hi) for _, lo, hi in group}) != 1:
            continue
        base = next((m for m, _, _ in group if all(m <= other for other, _, _ in group)), None)
        if base is not None:
            ctx.prefetch(base, group[0][1], group[0][2])


def _collect(ctx: EvalContext, node: Any, out: list[_Read]) -> None:
    if isinstance(node, promql_parser.VectorSelector):
        ref = reference_times(ctx, node.at, node.offset)
        out.append(
            (
                frozenset(selector_matchers(node, dot_nl=ctx.semantics.regex_dot_nl)),
                int(ref.min()) - ctx.lookback_ms,
                int(ref.max()),
            )
        )
    elif isinstance(node, promql_parser.MatrixSelector):
        vs = node.vector_selector
        ref = reference_times(ctx, vs.at, vs.offset)
        start = int(ref.min()) - duration_ms(node.range)
        out.append(
            (frozenset(selector_matchers(vs, dot_nl=ctx.semantics.regex_dot_nl)), start, int(ref.max()))
        )
    elif isinstance(node, promql_parser.SubqueryExpr):
        return
    elif isinstance(node, promql_parser.Call):
        for arg in node.args:
            _collect(ctx, arg, out)
    elif isinstance(node, promql_parser.BinaryExpr):
        _collect(ctx, node.lhs, out)
        _collect(ctx, node.rhs, out)
    elif isinstance(node, promql_parser.AggregateExpr):
        _collect(ctx, node.expr, out)
        if node.param is not None:
            _collect(ctx, node.param, out)
    elif isinstance(node, promql_parser.ParenExpr | promql_parser.UnaryExpr):
        _collect(ctx, node.expr, out)


def metric_names(query: str) -> set[str]:
    """Metric names the selectors of ``query`` select by name (``x{...}``, not ``{__name__=~"..."}``); raises
    :class:`QueryParseError` for a query that does not parse."""
    names: set[str] = set()
    stack = [parse(query)]
    while stack:
        node = stack.pop()
        if isinstance(node, promql_parser.VectorSelector):
            if node.name:
                names.add(str(node.name))
        elif isinstance(node, promql_parser.MatrixSelector):
            stack.append(node.vector_selector)
        elif isinstance(node, promql_parser.Call):
            stack.extend(node.args)
        elif isinstance(node, promql_parser.BinaryExpr):
            stack.extend((node.lhs, node.rhs))
        elif isinstance(node, promql_parser.AggregateExpr):
            stack.extend(n for n in (node.expr, node.param) if n is not None)
        elif isinstance(node, promql_parser.ParenExpr | promql_parser.UnaryExpr | promql_parser.SubqueryExpr):
            stack.append(node.expr)
    return names
