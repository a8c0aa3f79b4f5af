"""What one principal's pages read: the dashboard's :class:`~dashboard.base.Sources` narrowed to its scope.

Enforcement happens at the readers, in the server, never in a page: :func:`scoped_sources` gives each page
handler sources that cannot return another tenant's data (the handler passes ``scope_of(request)``).

- metrics: the reader's own ``scoped(scope)`` (the server's pushes the scope's org/space matchers into every
  store read, :mod:`metrics_store.scoped`: aggregates and counts only ever see covered series); a reader that
  cannot scope itself is replaced by one that sees nothing (fail closed, no post-filter whose counts leak);
- alerts and actions: the reader's ``scoped(scope)`` when it has one, else the list filtered by each item's
  org/space (single objects: an alert's labels, an action's ``org``/``space`` fields; one without an org is
  the foundation's and hidden);
- the platform adapter (it lists every app of the foundation): its ``scoped(scope)`` or nothing, so a scoped
  principal's app list comes from its scoped metrics;
- platform events are read for one app whose coverage the page checked first (:func:`covered_apps`);
- SLOs: the reader's ``scoped(scope)`` or nothing.

The foundation scope gets the sources unchanged.
"""

from __future__ import annotations

from typing import Any

from dashboard.base import (
    ActionsReader,
    AlertsReader,
    InstantSample,
    MetricsReader,
    PlatformReader,
    RangeSeries,
    Sources,
)
from platforms.tenancy import ORG_LABEL, SPACE_LABEL, Scope

__all__ = ["NoMetrics", "ScopedActions", "ScopedAlerts", "scope_label", "scoped_sources"]


class NoMetrics:
    """A :class:`~dashboard.base.MetricsReader` that sees nothing (a reader that cannot be scoped)."""

    def instant(self, expr: str) -> list[InstantSample]:
        return []

    def range(self, expr: str, start_s: float, end_s: float, step_s: float) -> list[RangeSeries]:
        return []


class ScopedAlerts:
    """The firing alerts of ``inner`` whose labels the scope covers."""

    def __init__(self, inner: AlertsReader, scope: Scope) -> None:
        self.inner, self.scope = inner, scope

    def firing(self) -> list[dict[str, Any]]:
        return [a for a in self.inner.firing() if self.scope.sees_labels(dict(a.get("labels") or {}))]


class ScopedActions:
    """The actions of ``inner`` whose ``org``/``space`` the scope covers (an action without an org acts on
    the foundation and is hidden). ``limit`` applies after the filter: ``inner`` is asked for more."""

    def __init__(self, inner: ActionsReader, scope: Scope, *, overfetch: int = 10) -> None:
        self.inner, self.scope, self.overfetch = inner, scope, overfetch

    def recent(
        self, *, app: str | None = None, since_s: float | None = None, limit: int = 20
    ) -> list[dict[str, Any]]:
        found = self.inner.recent(app=app, since_s=since_s, limit=limit * self.overfetch)
        return [a for a in found if self.scope.sees_labels(_tenant(a))][:limit]


def _tenant(action: dict[str, Any]) -> dict[str, str]:
    return {ORG_LABEL: str(action.get(ORG_LABEL) or ""), SPACE_LABEL: str(action.get(SPACE_LABEL) or "")}


def _own_scoped(reader: Any, scope: Scope) -> Any:
    """``reader.scoped(scope)`` when the reader scopes itself, else None."""
    method = getattr(reader, "scoped", None)
    return method(scope) if callable(method) else None


def scoped_sources(sources: Sources, scope: Scope) -> Sources:
    """``sources`` as ``scope`` may read them (see the module docstring); unchanged for the foundation."""
    if scope.is_foundation:
        return sources
    metrics: MetricsReader = _own_scoped(sources.metrics, scope) or NoMetrics()
    alerts: AlertsReader | None = None
    if sources.alerts is not None:
        alerts = _own_scoped(sources.alerts, scope) or ScopedAlerts(sources.alerts, scope)
    actions: ActionsReader | None = None
    if sources.actions is not None:
        actions = _own_scoped(sources.actions, scope) or ScopedActions(sources.actions, scope)
    platform: PlatformReader | None = (
        _own_scoped(sources.platform, scope) if sources.platform is not None else None
    )
    return Sources(
        metrics=metrics,
        alerts=alerts,
        actions=actions,
        platform=platform,
        platform_events=sources.platform_events,
        slos=_own_scoped(sources.slos, scope) if sources.slos is not None else None,
    )


def scope_label(scope: Scope, role: str) -> str:
    """What the nav shows: the role for a foundation-wide principal (``admin``), else each grant as
    ``acme/prod · viewer``, joined by ``, ``."""
    if scope.is_foundation or scope.grants is None:
        return role
    return ", ".join(f"{g.tenant} · {g.role}" for g in scope.grants) or "no space"
