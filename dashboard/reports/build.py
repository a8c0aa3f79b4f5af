"""Build a report: run each section over one tenant's scoped readers, then draw its charts once.

``build_report`` never lets a section's failure sink the report: a section whose source fails
(:class:`~dashboard.base.ReaderError`, :class:`~dashboard.reports.base.ReportError`) shows a note instead.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from dashboard.base import ReaderError
from dashboard.reports.base import ReportContext, ReportError, ReportSection, SectionResult
from dashboard.reports.charts import chart_png
from dashboard.reports.incidents import IncidentsSection
from dashboard.reports.patterns import PatternsSection
from dashboard.reports.remediation import RemediationSection
from dashboard.reports.top_apps import TopAppsSection

__all__ = ["Report", "build_report", "default_sections", "tenant_title"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Report:
    """A built report: ``charts`` maps each chart key to its PNG (the same figures in HTML and PDF)."""

    title: str
    tenant: str
    start_s: float
    end_s: float
    generated_s: float
    sections: list[SectionResult]
    charts: dict[str, bytes]


def default_sections() -> list[ReportSection]:
    """The built-in sections, in report order (append the SLO and capacity sections to this list)."""
    return [IncidentsSection(), RemediationSection(), PatternsSection(), TopAppsSection()]


def tenant_title(ctx: ReportContext) -> str:
    """``foundation`` or the scope's tenants (``acme/prod, globex``)."""
    grants = ctx.scope.grants
    if grants is None:
        return "foundation"
    return ", ".join(sorted({g.tenant for g in grants})) or "nothing"


def _run(section: ReportSection, ctx: ReportContext) -> SectionResult | None:
    try:
        return section.build(ctx)
    except (ReaderError, ReportError) as exc:
        log.warning("report section %s: %s", section.key, exc)
        return SectionResult(section.key, section.title, note=f"Unavailable: {exc}")


def build_report(
    ctx: ReportContext, sections: Sequence[ReportSection] | None = None, *, title: str = "Paramedic report"
) -> Report:
    """Every section of ``sections`` (default: :func:`default_sections`) over ``ctx``, charts drawn."""
    built = [_run(s, ctx) for s in (default_sections() if sections is None else sections)]
    results = [r for r in built if r is not None]
    charts: dict[str, bytes] = {}
    for result in results:
        for chart in result.charts:
            if chart.key in charts:
                raise ReportError(f"two charts are keyed {chart.key!r}")
            charts[chart.key] = chart_png(chart)
    return Report(title, tenant_title(ctx), ctx.start_s, ctx.end_s, time.time(), results, charts)
