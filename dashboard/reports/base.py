"""Seams of the scheduled reports: what a section reads and what it gives back, as plain data.

A report is a list of sections. Each :class:`ReportSection` reads through a :class:`ReportContext` (the
dashboard's readers already narrowed to one tenant's scope, :func:`dashboard.scoping.scoped_sources`) and
returns a :class:`SectionResult`: figures, tables and charts, never HTML. The HTML email, the PDF and the
preview page draw the same results, so they show the same figures.

Adding a section is a few lines: a function ``(ctx) -> SectionResult`` wrapped by :func:`section`, appended
to the list given to :func:`dashboard.reports.build.build_report` (see ``default_sections``)::

    sections = [*default_sections(), section("slo", "SLOs", lambda ctx: slo_result(slo_status(...)))]

Threading: sections run in a worker thread (the readers are blocking and thread-safe); a section that raises
:class:`dashboard.base.ReaderError` or :class:`ReportError` shows as unavailable, the rest of the report
still renders.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from dashboard.base import PlatformViews, Sources
from platforms.tenancy import Scope

__all__ = [
    "Chart",
    "PatternLister",
    "ReportContext",
    "ReportError",
    "ReportSection",
    "SectionResult",
    "Table",
    "section",
]


class ReportError(Exception):
    """A report cannot be built, rendered or sent; the cause is chained."""


@dataclass(frozen=True, slots=True)
class Table:
    """Rows of already formatted cells under ``columns``; ``empty`` is shown when there are none."""

    title: str
    columns: tuple[str, ...]
    rows: Sequence[tuple[str, ...]]
    empty: str = "None."


@dataclass(frozen=True, slots=True)
class Chart:
    """One figure, drawn as PNG (:mod:`dashboard.reports.charts`). ``bars``: (label, value) drawn as a
    horizontal bar chart; else ``lines``: (name, Unix-second timestamps, values) as a time series chart.
    ``key`` is unique in the report (it names the image: ``cid:<key>@paramedic`` in the email)."""

    key: str
    title: str
    unit: str
    bars: list[tuple[str, float]] = field(default_factory=list)
    lines: list[tuple[str, list[float], list[float]]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class SectionResult:
    """What one section shows: ``figures`` (label, formatted value), tables, charts; ``note`` replaces
    them when the section could not be read (its data source failed or is not configured)."""

    key: str
    title: str
    figures: list[tuple[str, str]] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    note: str = ""


@runtime_checkable
class PatternLister(Protocol):
    """The log pattern miner's listing (``log_pipeline.patterns.PatternStats``): items with ``app``,
    ``pattern_id``, ``template``, ``count``, ``first_seen_ns``, ``org``, ``space``, only of ``scope``."""

    def list_patterns(self, app: str | None, limit: int, *, scope: Scope) -> Sequence[Any]: ...


@dataclass(frozen=True, slots=True)
class ReportContext:
    """What sections read: ``sources`` already scoped to ``scope`` (never the foundation's for a tenant),
    the window ``[start_s, end_s]`` (Unix seconds), the platform's views (the queries naming its metrics),
    the pattern listing (or None) and ``top_n``, the length of every ranking."""

    scope: Scope
    sources: Sources
    views: PlatformViews
    start_s: float
    end_s: float
    patterns: PatternLister | None = None
    top_n: int = 10

    @property
    def step_s(self) -> float:
        """The step of range queries over the window: about 240 points, at least 15 s."""
        return max(15.0, (self.end_s - self.start_s) / 240)


@runtime_checkable
class ReportSection(Protocol):
    """One section of a report (see the module docstring). ``build`` may raise ReaderError/ReportError."""

    @property
    def key(self) -> str: ...

    @property
    def title(self) -> str: ...

    def build(self, ctx: ReportContext) -> SectionResult | None:
        """The section's content, or None to leave it out of this report (e.g. foundation data in a space's
        report). Read only through ``ctx`` (its readers are the tenant's), never a foundation-wide object."""
        ...


@dataclass(frozen=True, slots=True)
class FunctionSection:
    key: str
    title: str
    fn: Callable[[ReportContext], SectionResult | None]
    foundation_only: bool = False

    def build(self, ctx: ReportContext) -> SectionResult | None:
        if self.foundation_only and not ctx.scope.is_foundation:
            return None
        return self.fn(ctx)


def section(
    key: str,
    title: str,
    fn: Callable[[ReportContext], SectionResult | None],
    *,
    foundation_only: bool = False,
) -> ReportSection:
    """A section from a function: ``section("slo", "SLOs", f)``. ``foundation_only``: left out of every
    tenant's report (foundation data such as cell capacity)."""
    return FunctionSection(key, title, fn, foundation_only)
