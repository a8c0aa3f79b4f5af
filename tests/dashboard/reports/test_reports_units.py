"""Report pieces in-process: the tenant narrowing of the render API, the period parser, the section seam (a
section added from a function, a failing section), incident runs, chart bytes, config and scheduler jobs."""

from __future__ import annotations

import asyncio
import time

import pytest
from pydantic import ValidationError

from dashboard import RangeSeries, ReaderError, Sources
from dashboard.reports import (
    Chart,
    ReportContext,
    ReportScheduler,
    ReportsConfig,
    SectionResult,
    SmtpSettings,
    Table,
    build_report,
    default_sections,
    narrowed_scope,
    render_html,
    render_pdf,
    section,
)
from dashboard.reports._fmt import parse_since
from dashboard.reports.charts import chart_png
from dashboard.reports.incidents import incidents
from dashboard.reports.patterns import PATTERN_METRIC
from dashboard.reports.service import Reporter
from dashboard.scoping import NoMetrics
from dashboard.views_local import LocalViews
from log_pipeline.patterns import PATTERN_COUNT_METRIC
from platforms.tenancy import FOUNDATION, Grant, Scope

ACME_PROD = Scope.of([Grant("acme", "prod", "viewer")])
ACME = Scope.of([Grant("acme", None, "viewer")])


@pytest.mark.parametrize(
    ("scope", "tenant", "allowed"),
    [
        (FOUNDATION, None, FOUNDATION),
        (FOUNDATION, "globex/prod", Scope.of([Grant("globex", "prod", "viewer")])),
        (FOUNDATION, "foundation", FOUNDATION),
        (ACME_PROD, None, ACME_PROD),
        (ACME_PROD, "acme/prod", ACME_PROD),
        (ACME_PROD, "acme", None),
        (ACME_PROD, "acme/dev", None),
        (ACME_PROD, "globex/prod", None),
        (ACME_PROD, "foundation", None),
        (ACME_PROD, "acme/prod/x", None),
        (ACME, "acme/dev", Scope.of([Grant("acme", "dev", "viewer")])),
        (ACME, "acme", ACME),
        (ACME, "acmex", None),
        (Scope.of([]), "acme", None),
    ],
)
def test_narrowed_scope_stays_inside_the_principals(
    scope: Scope, tenant: str | None, allowed: Scope | None
) -> None:
    assert narrowed_scope(scope, tenant) == allowed


def test_parse_since() -> None:
    assert parse_since("7d", max_s=90 * 86400) == 7 * 86400
    assert parse_since("90m", max_s=86400) == 5400
    for bad in ("", "7", "d", "-1d", "1.5h", "0s", "8d", "１d", "9" * 20 + "s"):
        with pytest.raises(ValueError):
            parse_since(bad, max_s=7 * 86400)


def test_the_pattern_metric_is_the_miners() -> None:
    assert PATTERN_METRIC == PATTERN_COUNT_METRIC


