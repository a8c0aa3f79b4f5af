"""Formatting shared by the sections (plain text: the renderers escape it)."""

from __future__ import annotations

import math
from datetime import UTC, datetime

__all__ = ["duration", "number", "parse_since", "percent", "seconds_text", "utc"]


def utc(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


def duration(seconds: float) -> str:
    """``45s``, ``12m``, ``3h 05m``, ``2d 04h``."""
    if not math.isfinite(seconds):
        return "–"
    s = max(0, round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86400}d {s % 86400 // 3600:02d}h"


def number(value: float, digits: int = 2) -> str:
    if not math.isfinite(value):
        return "–"
    return f"{value:,.{digits}f}".rstrip("0").rstrip(".") if digits else f"{value:,.0f}"


def percent(value: float) -> str:
    return "–" if not math.isfinite(value) else f"{value:.1f} %"


def seconds_text(value: float) -> str:
    """A latency in seconds: ``850 ms`` or ``1.25 s``."""
    if not math.isfinite(value):
        return "–"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_since(text: str, *, max_s: float) -> float:
    """``90m``, ``24h``, ``7d``, ``2w`` (one number, one unit) as seconds in ``(0, max_s]``; ValueError."""
    text = text.strip()
    if (
        len(text) < 2
        or len(text) > 12
        or text[-1] not in _UNITS
        or not (text[:-1].isascii() and text[:-1].isdigit())
    ):
        raise ValueError(f"{text[:20]!r}: want a duration like 24h or 7d")
    seconds = float(int(text[:-1]) * _UNITS[text[-1]])
    if not 0 < seconds <= max_s:
        raise ValueError(f"{text}: want more than 0 and at most {duration(max_s)}")
    return seconds
