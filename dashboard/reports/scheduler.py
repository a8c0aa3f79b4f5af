"""Scheduled reports on APScheduler: one cron job per ``reports.schedules`` entry; each run builds the report
of every recipient entry of that schedule (its tenant's scope) and mails it (HTML with inline charts, PDF
attached). A failed build or send is counted and logged, and the next recipient still gets its report.
"""

from __future__ import annotations

import asyncio
import logging

from apscheduler.schedulers.asyncio import AsyncIOScheduler  # type: ignore[import-untyped]
from apscheduler.triggers.cron import CronTrigger  # type: ignore[import-untyped]

from dashboard.reports.base import ReportError
from dashboard.reports.config import RecipientsConfig, ReportsConfig, tenant_scope
from dashboard.reports.mail import SmtpSettings, report_message, send_message
from dashboard.reports.service import Reporter

__all__ = ["ReportScheduler"]

log = logging.getLogger(__name__)


class ReportScheduler:
    """``start()``/``stop()`` (idempotent, ``stop`` safe without ``start``) run the cron jobs on the event
    loop; :meth:`run_schedule` sends one schedule's reports now."""

    def __init__(self, config: ReportsConfig, reporter: Reporter, smtp: SmtpSettings) -> None:
        self.config, self.reporter, self.smtp = config, reporter, smtp
        self._scheduler: AsyncIOScheduler | None = None

    def recipients(self, schedule: str) -> list[RecipientsConfig]:
        return [r for r in self.config.recipients if r.schedules is None or schedule in r.schedules]

    def _add_jobs(self, scheduler: AsyncIOScheduler) -> None:
        for s in self.config.schedules:
            trigger = CronTrigger.from_crontab(s.cron, timezone=self.config.timezone)
            scheduler.add_job(
                self.run_schedule,
                trigger,
                args=[s.name],
                id=f"report:{s.name}",
                coalesce=True,
                max_instances=1,
                replace_existing=True,
            )

    async def start(self) -> None:
        if self._scheduler is not None:
            return
        scheduler = AsyncIOScheduler(timezone=self.config.timezone)
        self._add_jobs(scheduler)
        scheduler.start()
        self._scheduler = scheduler

    def apply_config(self, config: ReportsConfig, smtp: SmtpSettings) -> None:
        """Take up a reloaded ``reports:`` section (schedules, recipients, SMTP settings): no restart."""
        self.config, self.smtp = config, smtp
        if self._scheduler is not None:
            self._scheduler.remove_all_jobs()
            self._add_jobs(self._scheduler)

    async def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None

    async def send_one(self, recipients: RecipientsConfig, period_s: float) -> None:
        """Build ``recipients.tenant``'s report of the last ``period_s`` and mail it; raises ReportError."""
        metrics = self.reporter.metrics
        scope = tenant_scope(recipients.tenant)
        try:
            async with asyncio.timeout(self.config.render_timeout_s):
                report = await asyncio.to_thread(self.reporter.build, scope, period_s)
                msg = await asyncio.to_thread(report_message, report, self.smtp.sender, list(recipients.to))
        except TimeoutError as exc:
            metrics.errors.labels("timeout").inc()
            raise ReportError(f"{recipients.tenant}: took over {self.config.render_timeout_s} s") from exc
        try:
            await send_message(msg, self.smtp)
        except ReportError:
            metrics.errors.labels("send").inc()
            raise
        metrics.sent.inc()

    async def run_schedule(self, name: str) -> int:
        """Send schedule ``name``'s reports now; returns how many were sent."""
        schedule = next(s for s in self.config.schedules if s.name == name)
        sent = 0
        for r in self.recipients(name):
            try:
                await self.send_one(r, schedule.period_s)
                sent += 1
            except ReportError as exc:
                log.warning("report %s for %s not sent: %s", name, r.tenant, exc)
            except Exception:
                log.exception("report %s for %s failed", name, r.tenant)
        return sent
