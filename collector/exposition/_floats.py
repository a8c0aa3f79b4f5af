"""Prometheus 3's normalisation of ``le`` and ``quantile`` label values at scrape.

Prometheus 3's text and OpenMetrics parsers (``model/textparse``, ``normalizeFloatsInLabelValues``) rewrite
the ``le`` label of a sample while the type of the last ``# TYPE`` line is ``histogram`` and the ``quantile``
label while it is ``summary``, when the value parses as a float: it becomes
``labels.FormatOpenMetricsFloat(value)`` (``1`` -> ``1.0``, ``1e-05`` stays, ``1000000`` -> ``1e+06``).
Values that are not floats stay as written; ``gaugehistogram`` buckets, untyped ``foo_bucket{le="1"}`` lines
and pushed samples (remote write) are not rewritten. The type is the *last TYPE line seen*, whichever family
it named (the Go parsers keep it until the next TYPE line): a sample of another family after a histogram's
TYPE line is normalised too. Prometheus 2.42 normalises nothing.

Here the rewrite happens on the series key the parser emits (:class:`NormalisedKeys`): the same key still
always means the same labels, so the scrape cache keyed by series text needs no change.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from collector.exposition._textscan import scan_series
from collector.exposition._values import LABEL_NAME_RE, METRIC_NAME_RE, parse_float

__all__ = [
    "FloatLabelKeys",
    "NormalisedKeys",
    "format_openmetrics_float",
    "go_parse_float",
    "normalise_float_text",
]

_HEX_FLOAT = re.compile(r"[+-]?0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)[pP][+-]?[0-9]+")


def format_openmetrics_float(f: float) -> str:
    """Go ``labels.FormatOpenMetricsFloat``: ``strconv.FormatFloat(f, 'g', -1, 64)`` (the shortest digits
    that read back as ``f``; the exponent form when the decimal exponent is below -4 or at least 6, Go's
    ``eprec`` for the shortest precision) with ``.0`` appended when the text has neither ``.`` nor ``e``."""
    if f == 1:
        return "1.0"
    if f == 0:
        return "0.0"
    if f == -1:
        return "-1.0"
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    text = _go_shortest_g(f)
    return text if "." in text or "e" in text else text + ".0"


def _go_shortest_g(f: float) -> str:
    """``strconv.FormatFloat(f, 'g', -1, 64)`` of a finite non-zero ``f``. Python's ``repr`` yields the
    same shortest round-trip digits; only the layout (Go's ``formatDigits``) differs."""
    text = repr(f)
    sign = ""
    if text[0] == "-":
        sign, text = "-", text[1:]
    mantissa, _, exp_text = text.partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = whole + frac
    point = len(whole) + (int(exp_text) if exp_text else 0)  # value = 0.<digits> * 10**point
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    nd = len(digits)
    exp = point - 1
    if exp < -4 or exp >= 6:  # Go's eprec for the shortest precision
        body = digits[0] + ("." + digits[1:] if nd > 1 else "")
        return f"{sign}{body}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= nd:
        return f"{sign}{digits}{'0' * (point - nd)}"
    return f"{sign}{digits[:point]}.{digits[point:]}"


def _underscores_ok(text: str) -> bool:
    """Go ``strconv.underscoreOK``: each ``_`` sits between digits (or after a base prefix)."""
    body = text[1:] if text[:1] in ("+", "-") else text
    saw, i = "^", 0
    hexa = len(body) >= 2 and body[0] == "0" and body[1] in "bBoOxX"
    if hexa:
        saw, i, hexa = "0", 2, body[1] in "xX"
    for ch in body[i:]:
        if ch.isdigit() or (hexa and ch in "abcdefABCDEF"):
            saw = "0"
        elif ch == "_":
            if saw != "0":
                return False
            saw = "_"
        elif saw == "_":
            return False
        else:
            saw = "!"
    return saw != "_"


def go_parse_float(text: str) -> float | None:
    """Go ``strconv.ParseFloat(text, 64)``, or None where it fails (out of range included): decimal and
    hex floats, ``_`` between digits, the ``Inf``/``Infinity``/``NaN`` spellings."""
    if "_" in text:
        if not text.isascii() or not _underscores_ok(text):
            return None
        text = text.replace("_", "")
    f = parse_float(text)
    if f is None and _HEX_FLOAT.fullmatch(text) is not None:
        try:
            f = float.fromhex(text)
        except (ValueError, OverflowError):
            return None
        if math.isinf(f):
            return None
    return f


def normalise_float_text(value: str) -> str:
    """``value`` as Prometheus 3 stores an ``le``/``quantile`` value: re-formatted when it parses as a Go
    float, else unchanged."""
    f = go_parse_float(value)
    return value if f is None else format_openmetrics_float(f)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _render_key(name: str, labels: list[tuple[str, str]]) -> str:
    """A text-format series specification that scans back to exactly ``name`` and ``labels``."""
    pairs = [f"{n if LABEL_NAME_RE.fullmatch(n) else _quote(n)}={_quote(v)}" for n, v in labels]
    if METRIC_NAME_RE.fullmatch(name) is not None:
        return name + "{" + ",".join(pairs) + "}"
    return "{" + ",".join([_quote(name), *pairs]) + "}"


def normalised_key(key: str, label: str) -> str:
    """``key`` (a series key the parser emits) with the value of ``label`` normalised; ``key`` itself when
    that changes nothing."""
    spec = scan_series(key, 0, utf8_names=True, check_utf8=False)
    changed = False
    labels: list[tuple[str, str]] = []
    for name, value in spec.labels:
        normal = normalise_float_text(value) if name == label else value
        changed = changed or normal != value
        labels.append((name, normal))
    return _render_key(spec.name, labels) if changed else key


class NormalisedKeys:
    """Raw series key -> emitted key with ``label`` normalised, memoised (emptied when ``max_keys`` full).
    Shared by the parses of one parser; single-key get/set only, so concurrent parses are safe."""

    __slots__ = ("keys", "label", "max_keys")

    def __init__(self, label: str, max_keys: int) -> None:
        self.label = label
        self.max_keys = max_keys
        self.keys: dict[str, str] = {}

    def __call__(self, key: str) -> str:
        out = self.keys.get(key)
        if out is None:
            out = normalised_key(key, self.label)
            if len(self.keys) >= self.max_keys:
                self.keys.clear()
            self.keys[key] = out
        return out

    def all(self, keys: Sequence[str]) -> list[str]:
        """Every key of ``keys`` mapped (C-level lookups when all are known)."""
        known = self.keys
        try:
            return list(map(known.__getitem__, keys))
        except KeyError:
            return [known.get(k) or self(k) for k in keys]


class FloatLabelKeys:
    """The two key maps of one parser: ``le`` under a histogram TYPE, ``quantile`` under a summary TYPE."""

    __slots__ = ("le", "quantile")

    def __init__(self, max_keys: int) -> None:
        self.le = NormalisedKeys("le", max_keys)
        self.quantile = NormalisedKeys("quantile", max_keys)

    def for_type(self, kind: str) -> NormalisedKeys | None:
        """The map the samples after a ``# TYPE <name> <kind>`` line go through, or None."""
        if kind == "histogram":
            return self.le
        if kind == "summary":
            return self.quantile
        return None
