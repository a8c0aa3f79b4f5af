"""The capacity outlook section (foundation reports only: cells are foundation data): the one-line summary,
the free chunks, N+1 and the projected exhaustion of :func:`platforms.capacity.capacity_outlook`."""

from __future__ import annotations

from collections.abc import Callable

from dashboard.reports._fmt import number, utc
from dashboard.reports.base import Chart, ReportContext, ReportError, SectionResult, Table
from platforms.capacity import CapacityError, CapacityOutlook

__all__ = ["CapacitySection"]


class CapacitySection:
    key = "capacity"
    title = "Capacity outlook"

    def __init__(self, outlook: Callable[[], CapacityOutlook]) -> None:
        self.outlook = outlook

    def build(self, ctx: ReportContext) -> SectionResult | None:
        if not ctx.scope.is_foundation:
            return None  # cells are the foundation's: never in a tenant's report
        try:
            o = self.outlook()
        except CapacityError as exc:
            raise ReportError(f"capacity: {exc}") from exc
        if not o.cells:
            return SectionResult(self.key, self.title, note=o.summary)
        n1 = o.n_plus_one
        figures = [
            ("status", o.status),
            ("cells", str(len(o.cells))),
            (f"free chunks of {number(o.chunk_mib, 0)} MiB", str(o.memory_chunks_free)),
            ("N+1", "–" if n1 is None else ("survives" if n1.survives else f"LOST ({n1.worst_cell})")),
            ("memory exhausted by", "not projected" if o.exhausted_at_s is None else utc(o.exhausted_at_s)),
        ]
        if o.cells_needed:
            figures.append(("cells to add", f"{o.cells_needed} by {utc(o.needed_by_s)}"))
        cells = Table(
            "Cells",
            ("cell", "memory MiB", "allocated MiB", "free chunks"),
            [
                (
                    c.name,
                    number(c.memory_total_mib, 0),
                    number(c.memory_allocated_mib, 0),
                    str(int(c.memory_remaining_mib // o.chunk_mib)) if o.chunk_mib > 0 else "–",
                )
                for c in o.cells
            ],
        )
        history = [p for p in o.history if ctx.start_s <= p[0] <= ctx.end_s]
        charts = (
            [
                Chart(
                    "capacity-allocated",
                    "Allocated cell memory",
                    "MiB",
                    lines=[("allocated", [t for t, _ in history], [v for _, v in history])],
                )
            ]
            if history
            else []
        )
        return SectionResult(self.key, self.title, figures=figures, tables=[cells], charts=charts)
