"""OTLP metric and attribute names as Prometheus 3 maps them (its default translation strategy,
``UnderscoreEscapingWithSuffixes``; the rules of github.com/prometheus/otlptranslator, Apache License 2.0).

* metric name: split into tokens at every character outside ``[a-zA-Z0-9:]`` (so runs of ``_`` collapse), add
  the unit's suffixes (``s`` -> ``seconds``, ``By`` -> ``bytes``, ``1/s`` -> ``per_second``; a unit in ``{}``
  adds nothing; a token already present is not repeated), ``total`` last for monotonic sums, ``ratio`` last
  for
  gauges of unit ``1``; joined with ``_``, prefixed with ``_`` when it would start with a digit;
* label name: every character outside ``[a-zA-Z0-9_]`` becomes ``_``; a leading digit gets ``key_``, a single
  leading ``_`` gets ``key`` (``__`` is kept).
"""

from __future__ import annotations

import re
from typing import Literal

__all__ = ["MetricKind", "label_name", "metric_name"]

MetricKind = Literal["gauge", "counter", "updowncounter", "histogram", "summary"]

_UNITS = {
    "d": "days", "h": "hours", "min": "minutes", "s": "seconds", "ms": "milliseconds", "us": "microseconds",
    "ns": "nanoseconds", "By": "bytes", "KiBy": "kibibytes", "MiBy": "mebibytes", "GiBy": "gibibytes",
    "TiBy": "tibibytes", "KBy": "kilobytes", "MBy": "megabytes", "GBy": "gigabytes", "TBy": "terabytes",
    "m": "meters", "V": "volts", "A": "amperes", "J": "joules", "W": "watts", "g": "grams",
    "Cel": "celsius", "Hz": "hertz", "1": "", "%": "percent",
}  # fmt: skip
_PER_UNITS = {"s": "second", "m": "minute", "h": "hour", "d": "day", "w": "week", "mo": "month", "y": "year"}
_NOT_METRIC_CHAR = re.compile(r"[^a-zA-Z0-9:]")
_NOT_LABEL_CHAR = re.compile(r"[^a-zA-Z0-9_]")
_UNDERSCORES = re.compile(r"__+")


def _clean_unit(unit: str) -> str:
    return _UNDERSCORES.sub("_", _NOT_METRIC_CHAR.sub("_", unit)).removeprefix("_")


def _unit_suffixes(unit: str) -> tuple[str, str]:
    main_otel, sep, per_otel = unit.partition("/")
    main = main_otel.strip()
    main_suffix = _UNITS.get(main, main) if main and not any(c in main for c in "{}") else ""
    per_suffix = ""
    if sep and per_otel:
        per = per_otel.strip()
        if per and not any(c in per for c in "{}"):
            per_suffix = _PER_UNITS.get(per, per)
        if per_suffix:
            per_suffix = "per_" + per_suffix
    return _clean_unit(main_suffix), _clean_unit(per_suffix)


def _add_unit_tokens(tokens: list[str], main: str, per: str) -> list[str]:
    if main in tokens:
        main = ""
    if per == "per_":
        per = ""
    else:
        per = per.removesuffix("_")
        if per in tokens:
            per = ""
    if per:
        main = main.removesuffix("_")
    return tokens + [t for t in (main, per) if t]


def metric_name(name: str, unit: str, kind: MetricKind) -> str:
    """The Prometheus name of an OTLP metric (``""`` when nothing valid is left of it)."""
    tokens = [t for t in _NOT_METRIC_CHAR.split(name) if t]
    main, per = _unit_suffixes(unit)
    tokens = _add_unit_tokens(tokens, main, per)
    if kind == "counter":
        tokens = [t for t in tokens if t != "total"] + ["total"]
    if unit == "1" and kind == "gauge":
        tokens = [t for t in tokens if t != "ratio"] + ["ratio"]
    out = "_".join(tokens)
    if out and out[0].isdigit():
        out = "_" + out
    return "" if not out.strip("_") else out


def label_name(key: str) -> str:
    """The Prometheus label name of an OTLP attribute key."""
    if not key:
        return key
    out = _NOT_LABEL_CHAR.sub("_", key)
    if out[0].isdigit():
        return "key_" + out
    if out.startswith("_") and not out.startswith("__"):
        return "key" + out
    return out
