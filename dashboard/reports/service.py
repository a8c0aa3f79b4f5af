"""The report service: builds one tenant's report over the dashboard's readers (narrowed to that tenant with
:func:`dashboard.scoping.scoped_sources`, the same enforcement the pages use) and counts what it does.

Metrics (in the injected registry): ``paramedic_reports_built_total``,
``paramedic_report_build_seconds`` (histogram), ``paramedic_reports_sent_total``,
``paramedic_report_errors_total{reason}`` (``build``, ``send``, ``timeout``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from prometheus_client import CollectorRegistry, Counter, Histogram

from dashboard.base import PlatformViews, Sources
from dashboard.reports.base import PatternLister, ReportContext, ReportSection
from dashboard.reports.build import Report, build_report
from dashboard.scoping import scoped_sources
from platforms.tenancy import Scope

__all__ = ["ReportMetrics", "Reporter"]


class ReportMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.built = Counter("paramedic_reports_built_total", "Reports built.", registry=registry)
        self.build_seconds = Histogram(
            "paramedic_report_build_seconds",
            "Time to build one report (queries, charts).",
            buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
            registry=registry,
        )
        self.sent = Counter(
            "paramedic_reports_sent_total", "Report emails accepted by SMTP.", registry=registry
        )
        self.errors = Counter(
            "paramedic_report_errors_total", "Reports not built or not sent.", ["reason"], registry=registry
        )
        for reason in ("build", "send", "timeout"):
            self.errors.labels(reason)


class Reporter:
    """Builds reports over ``sources`` (the foundation's; every build narrows them to its scope)."""

    def __init__(
        self,
        sources: Sources,
        views: PlatformViews,
        *,
        patterns: PatternLister | None = None,
        sections: Sequence[ReportSection] | None = None,
        top_n: int = 10,
        registry: CollectorRegistry | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.sources, self.views, self.patterns = sources, views, patterns
        self.sections = list(sections) if sections is not None else None
        self.top_n = top_n
        self.metrics = ReportMetrics(registry or CollectorRegistry())
        self.clock = clock

    def context(self, scope: Scope, period_s: float) -> ReportContext:
        end = self.clock()
        return ReportContext(
            scope,
            scoped_sources(self.sources, scope),
            self.views,
            end - period_s,
            end,
            self.patterns,
            self.top_n,
        )

    def build(self, scope: Scope, period_s: float) -> Report:
        """The report of the last ``period_s`` seconds as ``scope`` may read it (blocking: in a thread)."""
        with self.metrics.build_seconds.time():
            try:
                report = build_report(self.context(scope, period_s), self.sections)
            except Exception:
                self.metrics.errors.labels("build").inc()
                raise
        self.metrics.built.inc()
        return report
