"""Walks the parsed AST once, evaluating every node for all steps of the query (see ``_steps``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import promql_parser

from metrics_store.promql._aggregate import aggregate
from metrics_store.promql._ast import op_name
from metrics_store.promql._binary import binary
from metrics_store.promql._context import EvalContext
from metrics_store.promql._selectors import eval_matrix_selector, eval_vector_selector
from metrics_store.promql._sliced import PER_SERIES, eval_sliced, unwrap_matrix
from metrics_store.promql._steps import (
    EvalValue,
    ScalarSteps,
    StepSeries,
    StringValue,
    VectorSteps,
    drop_name,
    merge_same_labels,
    type_name,
)
from metrics_store.promql._subquery import eval_subquery
from metrics_store.promql.errors import QueryExecutionError, QueryParseError, UnsupportedError
from metrics_store.promql.functions import FUNCTIONS, NODE_FUNCTIONS, NOT_IN_PROMETHEUS_2_42

__all__ = ["evaluate"]


def evaluate(ctx: EvalContext, node: Any) -> EvalValue:
    """Value of ``node`` at every step of ``ctx``; checks the deadline and the sample limit per node."""
    ctx.check_deadline()
    value = _dispatch(ctx, node)
    ctx.check_samples(value.num_samples())
    return value


def _dispatch(ctx: EvalContext, node: Any) -> EvalValue:
    if isinstance(node, promql_parser.NumberLiteral):
        return ScalarSteps(np.full(ctx.num_steps, float(node.val)))
    if isinstance(node, promql_parser.StringLiteral):
        return StringValue(str(node.val))
    if isinstance(node, promql_parser.ParenExpr):
        return evaluate(ctx, node.expr)
    if isinstance(node, promql_parser.VectorSelector):
        sliced = eval_sliced(ctx, node)
        return eval_vector_selector(ctx, node) if sliced is None else sliced
    if isinstance(node, promql_parser.MatrixSelector):
        return eval_matrix_selector(ctx, node)
    if isinstance(node, promql_parser.UnaryExpr):
        return _negate(evaluate(ctx, node.expr))
    if isinstance(node, promql_parser.Call):
        return _call(ctx, node)
    if isinstance(node, promql_parser.AggregateExpr):
        op = op_name(node.op)
        inner = evaluate(ctx, node.expr)
        if not isinstance(inner, VectorSteps):
            raise QueryExecutionError(f"expected instant vector in aggregation, got {type_name(inner)}")
        param = None if node.param is None else evaluate(ctx, node.param)
        return aggregate(ctx, op, inner, node.modifier, param)
    if isinstance(node, promql_parser.BinaryExpr):
        return binary(ctx, node, evaluate(ctx, node.lhs), evaluate(ctx, node.rhs))
    if isinstance(node, promql_parser.SubqueryExpr):
        return eval_subquery(ctx, node, evaluate)
    raise UnsupportedError(f"expression {type(node).__name__} is not supported yet")


def _call(ctx: EvalContext, node: Any) -> EvalValue:
    name = str(node.func.name)
    if name in NOT_IN_PROMETHEUS_2_42 and ctx.semantics.version == "2":
        raise QueryParseError(f'parse error: unknown function with name "{name}"')
    syntactic = NODE_FUNCTIONS.get(name)
    if syntactic is not None:
        if name == "timestamp" and isinstance(_unwrap(node.args[0]), promql_parser.VectorSelector):
            return syntactic(ctx, node, [])  # reads the selector itself: the samples' own timestamps
        return syntactic(ctx, node, [evaluate(ctx, arg) for arg in node.args])
    impl = FUNCTIONS.get(name)
    if impl is None:
        raise UnsupportedError(f"function {name} is not supported yet")
    if name in PER_SERIES and len(node.args) == 1 and (matrix := unwrap_matrix(node.args[0])) is not None:
        sliced = eval_sliced(ctx, matrix, impl)
        if sliced is not None:
            return sliced
    return impl(ctx, [evaluate(ctx, arg) for arg in node.args])


def _unwrap(node: Any) -> Any:
    while isinstance(node, promql_parser.ParenExpr):
        node = node.expr
    return node


def _negate(value: EvalValue) -> EvalValue:
    if isinstance(value, ScalarSteps):
        return ScalarSteps(-value.values)
    if isinstance(value, VectorSteps):
        return VectorSteps(
            merge_same_labels(StepSeries(drop_name(s.labels), -s.values, s.present) for s in value.series)
        )
    raise QueryExecutionError(f"unary minus is not defined on {type_name(value)}")
