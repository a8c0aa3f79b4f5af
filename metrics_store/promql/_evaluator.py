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
from metrics_store.promql.errors import QueryExecutionError, UnsupportedError
from metrics_store.promql.functions import FUNCTIONS

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
        return eval_vector_selector(ctx, node)
    if isinstance(node, promql_parser.MatrixSelector):
        return eval_matrix_selector(ctx, node)
    if isinstance(node, promql_parser.UnaryExpr):
        return _negate(evaluate(ctx, node.expr))
    if isinstance(node, promql_parser.Call):
        name = str(node.func.name)
        impl = FUNCTIONS.get(name)
        if impl is None:
            raise UnsupportedError(f"function {name} is not supported yet")
        return impl(ctx, [evaluate(ctx, arg) for arg in node.args])
    if isinstance(node, promql_parser.AggregateExpr):
        op = op_name(node.op)
        inner = evaluate(ctx, node.expr)
        if not isinstance(inner, VectorSteps):
            raise QueryExecutionError(f"expected instant vector in aggregation, got {type_name(inner)}")
        if node.param is not None:
            raise UnsupportedError(f"aggregation {op} is not supported yet")
        return aggregate(ctx, op, inner, node.modifier)
    if isinstance(node, promql_parser.BinaryExpr):
        return binary(ctx, node, evaluate(ctx, node.lhs), evaluate(ctx, node.rhs))
    if isinstance(node, promql_parser.SubqueryExpr):
        raise UnsupportedError("subqueries are not supported yet")
    raise UnsupportedError(f"expression {type(node).__name__} is not supported yet")


def _negate(value: EvalValue) -> EvalValue:
    if isinstance(value, ScalarSteps):
        return ScalarSteps(-value.values)
    if isinstance(value, VectorSteps):
        return VectorSteps(
            merge_same_labels(StepSeries(drop_name(s.labels), -s.values, s.present) for s in value.series)
        )
    raise QueryExecutionError(f"unary minus is not defined on {type_name(value)}")
