"""Where each SLO stands: attainment, error budget remaining and burn rate, read from the raw series.

:func:`slo_status` is the one function the API, the app page and the scheduled reports call. It evaluates
the SLO's error ratio over any ``[start, end]`` directly from the router/histogram series (request-weighted,
like Pyrra), so it answers for a report's week as well as for the SLO's own window, and it needs no history
of the recording rules. Tenancy: only SLOs whose ``org``/``space`` the scope covers are returned, and their
queries run through :func:`metrics_store.scoped.scoped`, so the store never hands back another tenant's
series.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from prometheus_client import CollectorRegistry

from alerting.slo.generate import error_ratio_expr
from alerting.slo.spec import Slo
from metrics_store.base import Querier
from metrics_store.promql import Engine, QueryError, Scalar, Vector
from metrics_store.scoped import scoped
from platforms.tenancy import Scope

__all__ = ["SloStatus", "slo_status", "visible"]

_BURN_WINDOW_S = 3600


@dataclass(frozen=True, slots=True)
class SloStatus:
    """One SLO over ``[start_s, end_s]``. Ratios are 0..1; None = no requests in the range (or a failed
    query: ``error`` says which).

    ``attainment``: good / total requests; ``error_budget_remaining``: 1 - error ratio / allowed error ratio
    (negative once the budget is spent); ``burn_rate``: error ratio of the last hour / allowed error ratio
    (1 = spending the budget exactly over the SLO window)."""

    key: str
    name: str
    org: str
    space: str
    app: str | None
    sli: str
    objective: float  # percent
    window: str
    start_s: float
    end_s: float
    attainment: float | None
    error_budget_remaining: float | None
    burn_rate: float | None
    error: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def visible(slos: Iterable[Slo], scope: Scope) -> list[Slo]:
    """The SLOs of tenants ``scope`` covers."""
    return [s for s in slos if scope.sees(s.org, s.space)]


def _ratio(engine: Engine, slo: Slo, range_s: int, at_ms: int) -> float | None:
    value = engine.instant_query(error_ratio_expr(slo, f"{max(range_s, 1)}s"), at_ms)
    if isinstance(value, Scalar):
        out = value.value
    elif isinstance(value, Vector) and value.samples:
        out = value.samples[0].value
    else:
        return None
    return None if math.isnan(out) or math.isinf(out) else min(max(out, 0.0), 1.0)


def _one(engine: Engine, slo: Slo, start_s: float, end_s: float) -> SloStatus:
    at_ms = round(end_s * 1000)
    budget = slo.error_budget
    attainment = remaining = burn = None
    error = ""
    try:
        ratio = _ratio(engine, slo, round(end_s - start_s), at_ms)
        recent = _ratio(engine, slo, _BURN_WINDOW_S, at_ms)
    except QueryError as exc:
        ratio = recent = None
        error = f"query failed: {exc}"
    if ratio is not None:
        attainment = 1.0 - ratio
        remaining = 1.0 - ratio / budget
    if recent is not None:
        burn = recent / budget
    return SloStatus(
        key=slo.key,
        name=slo.name,
        org=slo.org,
        space=slo.space,
        app=slo.app,
        sli=slo.sli.type,
        objective=slo.objective,
        window=slo.window,
        start_s=start_s,
        end_s=end_s,
        attainment=attainment,
        error_budget_remaining=remaining,
        burn_rate=burn,
        error=error,
    )


def slo_status(
    querier: Querier | Engine, slos: Iterable[Slo], scope: Scope, start_s: float | None, end_s: float
) -> list[SloStatus]:
    """Status of every SLO of ``slos`` that ``scope`` sees, over ``[start_s, end_s]`` (Unix seconds;
    ``start_s`` None: each SLO's own window ending at ``end_s``). ``querier`` is the metrics store (or an
    :class:`~metrics_store.promql.Engine` over it, whose limits then apply); queries are tenant-scoped."""
    if isinstance(querier, Engine):
        engine = querier.with_querier(scoped(querier.querier, scope))
    else:
        engine = Engine(scoped(querier, scope), registry=CollectorRegistry())
    out = []
    for slo in visible(slos, scope):
        start = end_s - slo.days * 86400 if start_s is None else start_s
        out.append(_one(engine, slo, start, end_s))
    return out
