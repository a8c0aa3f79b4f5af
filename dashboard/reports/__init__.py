"""Scheduled reports: per tenant (org/space) and for the foundation, daily/weekly, as HTML email with PNG
charts and a PDF attachment; the same report renders on demand (``/api/v1/reports/render``,
``paramedic report render``) and in the UI's preview (``/reports``).

* :mod:`~dashboard.reports.base`: the :class:`ReportSection` seam (``build(ctx) -> SectionResult``) and
  :func:`section` (a section from a function: how the SLO and capacity sections join);
* sections: :class:`IncidentsSection` (alert history), :class:`RemediationSection` (audit trail),
  :class:`PatternsSection` (new and surging log patterns), :class:`TopAppsSection` (router metrics);
* :func:`build_report`, :func:`render_html`, :func:`render_pdf`, :func:`report_message`;
* :class:`Reporter` (one tenant's report over the scoped readers), :class:`ReportScheduler` (APScheduler),
  :func:`reports_router` (HTTP), :class:`ReportsConfig` (``reports:``).
"""

from dashboard.reports.api import narrowed_scope, reports_router
from dashboard.reports.base import (
    Chart,
    PatternLister,
    ReportContext,
    ReportError,
    ReportSection,
    SectionResult,
    Table,
    section,
)
from dashboard.reports.build import Report, build_report, default_sections
from dashboard.reports.config import RecipientsConfig, ReportsConfig, ScheduleConfig, tenant_scope
from dashboard.reports.incidents import IncidentsSection
from dashboard.reports.mail import ReportSendError, SmtpSettings, report_message, send_message
from dashboard.reports.patterns import PatternsSection
from dashboard.reports.remediation import RemediationSection
from dashboard.reports.render import render_html, render_pdf, render_text
from dashboard.reports.scheduler import ReportScheduler
from dashboard.reports.service import Reporter
from dashboard.reports.top_apps import TopAppsSection

__all__ = [
    "Chart",
    "IncidentsSection",
    "PatternLister",
    "PatternsSection",
    "RecipientsConfig",
    "RemediationSection",
    "Report",
    "ReportContext",
    "ReportError",
    "ReportScheduler",
    "ReportSection",
    "ReportSendError",
    "Reporter",
    "ReportsConfig",
    "ScheduleConfig",
    "SectionResult",
    "SmtpSettings",
    "Table",
    "TopAppsSection",
    "build_report",
    "default_sections",
    "narrowed_scope",
    "render_html",
    "render_pdf",
    "render_text",
    "report_message",
    "reports_router",
    "section",
    "send_message",
    "tenant_scope",
]
