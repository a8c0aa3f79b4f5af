"""Go's number formatting as Prometheus templates print it (``fmt`` ``%v`` / ``%.4g``) and the
``humanize*`` functions of Prometheus' ``template`` package, byte-for-byte."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal

__all__ = [
    "go_g4",
    "go_value",
    "humanize",
    "humanize_1024",
    "humanize_duration",
    "humanize_percentage",
    "humanize_timestamp",
]


def _special(v: float) -> str | None:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return None


def go_value(v: float) -> str:
    """``fmt.Sprint(float64)``: shortest round-trip digits; exponent form when exp < -4 or exp >= 6
    (strconv's 'g' with shortest precision, which ``%v`` uses)."""
    s = _special(v)
    if s is not None:
        return s
    if v == 0:
        return "-0" if math.copysign(1.0, v) < 0 else "0"
    sign, digits, exponent = Decimal(repr(v)).normalize().as_tuple()
    ds = "".join(map(str, digits))
    exp10 = len(ds) + int(exponent) - 1
    neg = "-" if sign else ""
    if exp10 < -4 or exp10 >= 6:
        mant = ds[0] + ("." + ds[1:] if len(ds) > 1 else "")
        return f"{neg}{mant}e{'-' if exp10 < 0 else '+'}{abs(exp10):02d}"
    return neg + format(Decimal(repr(abs(v))).normalize(), "f")


def go_g4(v: float) -> str:
    """``fmt.Sprintf("%.4g", v)``."""
    s = _special(v)
    if s is not None:
        return s
    return f"{v:.4g}"


def humanize(v: float) -> str:
    if v == 0 or math.isnan(v) or math.isinf(v):
        return go_g4(v)
    if abs(v) >= 1:
        prefix = ""
        for p in ("k", "M", "G", "T", "P", "E", "Z", "Y"):
            if abs(v) < 1000:
                break
            prefix, v = p, v / 1000
        return go_g4(v) + prefix
    prefix = ""
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(v) >= 1:
            break
        prefix, v = p, v * 1000
    return go_g4(v) + prefix


def humanize_1024(v: float) -> str:
    if abs(v) <= 1 or math.isnan(v) or math.isinf(v):
        return go_g4(v)
    prefix = ""
    for p in ("ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"):
        if abs(v) < 1024:
            break
        prefix, v = p, v / 1024
    return go_g4(v) + prefix


def humanize_duration(v: float) -> str:
    if math.isnan(v) or math.isinf(v):
        return go_g4(v)
    if v == 0:
        return go_g4(v) + "s"
    if abs(v) >= 1:
        sign = "-" if v < 0 else ""
        v = abs(v)
        d = int(v)
        secs, mins, hours, days = d % 60, (d // 60) % 60, (d // 3600) % 24, d // 86400
        if days:
            return f"{sign}{days}d {hours}h {mins}m {secs}s"
        if hours:
            return f"{sign}{hours}h {mins}m {secs}s"
        if mins:
            return f"{sign}{mins}m {secs}s"
        return f"{sign}{go_g4(v)}s"
    prefix = ""
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(v) >= 1:
            break
        prefix, v = p, v * 1000
    return f"{go_g4(v)}{prefix}s"


def humanize_percentage(v: float) -> str:
    return go_g4(v * 100) + "%"


def humanize_timestamp(v: float) -> str:
    """``fmt.Sprint(time.Time)`` in UTC: ``2006-01-02 15:04:05.999999999 +0000 UTC``."""
    if math.isnan(v) or math.isinf(v):
        return go_g4(v)
    ns = int(v * 1e9)
    t = datetime.fromtimestamp(ns // 1_000_000_000, tz=UTC)
    frac = ns % 1_000_000_000
    fs = f".{frac:09d}".rstrip("0") if frac else ""
    return t.strftime("%Y-%m-%d %H:%M:%S") + fs + " +0000 UTC"
