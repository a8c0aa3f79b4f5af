"""The SLO and capacity sections of the scheduled report, over real data in the embedded store: the SLO
figures are the error ratio written into the data (worked by hand), a tenant's report holds only its SLOs, and
the capacity outlook (foundation data) is in the foundation's report only."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from alerting.slo import load_slo_files, slo_status
from dashboard import Sources
from dashboard.reports import ReportContext, build_report, render_html
from dashboard.reports.capacity import CapacitySection
from dashboard.reports.slo import SloSection
from dashboard.scoping import NoMetrics
from dashboard.views_local import LocalViews
from metrics_store.embedded.store import EmbeddedStore
from platforms.capacity import capacity_outlook
from platforms.tenancy import FOUNDATION, Grant, Scope
from tests.alerting._slo_support import MIN_S, T0, counters
from tests.platforms.capacity import history

MINUTES = 24 * 60
END_S = T0 + MINUTES * MIN_S
SLOS = """
slos:
  - {name: checkout-availability, org: acme, space: prod, app: checkout, objective: 99.9, window: 30d,
     sli: {type: availability}}
  - {name: catalog-availability, org: globex, space: dev, app: catalog, objective: 99, window: 30d,
     sli: {type: availability}}
"""
ERROR_RATIO = {"checkout": 0.002, "catalog": 0.005}  # 2x the 0.1 % budget; half the 1 % budget


@pytest.fixture(scope="module")
def slo_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmbeddedStore, Path]]:
    tmp = tmp_path_factory.mktemp("slo-report")
    (tmp / "slos.yaml").write_text(SLOS)
    store = EmbeddedStore(tmp / "store", background=False, registry=CollectorRegistry())
    for app, (org, space) in {"checkout": ("acme", "prod"), "catalog": ("globex", "dev")}.items():
        base = {"__name__": "haproxy_backend_http_responses_total", "org": org, "space": space, "app": app}
        ratio = ERROR_RATIO[app]
        counters(store, {**base, "code": "2xx"}, {**base, "code": "5xx"}, MINUTES, lambda m, r=ratio: r,
                 good_only=True)  # fmt: skip
    yield store, tmp / "slos.yaml"
    store.close()


def _slo_report(store: EmbeddedStore, slo_file: Path, scope: Scope) -> str:
    slos = load_slo_files([slo_file])
    section = SloSection(lambda ctx: slo_status(store, slos, ctx.scope, ctx.start_s, ctx.end_s))
    ctx = ReportContext(scope, Sources(metrics=NoMetrics()), LocalViews(), END_S - 12 * 3600, END_S)
    report = build_report(ctx, [section])
    (result,) = report.sections
    assert not result.note, result.note
    return render_html(report)


def test_the_slo_section_shows_the_error_ratio_in_the_data(slo_store: tuple[EmbeddedStore, Path]) -> None:
    html = _slo_report(*slo_store, FOUNDATION)
    # checkout: 0.2 % errors -> 99.8 % attained, budget 1 - 0.002/0.001 = -100 %, missed
    # catalog: 0.5 % errors -> 99.5 % attained, budget 1 - 0.005/0.01 = 50 %, met
    for text in ("checkout-availability", "99.8 %", "-100.0 %", "missed", "catalog-availability", "99.5 %",
                 "50.0 %", "met"):  # fmt: skip
        assert text in html, text


def test_a_tenants_slo_section_holds_only_its_slos(slo_store: tuple[EmbeddedStore, Path]) -> None:
    html = _slo_report(*slo_store, Scope.of([Grant("acme", "prod", "viewer")]))
    assert "checkout-availability" in html and "99.8 %" in html
    assert "catalog" not in html and "globex" not in html


def test_the_capacity_outlook_is_in_the_foundations_report_only(tmp_path: Path) -> None:
    now = time.time()
    store = EmbeddedStore(tmp_path / "store", background=False, registry=CollectorRegistry())
    try:
        history.write_cf(store, now)
        section = CapacitySection(lambda: capacity_outlook(store, now))
        ctx = ReportContext(FOUNDATION, Sources(metrics=NoMetrics()), LocalViews(), now - 7 * 86400, now)
        report = build_report(ctx, [section])
        (result,) = report.sections
        figures = dict(result.figures)
        # three 8 GiB cells with 8192 - (6000 + 300*14) * share MiB free, in 1 GiB chunks: 3 + 5 + 6
        assert figures["free chunks of 1,024 MiB"] == "14", figures
        assert figures["cells"] == "3" and figures["N+1"] == "survives"
        assert set(report.charts) == {"capacity-allocated"}
        tenant = ReportContext(
            Scope.of([Grant("acme", "prod", "viewer")]),
            Sources(metrics=NoMetrics()),
            LocalViews(),
            now - 86400,
            now,
        )
        assert build_report(tenant, [section]).sections == []
    finally:
        store.close()
