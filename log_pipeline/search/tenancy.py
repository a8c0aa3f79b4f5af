"""Tenant scope as a log query: the filter every read of a scoped principal is ANDed with, in the store.

A tenant scope (:class:`platforms.tenancy.Scope` with grants) sees the log records whose ``org``/``space``
labels a grant covers: the filter is ``(org:O1 AND space:S1) OR (org:O2) OR ...`` over the labels, as
equality terms. :func:`restrict` ANDs it with the user's query AST, so each backend translates one query
(tantivy: a boolean query with the filter as a ``Must`` clause; Elasticsearch: a ``bool.filter``) and the
store itself counts, sorts and pages only the scope's records: nothing a user writes (``NOT space:prod``,
``space:*``, a regex on ``org``) can widen it, because it only narrows the user's part of the AND. A scope
without grants sees nothing (``NOT *``); the foundation scope adds nothing. Records without an org
(router, cells, controller) are foundation-only.
"""

from __future__ import annotations

from log_pipeline.search.query import And, FieldRef, MatchAll, Node, Not, Or, Term
from platforms.tenancy import ORG_LABEL, SPACE_LABEL, Scope

__all__ = ["restrict", "scope_node"]

_ORG, _SPACE = FieldRef("label", ORG_LABEL), FieldRef("label", SPACE_LABEL)


def scope_node(scope: Scope) -> Node | None:
    """The records ``scope`` sees as a query AST; None for the foundation scope (everything)."""
    if scope.grants is None:
        return None
    items: list[Node] = []
    for sel in scope.selectors():
        terms: list[Node] = [Term(_ORG, sel[ORG_LABEL])]
        if SPACE_LABEL in sel:
            terms.append(Term(_SPACE, sel[SPACE_LABEL]))
        items.append(terms[0] if len(terms) == 1 else And(tuple(terms)))
    if not items:
        return Not(MatchAll())
    return items[0] if len(items) == 1 else Or(tuple(items))


def restrict(node: Node, scope: Scope) -> Node:
    """``node`` AND the scope's filter (``node`` itself for the foundation scope)."""
    only = scope_node(scope)
    if only is None:
        return node
    if isinstance(node, MatchAll):
        return only
    return And((node, only))
