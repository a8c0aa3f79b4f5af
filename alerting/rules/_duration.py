"""Prometheus durations (``model.ParseDuration``): ``1h30m``, ``5m``, ``0s``, ``500ms``; also ``0``."""

from __future__ import annotations

import re

__all__ = ["format_duration", "parse_duration_ms"]

_UNITS = (("y", 365 * 86400_000), ("w", 7 * 86400_000), ("d", 86400_000), ("h", 3600_000), ("m", 60_000))
_RE = re.compile(r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$")
_MS = (365 * 86400_000, 7 * 86400_000, 86400_000, 3600_000, 60_000, 1000, 1)


def parse_duration_ms(text: str) -> int:
    """Milliseconds of a Prometheus duration; ValueError when it is not one."""
    text = text.strip()
    if text == "0":
        return 0
    m = _RE.match(text)
    if not text or m is None:
        raise ValueError(f'not a valid duration string: "{text}"')
    return sum(int(g) * mult for g, mult in zip(m.groups(), _MS, strict=True) if g)


def format_duration(ms: int) -> str:
    """Prometheus' ``model.Duration.String()``: ``1h30m``, ``5m``, ``0s``."""
    if ms == 0:
        return "0s"
    out = ""
    for unit, mult in _UNITS:
        if ms >= mult:
            out += f"{ms // mult}{unit}"
            ms %= mult
    if ms >= 1000:
        out += f"{ms // 1000}s"
        ms %= 1000
    if ms:
        out += f"{ms}ms"
    return out
