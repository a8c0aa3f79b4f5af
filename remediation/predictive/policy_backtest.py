"""``paramedic policy backtest`` for predictive policies: replay each app's stored load through the policy's
forecaster and decision, step by step, exactly as the live scaler would have fed it (out of sample: every
forecast is made from points before the time it is for).

Per step: the time, the actual load, the forecast that was made ``startup`` earlier for this time, the
instances the policy would have asked for and on what basis; per app a summary: the weighted absolute
percentage error and the mean absolute error of the forecasts over the window, and how many scale changes
it would have asked for. Rails are not replayed here (the rule replay of the other policies does that).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client import CollectorRegistry

from metrics_store.base import Querier
from metrics_store.config import StoreConfig
from metrics_store.factory import open_store
from metrics_store.remote.prom_api import PrometheusAPIQuerier
from remediation.actions.scale import ScaleParams
from remediation.config import Policy
from remediation.predictive.live_history import LoadHistory, aligned
from remediation.predictive.live_model import AppModel, FactoryFor, default_factory
from remediation.predictive.policy import Basis, decide
from remediation.predictive.policy_check import app_query, predictive_apps
from remediation.predictive.policy_config import MAX_HISTORY_POINTS

__all__ = ["AppBacktest", "BacktestStep", "backtest_predictive", "open_history", "step_rows"]

MAX_STEPS = 100_000  # steps of one app's replay (window / interval)
STEP_COLUMNS = ("time (UTC)", "app", "actual", "forecast", "instances", "reactive", "basis")


@dataclass(frozen=True, slots=True)
class BacktestStep:
    at: float
    actual: float
    forecast: float | None  # made `startup` earlier for this time (None: none matured here)
    instances: int
    reactive: int
    basis: Basis


@dataclass
class AppBacktest:
    policy: str
    app: str
    startup_s: float
    steps: list[BacktestStep] = field(default_factory=list)
    pairs: list[tuple[float, float, float]] = field(default_factory=list)  # (time, forecast, actual)

    @property
    def wape(self) -> float | None:
        total = sum(abs(a) for _, _, a in self.pairs)
        if not self.pairs or total == 0:
            return None
        return sum(abs(f - a) for _, f, a in self.pairs) / total

    @property
    def mae(self) -> float | None:
        if not self.pairs:
            return None
        return sum(abs(f - a) for _, f, a in self.pairs) / len(self.pairs)

    @property
    def changes(self) -> int:
        return sum(1 for a, b in zip(self.steps, self.steps[1:], strict=False) if a.instances != b.instances)

    def summary(self) -> str:
        wape = "n/a" if self.wape is None else f"{self.wape:.3f}"
        mae = "n/a" if self.mae is None else f"{self.mae:.3g}"
        return (
            f"{self.policy} {self.app}: {len(self.steps)} steps, {len(self.pairs)} forecasts "
            f"{self.startup_s:g}s ahead compared with the actual: error (WAPE) {wape}, MAE {mae}; "
            f"{self.changes} scale changes asked"
        )


def _read_all(
    history: LoadHistory, policy: Policy, app: str, start: float, end: float
) -> list[tuple[float, float]]:
    """Every point of ``[start, end]`` at the policy's interval, read in chunks the query limits allow."""
    spec = policy.predictive
    assert spec is not None
    expr, scope = app_query(spec.query, app), policy.tenant_scope()
    chunk = (MAX_HISTORY_POINTS - 1) * spec.interval
    out: list[tuple[float, float]] = []
    t = start
    while t <= end:
        part_end = min(end, t + chunk)
        out.extend(history.read(scope, expr, t, part_end, spec.interval))
        t = part_end + spec.interval
    return out


def _replay_app(
    policy: Policy, app: str, points: list[tuple[float, float]], start: float, factory_for: FactoryFor
) -> AppBacktest:
    spec = policy.predictive
    assert spec is not None and isinstance(policy.action, ScaleParams)
    result = AppBacktest(policy.name, app, spec.startup)
    model = AppModel(spec, factory_for(spec))
    model.fit([p for p in points if start - spec.history <= p[0] < start], start)
    for t, v in points:
        if t < start:
            continue
        if model.needs_fit(t):
            model.fit([p for p in points if t - spec.history <= p[0] < t], t)
        matured = model.feed([(t, v)])
        result.pairs.extend(matured)
        d = decide(
            spec,
            actual=v,
            forecast=model.forecast,
            error=model.ledger.error(),
            min_instances=policy.action.min_instances,
            max_instances=policy.action.max_instances,
        )
        made = matured[-1][1] if matured else None
        result.steps.append(BacktestStep(t, v, made, d.instances, d.reactive, d.basis))
    return result


def backtest_predictive(
    policy: Policy,
    history: LoadHistory,
    start: float,
    end: float,
    *,
    factory_for: FactoryFor = default_factory,
) -> list[AppBacktest]:
    """Replay ``policy`` (predictive) over ``[start, end]`` (seconds) for each of its apps; the model is
    trained on the ``history`` before ``start`` first. ``ValueError`` for a window of too many steps."""
    spec = policy.predictive
    if spec is None:
        raise ValueError(f"policy {policy.name} is not predictive")
    start, end = aligned(start, spec.interval), aligned(end, spec.interval)
    if (end - start) / spec.interval > MAX_STEPS:
        raise ValueError(f"{(end - start) / spec.interval:.0f} steps: at most {MAX_STEPS} (shorten --since)")
    out = []
    for app in predictive_apps(policy):
        points = _read_all(history, policy, app, start - spec.history, end)
        out.append(_replay_app(policy, app, points, start, factory_for))
    return out


def step_rows(result: AppBacktest, fmt_time: Callable[[float], str]) -> list[tuple[str, ...]]:
    """One row per step in :data:`STEP_COLUMNS` order."""
    return [
        (
            fmt_time(s.at),
            result.app,
            f"{s.actual:.3g}",
            "" if s.forecast is None else f"{s.forecast:.3g}",
            str(s.instances),
            str(s.reactive),
            s.basis,
        )
        for s in result.steps
    ]


def open_history(
    store: StoreConfig | None, base_dir: Path, url: str | None, token: str | None
) -> tuple[Querier, Callable[[], None]]:
    """The querier the history is read from (a server's query API at ``url``, else the configured store
    opened under ``base_dir``) and how to close it."""
    if url is not None:
        remote = PrometheusAPIQuerier(url, token=token)
        return remote, remote.close
    if store is None:
        raise ValueError("no metrics_store configured and no --url")
    opened = open_store(store, base_dir, registry=CollectorRegistry())
    return opened, opened.close
