"""Seams of the dashboard: what the pages read, as plain data.

The dashboard only reads. It imports nothing from the wiring (``paramedic``) nor from the pipeline packages;
the wiring implements these Protocols over the metrics store's PromQL engine, the alert dispatcher, the
remediation audit log and the platform adapter, and hands them to :func:`dashboard.app.dashboard_router`.

Thread safety: page handlers call readers from a worker thread (Starlette's threadpool), several at once, so
every implementation must be safe to call from any thread. Readers return fresh lists the caller owns.
Tenancy: a reader may offer ``scoped(scope)`` returning a reader that sees only that
:class:`platforms.tenancy.Scope`'s data; the pages read through :func:`dashboard.scoping.scoped_sources`,
which fails closed for a metrics or platform reader without it.
Errors: a reader raises :class:`ReaderError` (with the cause chained) when its source fails; the page shows
the section as unavailable instead of failing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from dashboard.spec import AppSpec, OverviewSpec

__all__ = [
    "ActionsReader",
    "AlertsReader",
    "InstanceInfo",
    "InstantSample",
    "MetricsReader",
    "PlatformEventsReader",
    "PlatformReader",
    "PlatformViews",
    "RangeSeries",
    "ReaderError",
    "SloReader",
    "Sources",
]


class ReaderError(Exception):
    """A reader's source failed (bad query, platform API down); the source's exception is chained."""


@dataclass(frozen=True, slots=True)
class InstantSample:
    labels: dict[str, str]
    value: float


@dataclass(frozen=True, slots=True)
class RangeSeries:
    """One series: parallel Unix-second timestamps and values, ascending by time."""

    labels: dict[str, str]
    timestamps_s: list[float]
    values: list[float]


@dataclass(frozen=True, slots=True)
class InstanceInfo:
    """One app instance as the platform reports it (``state``: RUNNING, STARTING, CRASHED, DOWN, ...)."""

    app: str
    index: int
    state: str
    revision: str = ""
    details: dict[str, str] = field(default_factory=dict)


@runtime_checkable
class MetricsReader(Protocol):
    """PromQL over the metrics store, evaluated at "now" (the reader owns the clock)."""

    def instant(self, expr: str) -> list[InstantSample]:
        """An instant query; a scalar result is one sample with no labels."""
        ...

    def range(self, expr: str, start_s: float, end_s: float, step_s: float) -> list[RangeSeries]:
        """A range query from ``start_s`` to ``end_s`` (Unix seconds) every ``step_s``."""
        ...


@runtime_checkable
class AlertsReader(Protocol):
    def firing(self) -> list[dict[str, Any]]:
        """Unresolved alerts: ``labels``, ``annotations`` (str -> str), ``starts_at`` (Unix seconds) and
        ``state`` ("active" or "suppressed"), oldest first."""
        ...


@runtime_checkable
class ActionsReader(Protocol):
    def recent(
        self, *, app: str | None = None, since_s: float | None = None, limit: int = 20
    ) -> list[dict[str, Any]]:
        """Remediation actions, newest first: ``id``, ``action``, ``deployment`` (True when the action drives
        deployments, e.g. a rollback or blue-green, rather than instances), ``target`` (app or app/index),
        ``app``, ``status``, ``policy``, ``mode``, ``created_at`` and ``updated_at`` (Unix seconds), and the
        tenant ``org`` and ``space`` ("" for an action on the foundation: no scoped principal sees it); a
        predictive scale also carries ``predictive``: ``basis``, ``forecast`` (for ``horizon_s`` ahead),
        ``actual`` (the load measured then), ``instances`` and ``reactive`` (what the reactive rule asked)."""
        ...


@runtime_checkable
class PlatformReader(Protocol):
    def apps(self) -> list[str]:
        """App names, sorted."""
        ...

    def instances(self, app: str) -> list[InstanceInfo]:
        """The app's instances now, by index."""
        ...


@runtime_checkable
class PlatformViews(Protocol):
    """Which queries draw the pages on one platform type (its metric names live in its views module only;
    :mod:`dashboard.views` picks the implementation by the configured platform type). Pure: no I/O, safe to
    call from any thread."""

    def overview(self) -> OverviewSpec:
        """The overview's KPIs, sparklines, app table columns and foundation panels."""
        ...

    def app(self, app: str) -> AppSpec:
        """The page of the app keyed ``app`` (a name; a GUID on Cloud Foundry): charts, instances, title."""
        ...


class PlatformEventsReader(Protocol):
    def events(self, app: str, start_s: float, end_s: float) -> tuple[list[dict[str, Any]], str]:
        """The platform's own events of ``app`` (push, crash, restart, scale, deployment) in the window,
        oldest first and bounded: ``t`` (Unix seconds), ``kind``, ``summary``, ``actor``; and a note, empty
        unless they could not be read (then the list is empty). Never raises for a platform failure."""
        ...


@runtime_checkable
class SloReader(Protocol):
    """Service level objectives (``alerting.slo``). Must offer ``scoped(scope)`` too: without it a scoped
    page shows no SLOs (fail closed)."""

    def for_app(self, app: str, tenant: tuple[str, str] | None = None) -> list[dict[str, Any]]:
        """The SLOs of the app named ``app`` (of space ``tenant`` = (org, space) when given: a name may live
        in several spaces) over their own window ending now: ``name``, ``sli``,
        ``objective`` (percent), ``window``, and ratios ``attainment``, ``error_budget_remaining``,
        ``burn_rate`` (None: no requests, or ``error`` says why)."""
        ...


@dataclass(frozen=True, slots=True)
class Sources:
    """Everything the pages read. Optional sources show as "not configured" (no alerting, no remediation,
    no platform adapter: apps are then taken from the ``app`` label of the metrics)."""

    metrics: MetricsReader
    alerts: AlertsReader | None = None
    actions: ActionsReader | None = None
    platform: PlatformReader | None = None
    platform_events: PlatformEventsReader | None = None  # the timeline's platform events, when it has them
    slos: SloReader | None = None  # error budgets on the app page, when SLO files are loaded
