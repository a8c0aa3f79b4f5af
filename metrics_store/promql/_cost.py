"""The step budget of a query, computed from its AST before anything is evaluated or allocated.

The evaluator gives every node an array per series with one entry per step of the node's grid: the query's
own steps, or for the inner expression of a subquery ``expr[range:step]`` every multiple of ``step`` from
the earliest window start to the latest reference time (nested subqueries nest grids). So
``max_over_time(vector(1)[7d:1ms])`` asks for a grid of 6e8 steps — about 10 GB across its nodes — before a
single sample is read. :func:`check_step_budget` adds up the grid size of every node (at least one value
per step each) and refuses with :class:`TooManySamplesError` when the total exceeds ``max_samples``, the
same limit and message as samples loaded. The grid arithmetic mirrors ``_subquery.eval_subquery`` and
``_selectors.reference_times``; only bounds are needed, so no array is built here.
"""

from __future__ import annotations

from typing import Any

import promql_parser

from metrics_store.promql._ast import at_spec, duration_ms
from metrics_store.promql._subquery import DEFAULT_STEP_MS
from metrics_store.promql.errors import TooManySamplesError

__all__ = ["Grid", "check_step_budget", "subquery_grid"]

# (first step ms, last step ms, number of steps) of an evaluation grid.
Grid = tuple[int, int, int]


def subquery_grid(
    node: Any, outer: Grid, query_start_ms: int, query_end_ms: int, *, left_open: bool = True
) -> Grid:
    """The inner grid of subquery ``node`` evaluated on ``outer`` (as ``eval_subquery`` builds it; 3.x's
    ``left_open`` subqueries start after a window start that falls on a step)."""
    spec = at_spec(node.at)
    if spec is None:
        lo, hi = outer[0], outer[1]
    else:
        kind, ms = spec
        lo = hi = query_start_ms if kind == "start" else query_end_ms if kind == "end" else ms
    offset = duration_ms(node.offset)
    lo, hi = lo - offset, hi - offset
    step = duration_ms(node.step) or DEFAULT_STEP_MS
    first = lo - duration_ms(node.range)
    start = step * (first // step)
    if start < first or (left_open and start == first):
        start += step
    count = max(0, (hi - start) // step + 1)
    return start, start + (count - 1) * step, count


def check_step_budget(
    node: Any,
    grid: Grid,
    query_start_ms: int,
    query_end_ms: int,
    max_samples: int,
    *,
    left_open: bool = True,
) -> int:
    """Total steps over all nodes of ``node`` evaluated on ``grid``; raises :class:`TooManySamplesError` as
    soon as the running total exceeds ``max_samples``. Iterative (no recursion over deep trees). Exact for
    what the evaluator evaluates node by node; an upper bound where it reads an argument itself
    (``timestamp(x)``)."""
    total = 0
    stack: list[tuple[Any, Grid]] = [(node, grid)]
    while stack:
        current, g = stack.pop()
        total += g[2]
        if total > max_samples:
            raise TooManySamplesError
        if isinstance(current, promql_parser.SubqueryExpr):
            inner = subquery_grid(current, g, query_start_ms, query_end_ms, left_open=left_open)
            stack.append((current.expr, inner))
        elif isinstance(current, promql_parser.ParenExpr | promql_parser.UnaryExpr):
            stack.append((current.expr, g))
        elif isinstance(current, promql_parser.BinaryExpr):
            stack.extend(((current.lhs, g), (current.rhs, g)))
        elif isinstance(current, promql_parser.AggregateExpr):
            stack.extend((n, g) for n in (current.expr, current.param) if n is not None)
        elif isinstance(current, promql_parser.Call):
            stack.extend((arg, g) for arg in current.args)
    return total
