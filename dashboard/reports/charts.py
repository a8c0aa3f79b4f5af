"""Charts of a report as PNG, with matplotlib's Agg backend (no display, no pyplot global state: one
``Figure`` per chart, safe in worker threads). Bars: horizontal, largest first; lines: UTC time axis.
Deterministic bytes for the same input (no PNG software/time metadata)."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from dashboard.reports.base import Chart

__all__ = ["HEIGHT_PX", "WIDTH_PX", "chart_png"]

WIDTH_PX, HEIGHT_PX, _DPI = 720, 300, 100
_BAR = "#1f77b4"
_PALETTE = ("#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#17becf", "#ff7f0e")
_MAX_LABEL = 48


def _plain(text: str) -> str:
    """``text`` as matplotlib shows it literally: a ``$`` would start mathtext, whose parser fails (the
    whole chart, so the whole report) on input like ``$\\foo$``, and labels are tenants' data (app names,
    log pattern templates, alert names)."""
    return text.replace("$", r"\$")


def _short(label: str) -> str:
    return _plain(label if len(label) <= _MAX_LABEL else label[: _MAX_LABEL - 1] + "…")


def chart_png(chart: Chart) -> bytes:
    """``chart`` drawn as a 720x300 PNG."""
    # matplotlib (~40 MB resident) is imported by the first chart, not by every server that never draws one
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter  # noqa: PLC0415
    from matplotlib.figure import Figure  # noqa: PLC0415

    fig = Figure(figsize=(WIDTH_PX / _DPI, HEIGHT_PX / _DPI), dpi=_DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_title(_plain(chart.title), fontsize=11, loc="left")
    if chart.bars:
        labels = [_short(b[0]) for b in reversed(chart.bars)]
        values = [b[1] for b in reversed(chart.bars)]
        ax.barh(range(len(values)), values, color=_BAR, height=0.6)
        ax.set_yticks(range(len(values)), labels, fontsize=8)
        ax.set_xlabel(_plain(chart.unit), fontsize=8)
        ax.grid(axis="x", color="#e4e4e4")
    else:
        for i, (name, ts, values) in enumerate(chart.lines):
            times = [datetime.fromtimestamp(t, UTC) for t in ts]
            ax.plot(times, values, label=_short(name), color=_PALETTE[i % len(_PALETTE)], linewidth=1.5)  # type: ignore[arg-type]
        locator = AutoDateLocator()  # type: ignore[no-untyped-call]
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(locator, tz=UTC))  # type: ignore[no-untyped-call]
        if not any(v < 0 for _, _, values in chart.lines for v in values):  # NaN compares False
            ax.set_ylim(bottom=0)
        ax.set_ylabel(_plain(chart.unit), fontsize=8)
        ax.grid(color="#e4e4e4")
        if chart.lines:
            ax.legend(fontsize=7, loc="upper left")
    ax.tick_params(labelsize=8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png", metadata={"Software": None})
    return out.getvalue()
