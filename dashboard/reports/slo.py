"""The SLO section: each SLO the tenant sees, over the report's window — attainment, error budget left and
the burn rate of the last hour (:func:`alerting.slo.slo_status`, its queries scoped to the tenant)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from alerting.slo import SloStatus
from dashboard.reports._fmt import number, percent
from dashboard.reports.base import Chart, ReportContext, SectionResult, Table

__all__ = ["SloSection", "StatusReader"]

# the statuses of the SLOs the report's scope sees, over its window
StatusReader = Callable[[ReportContext], Sequence[SloStatus]]


def _pct(ratio: float | None) -> str:
    return "–" if ratio is None else percent(100.0 * ratio)


def _verdict(s: SloStatus) -> str:
    if s.error:
        return s.error
    if s.attainment is None:
        return "no requests"
    return "met" if 100 * s.attainment >= s.objective else "missed"


class SloSection:
    key = "slo"
    title = "Service level objectives"

    def __init__(self, read: StatusReader) -> None:
        self.read = read

    def build(self, ctx: ReportContext) -> SectionResult:
        statuses = list(self.read(ctx))
        if not statuses:
            return SectionResult(self.key, self.title, note="No SLO is declared for this scope.")
        rows = [
            (
                f"{s.org}/{s.space}" + (f"/{s.app}" if s.app else ""),
                s.name,
                s.sli,
                f"{number(s.objective, 3)} %",
                _pct(s.attainment),
                _pct(s.error_budget_remaining),
                "–" if s.burn_rate is None else f"{s.burn_rate:.2f}×",
                _verdict(s),
            )
            for s in statuses
        ]
        met = sum(1 for s in statuses if _verdict(s) == "met")
        spent = sum(
            1 for s in statuses if s.error_budget_remaining is not None and s.error_budget_remaining < 0
        )
        budget = [
            (f"{s.app or s.space}: {s.name}", 100.0 * s.error_budget_remaining)
            for s in statuses
            if s.error_budget_remaining is not None
        ]
        return SectionResult(
            self.key,
            self.title,
            figures=[
                ("SLOs", str(len(statuses))),
                ("met in the window", str(met)),
                ("budget spent", str(spent)),
            ],
            tables=[
                Table(
                    "SLOs over the report's window",
                    ("scope", "SLO", "SLI", "objective", "attained", "budget left", "burn (1h)", "status"),
                    rows,
                )
            ],
            charts=[Chart("slo-budget", "Error budget left", "%", bars=budget)] if budget else [],
        )
