"""Synthetic router/histogram data in a real embedded store, and a rule manager over it."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from prometheus_client import CollectorRegistry

from alerting.rules import AlertState, RuleManager, RuleOptions
from metrics_store.embedded.store import EmbeddedStore
from metrics_store.model import labels_from
from metrics_store.promql import Engine, Vector

MIN_S = 60
T0 = 1_700_000_000 - 1_700_000_000 % 3600  # an hour boundary: windows line up with the data's minutes


def counters(
    store: EmbeddedStore,
    total: dict[str, str],
    errors: dict[str, str],
    minutes: int,
    error_ratio: Callable[[int], float],
    rps: float = 10.0,
    *,
    good_only: bool = False,
) -> None:
    """Two counters sampled every minute from T0: all requests (``good_only``: the good ones, like a
    ``code="2xx"`` series beside ``code="5xx"``), and the failed ones (``error_ratio(m)`` of minute ``m``'s
    requests)."""
    t_ref, e_ref = store.series_ref(labels_from(total)), store.series_ref(labels_from(errors))
    tot = err = 0.0
    refs: list[int] = []
    ts: list[int] = []
    vals: list[float] = []
    for m in range(minutes + 1):
        refs += [t_ref, e_ref]
        ts += [(T0 + m * MIN_S) * 1000] * 2
        vals += [tot, err]
        tot += rps * MIN_S * (1.0 - error_ratio(m) if good_only else 1.0)
        err += rps * MIN_S * error_ratio(m)
    store.append(refs, ts, vals)


def manager(store: EmbeddedStore, files: Sequence[Path]) -> tuple[RuleManager, Engine]:
    reg = CollectorRegistry()
    engine = Engine(store, registry=reg)
    mgr = RuleManager(
        [str(f) for f in files], engine, store, None, lambda: 0.0, reg, options=RuleOptions(interval_s=60)
    )
    return mgr, engine


def run(mgr: RuleManager, times_s: Sequence[int]) -> None:
    for t in times_s:
        mgr.eval_due(t)


def firing(mgr: RuleManager) -> Iterator[dict[str, str]]:
    """Labels of every firing alert."""
    for g in mgr.groups:
        for rule in g.alerting_rules():
            for a in rule.active.values():
                if a.state is AlertState.FIRING:
                    yield dict(a.labels)


def values(engine: Engine, expr: str, at_s: int) -> dict[frozenset[tuple[str, str]], float]:
    result = engine.instant_query(expr, at_s * 1000)
    assert isinstance(result, Vector)
    return {frozenset(dict(s.labels).items()): s.value for s in result.samples}
