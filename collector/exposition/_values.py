"""Number and name syntax shared by both formats, strict where Python's builtins are lax.

``float()`` accepts ``1_0``, surrounding whitespace, non-ASCII digits and ``+nan``; ``int()`` accepts
underscores and whitespace. The reference parsers (Go ``strconv``, the OpenMetrics ABNF) accept none of them,
so every number goes through :func:`parse_float` / :func:`parse_int` here.
"""

from __future__ import annotations

import math
import re

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "LABEL_NAME_RE",
    "METRIC_NAME_RE",
    "go_quote",
    "parse_float",
    "parse_int",
    "values_look_plain",
]

INT64_MAX = (1 << 63) - 1
INT64_MIN = -(1 << 63)
METRIC_NAME_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_INF = math.inf


def parse_float(s: str) -> float | None:
    """Go ``strconv.ParseFloat`` (minus hex floats, as Prometheus' text parser), or None when invalid."""
    if not s or not s.isascii() or not s.isprintable() or "_" in s or "p" in s or "P" in s or " " in s:
        return None
    try:
        v = float(s)
    except ValueError:
        return None
    if math.isnan(v) and s[0] in "+-":  # Go accepts NaN only unsigned
        return None
    if math.isinf(v) and "n" not in s and "N" not in s:  # 1e400: out of range in Go
        return None
    return v


def parse_int(s: str) -> int | None:
    """Go ``strconv.ParseInt(s, 10, 64)``, or None when invalid."""
    digits = s[1:] if s[:1] in ("+", "-") else s
    if not digits or not digits.isascii() or not digits.isdigit():
        return None
    v = int(s)
    if v > INT64_MAX or v < INT64_MIN:
        return None
    return v


def values_look_plain(joined: str) -> bool:
    """Cheap whole-chunk pre-check for the fast path: no character ``float()`` would tolerate but Go rejects.

    ``joined`` is the chunk's value tokens joined by single spaces; anything it lets through was accepted by
    ``float()`` too, so only ``_``, ``p``, whitespace, non-ASCII and signed NaN need excluding here.
    """
    return (
        joined.isascii()
        and joined.isprintable()
        and "_" not in joined
        and "p" not in joined
        and "P" not in joined
        and "+n" not in joined
        and "-n" not in joined
        and "+N" not in joined
        and "-N" not in joined
    )


def go_quote(s: str) -> str:
    """Go's ``%q`` for a string decoded with ``surrogateescape`` (invalid bytes print as ``\\xNN``)."""
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif 0xDC80 <= o <= 0xDCFF:
            out.append(f"\\x{o - 0xDC00:02x}")
        elif o < 0x20 or o == 0x7F:
            out.append(f"\\x{o:02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)
