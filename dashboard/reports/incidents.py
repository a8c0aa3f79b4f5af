"""The incidents section: alerts that fired in the window, with their durations, from the alert history the
rule manager writes into the store (``ALERTS{alertstate="firing"}``, one sample per evaluation while firing).

The history is read at a fine step (15 s, or the window / 10,000 for windows over about 42 hours: under the
engine's 11,000 points per series) as ``max_over_time`` over each step, so no firing sample between two points
is missed and the lookback does not stretch an alert past its staleness marker. An incident is one run of
steps with a firing sample (a gap of more than two steps ends it); its duration runs from the first to the
last plus one step; one still firing at the end of the window is *ongoing*. Read through the scoped metrics
reader, so a tenant's report holds only its own alerts' series.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

from dashboard.reports._fmt import duration, utc
from dashboard.reports.base import Chart, ReportContext, SectionResult, Table

__all__ = ["ALERT_HISTORY_EXPR", "Incident", "IncidentsSection", "incidents"]

ALERT_HISTORY_EXPR = 'max_over_time(ALERTS{{alertstate="firing"}}[{step}s])'
MAX_POINTS = 10_000
_MAX_ROWS = 50


@dataclass(frozen=True, slots=True)
class Incident:
    alertname: str
    labels: dict[str, str]
    start_s: float
    end_s: float
    ongoing: bool

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


def incidents(ctx: ReportContext) -> list[Incident]:
    """The window's incidents, oldest first."""
    step = float(max(15, math.ceil((ctx.end_s - ctx.start_s) / MAX_POINTS)))
    expr = ALERT_HISTORY_EXPR.format(step=round(step))
    found: list[Incident] = []
    for series in ctx.sources.metrics.range(expr, ctx.start_s, ctx.end_s, step):
        times = [t for t, v in zip(series.timestamps_s, series.values, strict=True) if v > 0]
        labels = {k: v for k, v in series.labels.items() if k not in {"__name__", "alertstate"}}
        run_start = prev = None
        for t in [*times, None]:
            if t is not None and prev is not None and t - prev <= 2 * step:
                prev = t
                continue
            if run_start is not None and prev is not None:
                ongoing = prev >= ctx.end_s - 2 * step
                end = min(ctx.end_s, prev + step)
                found.append(Incident(labels.get("alertname", "?"), labels, run_start, end, ongoing))
            run_start = prev = t
    return sorted(found, key=lambda i: (i.start_s, i.alertname))


def _where(labels: dict[str, str]) -> str:
    tenant = "/".join(x for x in (labels.get("org", ""), labels.get("space", "")) if x)
    app = labels.get("app", "")
    return " · ".join(x for x in (tenant, app) if x) or "foundation"


class IncidentsSection:
    key = "incidents"
    title = "Incidents"

    def build(self, ctx: ReportContext) -> SectionResult:
        found = incidents(ctx)
        total = sum(i.duration_s for i in found)
        longest = max((i.duration_s for i in found), default=0.0)
        by_alert: dict[str, float] = defaultdict(float)
        for i in found:
            by_alert[i.alertname] += i.duration_s / 60
        bars = sorted(by_alert.items(), key=lambda kv: (-kv[1], kv[0]))[: ctx.top_n]
        rows = [
            (
                i.alertname,
                _where(i.labels),
                i.labels.get("severity", ""),
                utc(i.start_s),
                duration(i.duration_s),
                "ongoing" if i.ongoing else "resolved",
            )
            for i in sorted(found, key=lambda i: -i.duration_s)[:_MAX_ROWS]
        ]
        return SectionResult(
            self.key,
            self.title,
            figures=[
                ("Incidents", str(len(found))),
                ("Ongoing", str(sum(i.ongoing for i in found))),
                ("Time firing", duration(total)),
                ("Longest", duration(longest)),
            ],
            tables=[
                Table(
                    "Longest incidents",
                    ("Alert", "Where", "Severity", "Started", "Duration", "State"),
                    rows,
                    "No alert fired in this period.",
                )
            ],
            charts=[Chart("incidents", "Minutes firing by alert", "min", bars=bars)] if bars else [],
        )
