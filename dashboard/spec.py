"""What a platform's views give the pages: the queries that draw them, as plain data (no metric names here).

A :class:`dashboard.base.PlatformViews` implementation (one per platform type, see :mod:`dashboard.views`)
returns an :class:`OverviewSpec` for the overview and an :class:`AppSpec` for one app's page. Every value a
caller supplies (an app name or GUID) goes into a label matcher through :func:`quote` (as ``$app`` in the
templates), so it can never change the shape of a query.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["AppChart", "AppColumn", "AppSpec", "Figure", "Listing", "OverviewSpec", "Panel", "quote"]


def quote(value: str) -> str:
    """A PromQL string literal (double-quoted, backslash and quote escaped)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


@dataclass(frozen=True, slots=True)
class Figure:
    """One number: a query whose first sample is shown (``unit``: see :func:`dashboard._overview.fmt`)."""

    key: str
    title: str
    unit: str
    expr: str


@dataclass(frozen=True, slots=True)
class Listing:
    """A small table: one row per sample of ``expr``, cells from the labels ``columns`` (then the value)."""

    key: str
    title: str
    expr: str
    columns: tuple[str, ...]
    empty: str = "None."
    max_rows: int = 50


@dataclass(frozen=True, slots=True)
class Panel:
    """A section of the overview below the KPIs (a foundation component: capacity, Diego, ...)."""

    key: str
    title: str
    figures: tuple[Figure, ...]
    listing: Listing | None = None


@dataclass(frozen=True, slots=True)
class AppColumn:
    """A column of the overview's app table: ``expr`` returns one sample per app, keyed by the label
    :attr:`OverviewSpec.app_key` (and, when the spec names them, the display labels)."""

    key: str
    title: str
    unit: str
    expr: str


@dataclass(frozen=True, slots=True)
class OverviewSpec:
    """The overview's queries. ``app_key``: the label naming an app row (and its page, ``/apps/{key}``);
    ``app_name``: the label holding its display name (the key when empty); ``group_by``: labels whose values
    group the rows (e.g. org and space); ``platform_rows``: apps the platform adapter names get a row and
    their instances by state (the platform names apps by ``app_key``); ``not_apps``: keys that are no app
    (a router's catch-all backend) unless the platform names them; ``apps_expr``: lists the apps (by
    ``app_key``) when no platform adapter does."""

    title: str
    kpis: tuple[Figure, ...]
    sparklines: tuple[str, ...]
    app_key: str
    app_columns: tuple[AppColumn, ...]
    apps_expr: str
    app_name: str = ""
    group_by: tuple[str, ...] = ()
    platform_rows: bool = True
    not_apps: frozenset[str] = frozenset()
    panels: tuple[Panel, ...] = ()

    def exprs(self) -> list[str]:
        """Every query the overview runs (read at once by a snapshot)."""
        out = [k.expr for k in self.kpis] + [c.expr for c in self.app_columns]
        for p in self.panels:
            out += [f.expr for f in p.figures]
            if p.listing is not None:
                out.append(p.listing.expr)
        return out


@dataclass(frozen=True, slots=True)
class AppChart:
    """One panel of the app timeline: ``exprs`` are PromQL (``$app`` replaced by the quoted app key), or
    ``logs`` names log levels counted through the log search histogram API."""

    key: str
    title: str
    unit: str
    exprs: tuple[str, ...] = ()
    legend: str = ""  # label whose value names a series
    names: tuple[str, ...] = ()  # or a name per expr
    logs: tuple[str, ...] = ()

    def queries(self, app: str) -> list[str]:
        return [e.replace("$app", quote(app)) for e in self.exprs]


@dataclass(frozen=True, slots=True)
class AppSpec:
    """One app's page. ``charts`` are templates (:meth:`AppChart.queries` quotes the key in); the other
    queries already hold the quoted app key. ``identity``: a query whose first
    sample's labels name the app (``identity_labels``, e.g. app, org, space; "" when the key is the name);
    ``instances``: one sample per instance, value 1 when it runs, its index in label ``instance_label``
    (used when the platform adapter cannot answer for this key: ``platform_instances`` False);
    ``instance_expr``: the explore link of an instance, ``$index`` replaced by its index; ``alert_label``:
    the label of ``ALERTS`` holding the key (timeline markers); ``actions_by_name``: remediation actions name
    the app by its display name (from ``identity``), not by the key."""

    charts: tuple[AppChart, ...]
    instances: str
    instance_label: str
    instance_expr: str
    identity: str = ""
    identity_labels: tuple[str, ...] = ()
    platform_instances: bool = True
    alert_label: str = "app"
    actions_by_name: bool = False
    log_field: str = "app"  # the log search field holding the key (CF drains: the app GUID is `app_guid`)
