"""Metric and label names under Prometheus 3's UTF-8 rules: validity, and the escaping schemes that carry a
UTF-8 name to a peer that only knows the legacy character set (``escaping=`` in an ``Accept`` or
``Content-Type`` header, the ``U__`` label names of the HTTP API).

Mirrors prometheus/common ``model/metric.go`` (``EscapeName``, ``UnescapeName``, ``IsValidLegacyMetricName``):

* ``allow-utf-8``: names travel as they are (quoted in the text formats where not legacy-valid);
* ``underscores``: every character outside the legacy set becomes ``_`` (``my.metric`` -> ``my_metric``);
* ``dots``: ``.`` -> ``_dot_``, ``_`` -> ``__``, any other character outside the set -> ``__``;
* ``values``: a legacy-valid name is unchanged; any other becomes ``U__`` followed by the name with ``_``
  doubled and every character outside the set written ``_<hex code point>_`` (``my.metric`` ->
  ``U__my_2e_metric``). Only this one can be undone (:func:`unescape_name`).

Pure functions, thread-safe.
"""

from __future__ import annotations

import re
from typing import Literal, get_args

__all__ = [
    "ESCAPING_SCHEMES",
    "EscapingScheme",
    "escape_name",
    "escaping_from_header",
    "is_legacy_label_name",
    "is_legacy_metric_name",
    "unescape_name",
]

EscapingScheme = Literal["allow-utf-8", "underscores", "dots", "values"]
ESCAPING_SCHEMES: tuple[str, ...] = get_args(EscapingScheme)

_LEGACY_METRIC = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LEGACY_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_ESCAPING_PARAM = re.compile(r";\s*escaping\s*=\s*([A-Za-z0-9_-]+)")
_VALUES_PREFIX = "U__"
_SCHEMES: dict[str, EscapingScheme] = {
    "allow-utf-8": "allow-utf-8",
    "underscores": "underscores",
    "dots": "dots",
    "values": "values",
}


def is_legacy_metric_name(name: str) -> bool:
    return _LEGACY_METRIC.fullmatch(name) is not None


def is_legacy_label_name(name: str) -> bool:
    return _LEGACY_LABEL.fullmatch(name) is not None


def _legacy_rune(c: str, i: int) -> bool:
    return ("a" <= c <= "z") or ("A" <= c <= "Z") or c in "_:" or ("0" <= c <= "9" and i > 0)


def escape_name(name: str, scheme: EscapingScheme) -> str:
    """``name`` as ``scheme`` writes it (see the module doc); an empty name stays empty."""
    if not name or scheme == "allow-utf-8":
        return name
    if scheme == "underscores":
        if is_legacy_metric_name(name):
            return name
        return "".join(c if _legacy_rune(c, i) else "_" for i, c in enumerate(name))
    if scheme == "dots":
        out = []
        for i, c in enumerate(name):
            if c == "_":
                out.append("__")
            elif c == ".":
                out.append("_dot_")
            else:
                out.append(c if _legacy_rune(c, i) else "__")
        return "".join(out)
    if is_legacy_metric_name(name):
        return name
    parts = [_VALUES_PREFIX]
    for i, c in enumerate(name):
        if c == "_":
            parts.append("__")
        elif _legacy_rune(c, i):
            parts.append(c)
        elif "\ud800" <= c <= "\udfff":  # not valid UTF-8 (a lone surrogate)
            parts.append("_FFFD_")
        else:
            parts.append(f"_{ord(c):x}_")
    return "".join(parts)


def unescape_name(name: str) -> str:
    """The name a ``values``-escaped ``name`` stands for (``U__my_2e_metric`` -> ``my.metric``); any other
    text, or one that is not a valid escape, is returned as it is (as Prometheus does)."""
    if not name.startswith(_VALUES_PREFIX):
        return name
    body = name[len(_VALUES_PREFIX) :]
    out: list[str] = []
    i = 0
    while i < len(body):
        c = body[i]
        if c != "_":
            out.append(c)
            i += 1
            continue
        if body[i + 1 : i + 2] == "_":
            out.append("_")
            i += 2
            continue
        end = body.find("_", i + 1)
        code = body[i + 1 : end] if end > 0 else ""
        if not code or not all(ch in "0123456789abcdefABCDEF" for ch in code) or len(code) > 6:
            return name
        point = int(code, 16)
        if point > 0x10FFFF or 0xD800 <= point <= 0xDFFF:
            return name
        out.append(chr(point))
        i = end + 1
    return "".join(out)


def escaping_from_header(value: str | None) -> EscapingScheme | None:
    """The ``escaping=`` parameter of an ``Accept`` or ``Content-Type`` header value (the first one given),
    or None when there is none or it names no known scheme."""
    if not value:
        return None
    m = _ESCAPING_PARAM.search(value)
    if m is None:
        return None
    return _SCHEMES.get(m.group(1))