class _Alerts:
    """ALERTS over the window: one series firing twice (a gap of five minutes between)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def instant(self, expr: str) -> list[object]:
        return []

    def range(self, expr: str, start_s: float, end_s: float, step_s: float) -> list[RangeSeries]:
        ts = [start_s + i * step_s for i in range(int((end_s - start_s) / step_s) + 1)]
        on = [t for t in ts if start_s + 600 <= t < start_s + 1200 or t >= end_s - 300]
        return [RangeSeries({"alertname": "A", "alertstate": "firing", "org": "acme"}, on, [1.0] * len(on))]


def _ctx(metrics: object, scope: Scope = FOUNDATION, period_s: float = 3600) -> ReportContext:
    now = time.time()
    return ReportContext(scope, Sources(metrics=metrics), LocalViews(), now - period_s, now)  # type: ignore[arg-type]


def test_incidents_are_runs_of_firing_samples() -> None:
    ctx = _ctx(_Alerts(time.time()))
    found = incidents(ctx)
    assert [(round(i.duration_s), i.ongoing) for i in found] == [(600, False), (300, True)]
    assert found[0].labels == {"alertname": "A", "org": "acme"}


def test_a_section_from_a_function_joins_the_report_and_a_failing_one_shows_a_note() -> None:
    def slo(ctx: ReportContext) -> SectionResult:
        chart = Chart("slo_budget", "Error budget left", "%", bars=[("checkout", 62.5)])
        table = Table("SLOs", ("SLO", "Attainment"), [("checkout-availability", "99.95 %")])
        return SectionResult(
            "slo", "SLOs", figures=[("Budget left", "62.5 %")], tables=[table], charts=[chart]
        )

    def broken(ctx: ReportContext) -> SectionResult:
        raise ReaderError("capacity store down")

    sections = [*default_sections(), section("slo", "SLOs", slo), section("capacity", "Capacity", broken)]
    report = build_report(_ctx(NoMetrics()), sections)
    assert [s.key for s in report.sections][-2:] == ["slo", "capacity"]
    assert report.sections[-1].note == "Unavailable: capacity store down"
    assert set(report.charts) == {"slo_budget"}
    html = render_html(report)
    assert 'data-chart="slo_budget"' in html and "checkout-availability" in html
    assert "Unavailable: capacity store down" in html
    assert render_pdf(report).startswith(b"%PDF")


def test_charts_are_png_of_the_stated_size_and_deterministic() -> None:
    chart = Chart("c", "t", "ms", bars=[("a", 1.0), ("b", 2.5)])
    png = chart_png(chart)
    assert png.startswith(b"\x89PNG") and png == chart_png(chart)
    assert int.from_bytes(png[16:20], "big") == 720 and int.from_bytes(png[20:24], "big") == 300
    now = time.time()
    lines = Chart("l", "t", "req/s", lines=[("x", [now - 60, now], [1.0, 2.0])])
    assert chart_png(lines).startswith(b"\x89PNG")


def _config(**extra: object) -> dict[str, object]:
    return {
        "smtp_receiver": "ops",
        "schedules": [{"name": "daily", "cron": "0 7 * * *", "period_s": 86400}],
        "recipients": [{"tenant": "acme/prod", "to": ["a@example.com"]}],
        **extra,
    }


def test_config_names_what_is_wrong() -> None:
    ReportsConfig.model_validate(_config())
    bad = {
        "unknown schedule": _config(
            recipients=[{"tenant": "acme", "to": ["a@example.com"], "schedules": ["x"]}]
        ),
        "not an IANA time zone": _config(timezone="Mars/Olympus"),
        "duplicate name": _config(schedules=[{"name": "d", "cron": "0 7 * * *", "period_s": 1}] * 2),
        "String should match pattern": _config(recipients=[{"tenant": "acme", "to": ["not an address"]}]),
    }
    for message, data in bad.items():
        with pytest.raises(ValidationError, match=message):
            ReportsConfig.model_validate(data)


def test_scheduler_adds_one_cron_job_per_schedule_and_stops() -> None:
    config = ReportsConfig.model_validate(
        _config(
            schedules=[
                {"name": "daily", "cron": "0 7 * * *", "period_s": 86400},
                {"name": "weekly", "cron": "0 7 * * mon", "period_s": 604800},
            ]
        )
    )
    reporter = Reporter(Sources(metrics=NoMetrics()), LocalViews())
    scheduler = ReportScheduler(config, reporter, SmtpSettings(sender="p@example.com"))

    async def run() -> list[str]:
        await scheduler.stop()  # safe before start
        await scheduler.start()
        await scheduler.start()  # idempotent
        assert scheduler._scheduler is not None
        jobs = sorted(j.id for j in scheduler._scheduler.get_jobs() if j.next_run_time is not None)
        await scheduler.stop()
        await scheduler.stop()
        return jobs

    assert asyncio.run(run()) == ["report:daily", "report:weekly"]
    assert [r.tenant for r in scheduler.recipients("weekly")] == ["acme/prod"]


def test_a_foundation_only_section_is_left_out_of_a_tenants_report() -> None:
    def cells(ctx: ReportContext) -> SectionResult:
        return SectionResult("capacity", "Capacity", figures=[("Cells needed", "2")])

    sections = [section("capacity", "Capacity", cells, foundation_only=True)]
    assert [s.key for s in build_report(_ctx(NoMetrics()), sections).sections] == ["capacity"]
    tenant = build_report(_ctx(NoMetrics(), ACME_PROD), sections)
    assert tenant.sections == [] and "Cells needed" not in render_html(tenant)
