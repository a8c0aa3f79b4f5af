"""The capacity outlook as plain text (``paramedic capacity report``, a report's text part), from its JSON
data (:meth:`CapacityOutlook.to_json`, or ``/api/v1/capacity``'s answer: the same shape)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

__all__ = ["render_text"]


def _date(t: Any) -> str:
    return "-" if t is None else datetime.fromtimestamp(float(t), UTC).strftime("%Y-%m-%d")


def _num(v: Any, digits: int = 0) -> str:
    return "-" if v is None else f"{float(v):,.{digits}f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join("{:<%d}" % w for w in widths)  # noqa: UP031 - a format built from widths
    return [
        line.format(*header).rstrip(),
        line.format(*("-" * w for w in widths)),
        *(line.format(*r).rstrip() for r in rows),
    ]


def render_text(data: Mapping[str, Any]) -> str:
    """A summary line, the figures and one row per cell."""
    lines = [str(data.get("summary", ""))]
    cells = data.get("cells") or []
    if not cells:
        return lines[0] + "\n"
    fc, n1, mem = data.get("forecast") or {}, data.get("n_plus_one"), data["memory"]
    figures = [
        ["source", str(data.get("source", ""))],
        ["chunk", f"{_num(data.get('chunk_mib'))} MiB ({data.get('chunk_from', '')})"],
        ["free memory chunks", _num(mem["free_chunks"])],
        [
            "memory allocated",
            f"{_num(data['memory']['allocated_mib'])} of {_num(data['memory']['total_mib'])} MiB",
        ],
        ["free disk chunks", _num(data["disk"]["free_chunks"])],
        ["free container slots", _num(data["containers"]["free"])],
        [
            "N+1 headroom",
            "- (one cell)"
            if n1 is None
            else f"{n1['headroom_chunks']} chunks ({'survives' if n1['survives'] else 'LOST'} losing "
            f"{n1['worst_cell']})",
        ],
        [
            "growth",
            "-" if fc.get("growth_mib_per_day") is None else f"{fc['growth_mib_per_day']:.1f} MiB/day",
        ],
        ["out of chunks by", _date(fc.get("exhausted_at"))],
        ["N+1 lost by", _date(fc.get("n_plus_one_lost_at"))],
        [f"cells to add by {_date(fc.get('needed_by'))}", str(fc.get("cells_needed", 0))],
    ]
    lines += ["", *_table(["figure", "value"], figures), ""]
    rows = [
        [
            str(c["name"]),
            _num(c["memory_total_mib"]),
            _num(c["memory_allocated_mib"]),
            str(c["free_chunks"]),
            _num(c["disk_remaining_mib"]),
            _num(c["containers_remaining"]),
        ]
        for c in cells
    ]
    lines += _table(
        ["cell", "memory MiB", "allocated MiB", "free chunks", "disk free MiB", "containers free"], rows
    )
    return "\n".join(lines) + "\n"
