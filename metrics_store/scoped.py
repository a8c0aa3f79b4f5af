"""A :class:`~metrics_store.base.Querier` that sees only one tenant scope's series.

Enforcement at the store seam, the way multi-tenant Cortex/Mimir isolate tenants and prom-label-proxy injects
its label: every selector a query evaluates (in subqueries, under ``@``, in ``absent()``, in ``or``/``unless``
operands, the ``match[]`` of ``series``/``labels``) reaches the store through ``select``/``series``, and here
each call runs once per grant of the scope with that grant's equality matchers (``org``, ``space``) added, so
the store itself (the embedded one, or VictoriaMetrics as a selector) returns only covered series. What a
query does with them afterwards (``label_replace`` onto the tenant labels, ``count by (space)``) cannot bring
back a series the store never returned.
"""

from __future__ import annotations

from collections.abc import Sequence

from metrics_store.base import Querier
from metrics_store.model import Labels, Matcher, MatchOp, SeriesData
from platforms.tenancy import Scope

__all__ = ["ScopedQuerier", "scoped"]


class ScopedQuerier:
    def __init__(self, inner: Querier, scope: Scope) -> None:
        if scope.is_foundation:
            raise ValueError(
                "ScopedQuerier needs a tenant scope (the foundation scope sees the store itself)"
            )
        self.inner = inner
        self.scope = scope
        self._extra = [
            [Matcher(name, MatchOp.EQ, value) for name, value in sorted(sel.items())]
            for sel in scope.selectors()
        ]

    def select(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> list[SeriesData]:
        out: dict[Labels, SeriesData] = {}
        for extra in self._extra:
            for s in self.inner.select([*matchers, *extra], start_ms, end_ms):
                out.setdefault(s.labels, s)  # an org grant and a space grant of that org overlap
        return list(out.values())

    def series(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> list[Labels]:
        out: dict[Labels, None] = {}
        for extra in self._extra:
            out.update(dict.fromkeys(self.inner.series([*matchers, *extra], start_ms, end_ms)))
        return list(out)


def scoped(querier: Querier, scope: Scope) -> Querier:
    """``querier`` itself for the foundation scope, else a :class:`ScopedQuerier` over it."""
    return querier if scope.is_foundation else ScopedQuerier(querier, scope)
