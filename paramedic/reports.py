"""Scheduled reports (server wiring): the report builder over the dashboard's readers, its HTTP routes
(render API, preview page) and, when ``reports:`` is configured, the APScheduler jobs that mail them through
the SMTP settings of the alerting receiver ``reports.smtp_receiver`` names.

Without a ``reports:`` section the preview and the render API still work (nothing is scheduled or sent).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from fastapi import APIRouter
from prometheus_client import CollectorRegistry

from alerting.config import AlertingConfig, notifier_config
from alerting.notify.config import EmailConfig
from dashboard import Sources
from dashboard.base import PlatformViews
from dashboard.reports import (
    PatternLister,
    Reporter,
    ReportScheduler,
    ReportsConfig,
    ReportSection,
    SmtpSettings,
    default_sections,
    reports_router,
)
from dashboard.reports.capacity import CapacitySection
from dashboard.reports.slo import SloSection, StatusReader
from platforms.capacity import CapacityOutlook

__all__ = ["ReportsService", "report_sections", "smtp_settings"]


def smtp_settings(reports: ReportsConfig, alerting: AlertingConfig | None) -> SmtpSettings:
    """The SMTP settings of the email notifier of receiver ``reports.smtp_receiver``; ValueError naming the
    key when there is none (``paramedic.config`` reports it with the file and line)."""
    name = reports.smtp_receiver
    receivers = alerting.receivers if alerting is not None else []
    receiver = next((r for r in receivers if r.name == name), None)
    if receiver is None or alerting is None:
        known = sorted(r.name for r in receivers)
        raise ValueError(f"{name!r}: no such alerting receiver (known: {known})")
    for options in receiver.integrations():
        if options.get("type") != "email":
            continue
        email = notifier_config(options, alerting.global_)
        if isinstance(email, EmailConfig):
            tls = email.tls_config
            return SmtpSettings(
                sender=email.sender,
                host=email.host,
                port=email.port,
                security=email.security,
                username=email.username,
                password=email.password.get_secret_value() if email.password is not None else None,
                # an Alertmanager-style email_config's tls_config (its CA; insecure_skip_verify)
                ca_file=tls.ca_file if tls is not None and tls.ca_file is not None else email.ca_file,
                verify_tls=email.verify_tls and not (tls is not None and tls.insecure_skip_verify),
                timeout_s=email.timeout_s,
            )
    raise ValueError(f"{name!r}: the receiver has no email notifier")


def report_sections(
    *,
    slos: StatusReader | None = None,
    capacity: Callable[[], CapacityOutlook] | None = None,
) -> list[ReportSection]:
    """The sections of every report, in order: the built-in ones, the SLOs (``slos``: the statuses the
    report's scope sees) and the capacity outlook (foundation reports only)."""
    out: list[ReportSection] = [*default_sections()]
    if slos is not None:
        out.append(SloSection(slos))
    if capacity is not None:
        out.append(CapacitySection(capacity))
    return out


class ReportsService:
    """Owns the :class:`~dashboard.reports.Reporter`, its router and the scheduler (None without config)."""

    def __init__(
        self,
        config: ReportsConfig | None,
        alerting: AlertingConfig | None,
        *,
        sources: Sources,
        views: PlatformViews,
        patterns: PatternLister | None,
        registry: CollectorRegistry,
        sections: Sequence[ReportSection] | None = None,
    ) -> None:
        self.config = config
        self.reporter = Reporter(
            sources,
            views,
            patterns=patterns,
            sections=sections if sections is not None else report_sections(),
            top_n=config.top_n if config is not None else 10,
            registry=registry,
        )
        self.scheduler = (
            ReportScheduler(config, self.reporter, smtp_settings(config, alerting))
            if config is not None
            else None
        )

    def apply_config(self, config: ReportsConfig | None, alerting: AlertingConfig | None) -> None:
        """A reloaded config: new schedules, recipients and SMTP settings apply at once (adding or removing
        the whole ``reports:`` section needs a restart, as for the other sections)."""
        if self.scheduler is not None and config is not None:
            self.scheduler.apply_config(config, smtp_settings(config, alerting))
            self.config = config

    def router(self) -> APIRouter:
        max_period_s = self.config.max_period_s if self.config is not None else 90 * 86400
        return reports_router(self.reporter, scheduler=self.scheduler, max_period_s=max_period_s)

    async def start(self) -> None:
        if self.scheduler is not None:
            await self.scheduler.start()

    async def stop(self) -> None:
        if self.scheduler is not None:
            await self.scheduler.stop()
