"""New and surging log patterns of the window, from the pattern miner's counts in the store
(``paramedic_log_pattern_messages_total{org, space, app, pattern_id}``, written by
``log_pipeline.patterns.PatternStats``) read through the scoped metrics reader, and their templates from the
miner's listing (asked with the same scope).

* new: a pattern with messages in the window and no series in the window before it (the same length);
* surging: at least ``min_count`` messages in the window and ``factor`` times as many as in the window before.
"""

from __future__ import annotations

import math

from dashboard.base import RangeSeries
from dashboard.reports._fmt import number
from dashboard.reports.base import Chart, ReportContext, SectionResult, Table

__all__ = ["PATTERN_METRIC", "PatternsSection"]

# log_pipeline.patterns.PATTERN_COUNT_METRIC (the dashboard imports no pipeline package; a test compares)
PATTERN_METRIC = "paramedic_log_pattern_messages_total"
_BY = "org, space, app, pattern_id"
Key = tuple[str, str, str, str]


def _key(labels: dict[str, str]) -> Key:
    return (
        labels.get("org", ""),
        labels.get("space", ""),
        labels.get("app", ""),
        labels.get("pattern_id", ""),
    )


def _at_end(ctx: ReportContext, expr: str) -> dict[Key, float]:
    """``expr`` evaluated at the window's end, by pattern key (a one-point range query: exact time)."""
    found: list[RangeSeries] = ctx.sources.metrics.range(expr, ctx.end_s, ctx.end_s, 60.0)
    out: dict[Key, float] = {}
    for s in found:
        if s.values and math.isfinite(s.values[-1]):
            out[_key(s.labels)] = s.values[-1]
    return out


class PatternsSection:
    key = "patterns"
    title = "Log patterns"

    def __init__(self, *, factor: float = 3.0, min_count: float = 10.0) -> None:
        self.factor, self.min_count = factor, min_count

    def _templates(self, ctx: ReportContext) -> dict[Key, str]:
        if ctx.patterns is None:
            return {}
        items = ctx.patterns.list_patterns(None, 10_000, scope=ctx.scope)
        return {(p.org, p.space, p.app, p.pattern_id): p.template for p in items}

    def build(self, ctx: ReportContext) -> SectionResult:
        w = f"{max(60, round(ctx.end_s - ctx.start_s))}s"
        m = PATTERN_METRIC
        # a counter since the miner's process started: the growth over the window (a series born in the
        # window counts from its first value)
        now = _at_end(ctx, f"sum by ({_BY}) (max_over_time({m}[{w}]) - min_over_time({m}[{w}]))")
        seen_now = _at_end(ctx, f"sum by ({_BY}) (max_over_time({m}[{w}]))")
        seen_before = _at_end(ctx, f"sum by ({_BY}) (max_over_time({m}[{w}] offset {w}))")
        before = _at_end(
            ctx, f"sum by ({_BY}) (max_over_time({m}[{w}] offset {w}) - min_over_time({m}[{w}] offset {w}))"
        )
        templates = self._templates(ctx)
        new = sorted(
            ((k, seen_now[k]) for k in seen_now if k not in seen_before), key=lambda kv: (-kv[1], kv[0])
        )[: ctx.top_n]
        surging = sorted(
            (
                (k, n, before.get(k, 0.0))
                for k, n in now.items()
                if k in seen_before
                and n >= self.min_count
                and n >= self.factor * max(before.get(k, 0.0), 1.0)
            ),
            key=lambda x: (-x[1], x[0]),
        )[: ctx.top_n]

        def name(k: Key) -> str:
            return templates.get(k, f"pattern {k[3]}")

        def where(k: Key) -> str:
            return " · ".join(x for x in ("/".join(y for y in k[:2] if y), k[2]) if x) or "foundation"

        new_rows = [(where(k), name(k), number(n, 0)) for k, n in new]
        surge_rows = [
            (where(k), name(k), number(n, 0), number(b, 0), f"×{n / max(b, 1.0):.1f}") for k, n, b in surging
        ]
        bars = [(f"{k[2] or 'foundation'}: {name(k)[:40]}", n) for k, n, _ in surging]
        return SectionResult(
            self.key,
            self.title,
            figures=[("New patterns", str(len(new))), ("Surging patterns", str(len(surging)))],
            tables=[
                Table("New patterns", ("Where", "Template", "Messages"), new_rows, "No new pattern."),
                Table(
                    "Surging patterns",
                    ("Where", "Template", "Messages", "Before", "Growth"),
                    surge_rows,
                    "No surging pattern.",
                ),
            ],
            charts=[Chart("patterns", "Surging patterns (messages)", "messages", bars=bars)] if bars else [],
        )
